//! The guestbook page and its assets over a real listener on 127.0.0.1:0: content types, the
//! page's own CSP (and only there), caching, and the embedded HTML's freedom from inline code.

mod common;

use common::{SECURITY_HEADERS, client, config, start};
use html5gum::{DefaultEmitter, Token, Tokenizer};
use reqwest::StatusCode;

/// The page's policy, written out here rather than read from the crate, so that a change to it
/// is a change to this test too (IFACE-16).
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Everything in `html` that a CSP without `'unsafe-inline'` would block or that smuggles code
/// in: `<script>` without `src` or with a body, `<style>`, `style=` and `on*=` attributes,
/// `javascript:` URLs. Parsed by a WHATWG tokenizer (script bodies are raw text, as in a browser).
fn inline_code(html: &str) -> Vec<String> {
    let mut emitter = DefaultEmitter::default();
    emitter.naively_switch_states(true);
    let mut found = Vec::new();
    let mut in_script = false;
    for token in Tokenizer::new_with_emitter(html, emitter).flatten() {
        match token {
            Token::StartTag(tag) => {
                let name = String::from_utf8_lossy(&tag.name).to_ascii_lowercase();
                in_script = name == "script";
                if name == "style" {
                    found.push("<style> element".to_owned());
                }
                if in_script && !tag.attributes.keys().any(|k| k.as_slice() == b"src") {
                    found.push("<script> without src".to_owned());
                }
                for (key, value) in &tag.attributes {
                    let key = String::from_utf8_lossy(key).to_ascii_lowercase();
                    let value = String::from_utf8_lossy(&value.value).trim().to_ascii_lowercase();
                    if key == "style" || key.starts_with("on") {
                        found.push(format!("{key}= attribute on <{name}>"));
                    }
                    if value.starts_with("javascript:") {
                        found.push(format!("javascript: URL in {key}= on <{name}>"));
                    }
                }
            }
            Token::EndTag(_) => in_script = false,
            Token::String(text) if in_script && !text.value.iter().all(u8::is_ascii_whitespace) => {
                found.push("<script> with a body".to_owned());
            }
            _ => {}
        }
    }
    found
}

/// The `/assets/...` URLs the page loads (`src=` and `href=`).
fn asset_urls(html: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for token in Tokenizer::new(html).flatten() {
        if let Token::StartTag(tag) = token {
            for (key, value) in &tag.attributes {
                let value = String::from_utf8_lossy(&value.value).into_owned();
                if matches!(key.as_slice(), b"src" | b"href") && value.starts_with("/assets/") {
                    urls.push(value);
                }
            }
        }
    }
    urls
}

#[test]
fn the_embedded_page_has_no_inline_script_or_style() {
    let html = std::str::from_utf8(app::web::PAGE.body).unwrap();
    assert_eq!(inline_code(html), Vec::<String>::new());
}

#[test]
fn the_inline_code_check_catches_each_kind() {
    for (html, expect) in [
        ("<script>alert(1)</script>", "<script> without src"),
        ("<SCRIPT src=/a.js>x()</SCRIPT>", "<script> with a body"),
        ("<style>p{}</style>", "<style> element"),
        ("<p STYLE='color:red'>", "style= attribute on <p>"),
        ("<img src=/x onerror=alert(1)>", "onerror= attribute on <img>"),
        ("<body onload=\"x()\">", "onload= attribute on <body>"),
        ("<a href=' javascript:alert(1)'>", "javascript: URL in href= on <a>"),
    ] {
        assert!(inline_code(html).iter().any(|f| f == expect), "{html}: {:?}", inline_code(html));
    }
    // Script bodies are raw text: markup inside a (src) script is not a tag.
    assert_eq!(inline_code("<script src=/a.js></script><p class=x>ok</p>"), Vec::<String>::new());
}

#[tokio::test]
async fn page_and_assets_are_served_with_their_types_the_page_csp_and_an_etag() {
    let srv = start(config(&[])).await;
    let c = client();
    let html = std::str::from_utf8(app::web::PAGE.body).unwrap();
    let mut urls = vec!["/guestbook".to_owned()];
    urls.extend(asset_urls(html));
    assert_eq!(urls.len(), 4, "the page loads its stylesheet, script and icon: {urls:?}");

    for url in &urls {
        let res = c.get(srv.url(url)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{url}");
        let h = res.headers().clone();
        let content_type = h["content-type"].to_str().unwrap().to_owned();
        let expected = match url.rsplit('.').next().unwrap() {
            "css" => "text/css; charset=utf-8",
            "js" => "text/javascript; charset=utf-8",
            "svg" => "image/svg+xml",
            _ => "text/html; charset=utf-8",
        };
        assert_eq!(content_type, expected, "{url}");
        assert_eq!(h["content-security-policy"], PAGE_CSP, "{url}");
        for (name, value) in SECURITY_HEADERS.iter().filter(|(n, _)| *n != "content-security-policy") {
            assert_eq!(h.get(*name).map(|v| v.to_str().unwrap()), Some(*value), "{name} on {url}");
        }
        assert_eq!(h["cache-control"], "no-cache", "{url}");
        let etag = h["etag"].to_str().unwrap().to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 18, "{url}: {etag}");
        let body = res.bytes().await.unwrap();
        assert!(!body.is_empty(), "{url}");

        // Revalidation: the same tag answers 304 with no body; another tag gets the file again.
        let again = c.get(srv.url(url)).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{url}");
        assert_eq!(again.headers()["etag"], etag.as_str());
        assert!(again.bytes().await.unwrap().is_empty());
        let other = c.get(srv.url(url)).header("if-none-match", "\"0000000000000000\"").send().await.unwrap();
        assert_eq!(other.status(), StatusCode::OK, "{url}");
        assert_eq!(other.bytes().await.unwrap(), body);
    }
}

#[tokio::test]
async fn every_other_route_keeps_the_api_csp() {
    let srv = start(config(&[])).await;
    let c = client();
    for (path, status) in [
        ("/", 200),
        ("/health", 200),
        ("/openapi.json", 200),
        ("/api/messages", 200),
        ("/api/messages/999", 404),
        ("/api/messages?limit=0", 400),
        ("/nope", 404),
        ("/assets/nope.js", 404),
        ("/assets/", 404),
        ("/guestbook/x", 404),
        ("/panic", 500),
    ] {
        let res = c.get(srv.url(path)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{path}");
        assert_eq!(res.headers()["content-security-policy"], API_CSP, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
    }
    let res =
        c.post(srv.url("/api/messages")).json(&serde_json::json!({"author": "a", "text": "b"})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["content-security-policy"], API_CSP, "the API's 201");
    let res = c.post(srv.url("/guestbook")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["content-security-policy"], API_CSP, "an error from a page route is the API's JSON");
}

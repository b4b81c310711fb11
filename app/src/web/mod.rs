//! The guestbook page: `GET /guestbook` and its assets under `/assets/...`, embedded in the binary
//! (no build step, nothing read from disk at run time).
//!
//! These are the only responses a browser renders as a document, so they carry their own
//! Content-Security-Policy, [`PAGE_CSP`]: scripts, styles, images and `fetch` from this origin
//! only, no inline script or style, no `eval`, no plugins, no framing. The security-header
//! middleware keeps a CSP a handler set and gives every other response the API's
//! `default-src 'none'`.
//!
//! Caching: the assets have fixed names, so they are served with `Cache-Control: no-cache` and a
//! strong `ETag` (a hash of the embedded bytes, computed at compile time). A browser keeps its
//! copy and revalidates it on each load, getting `304 Not Modified` with no body until a new
//! binary serves different bytes: never a stale script after a deploy, and no second download.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

/// The page's policy (IFACE-16): same-origin scripts, styles, images and connections; no inline
/// code, no `eval`, no `<base>`, forms post only here, never framed.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The page's path.
pub const PAGE_PATH: &str = "/guestbook";

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// The file name under `/assets/` (empty for the page itself).
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// 64-bit FNV-1a of `body`: the strong ETag.
    pub hash: u64,
}

const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

macro_rules! asset {
    ($name:literal, $file:literal, $content_type:literal) => {{
        const BODY: &[u8] = include_bytes!(concat!("assets/", $file));
        Asset { name: $name, content_type: $content_type, body: BODY, hash: fnv1a(BODY) }
    }};
}

/// The page's HTML.
pub static PAGE: Asset = asset!("", "guestbook.html", "text/html; charset=utf-8");

/// Everything under `/assets/`.
pub static ASSETS: [Asset; 3] = [
    asset!("guestbook.css", "guestbook.css", "text/css; charset=utf-8"),
    asset!("guestbook.js", "guestbook.js", "text/javascript; charset=utf-8"),
    asset!("favicon.svg", "favicon.svg", "image/svg+xml"),
];

/// The page and its assets. Stateless; typed for merging with the other resource routers.
pub fn router() -> Router<AppState> {
    Router::new().route(PAGE_PATH, get(page)).route("/assets/{name}", get(asset))
}

async fn page(headers: HeaderMap) -> Response {
    serve(&PAGE, &headers)
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(asset) => serve(asset, &headers),
        // The error middleware gives it the JSON body and the API's headers.
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn serve(asset: &'static Asset, request: &HeaderMap) -> Response {
    let etag = format!("\"{:016x}\"", asset.hash);
    let status = if if_none_match(request, &etag) { StatusCode::NOT_MODIFIED } else { StatusCode::OK };
    let mut res = if status == StatusCode::OK {
        let mut res = asset.body.into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        res
    } else {
        status.into_response()
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    res
}

/// Whether the request's `If-None-Match` names `etag` (or is `*`). Weak comparison, as RFC 9110
/// asks for `If-None-Match`: a `W/` prefix on the caller's tag is ignored.
fn if_none_match(request: &HeaderMap, etag: &str) -> bool {
    request.get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |tag| {
            let tag = tag.trim();
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn if_none_match_matches_listed_weak_and_star_tags_only() {
        let tag = "\"00000000000000ab\"";
        assert!(if_none_match(&with(&[tag]), tag));
        assert!(if_none_match(&with(&["\"x\", W/\"00000000000000ab\""]), tag));
        assert!(if_none_match(&with(&["\"x\"", tag]), tag));
        assert!(if_none_match(&with(&["*"]), tag));
        assert!(!if_none_match(&with(&[]), tag));
        assert!(!if_none_match(&with(&["\"00000000000000ac\""]), tag));
        assert!(!if_none_match(&with(&["00000000000000ab"]), tag), "an unquoted tag is not the tag");
    }

    #[test]
    fn hashes_differ_per_asset_and_follow_the_bytes() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c, "FNV-1a 64 reference value");
        let mut hashes: Vec<u64> = ASSETS.iter().map(|a| a.hash).collect();
        hashes.push(PAGE.hash);
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), ASSETS.len() + 1);
    }
}

//! `app healthcheck`: a tiny HTTP client for images with no shell and no curl.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Request, Uri, header};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// GET `url`; Ok on 200 within `timeout`, otherwise the reason.
pub async fn check(url: &str, timeout: Duration) -> Result<(), String> {
    let uri: Uri = url.parse().map_err(|e| format!("invalid URL '{url}': {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("invalid URL '{url}': only http:// is supported"));
    }
    let host = uri.host().ok_or_else(|| format!("invalid URL '{url}': no host"))?.trim_matches(['[', ']']).to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    let path = uri.path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into());

    let attempt = async {
        let stream = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with {authority} failed: {e}"))?;
        tokio::spawn(conn);
        let req = Request::get(path)
            .header(header::HOST, &authority)
            .header(header::USER_AGENT, "app-healthcheck")
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let res = sender.send_request(req).await.map_err(|e| format!("request to {url} failed: {e}"))?;
        if res.status().is_success() && res.status().as_u16() == 200 {
            Ok(())
        } else {
            Err(format!("{url} answered {}", res.status()))
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| format!("{url} did not answer within {}s", timeout.as_secs()))?
}

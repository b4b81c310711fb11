//! The service's behaviour over a real TCP listener on 127.0.0.1:0.

mod common;

use std::time::Duration;

use common::{SECURITY_HEADERS, client, config, start, start_with_clock};
use governor::clock::FakeRelativeClock;
use reqwest::StatusCode;
use serde_json::Value;

async fn json(res: reqwest::Response) -> Value {
    res.json().await.expect("JSON body")
}

fn assert_error_shape(body: &Value, code: &str, request_id: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(body["error"]["request_id"], request_id, "{body}");
}

#[tokio::test]
async fn endpoints_answer_with_json() {
    let srv = start(config(&[])).await;
    let c = client();
    let res = c.get(srv.url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(json(res).await["message"].as_str().is_some());

    let health = json(c.get(srv.url("/health")).send().await.unwrap()).await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], "9.9.9-test");
    assert!(health["uptime_seconds"].is_u64());

    let ready = c.get(srv.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    let doc = json(c.get(srv.url("/openapi.json")).send().await.unwrap()).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/", "/health", "/ready", "/openapi.json"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} missing from OpenAPI");
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}

#[tokio::test]
async fn security_headers_and_request_id_on_2xx_4xx_and_5xx() {
    let srv = start(config(&[])).await;
    let c = client();
    for (path, status) in [("/", 200), ("/health", 200), ("/nope", 404), ("/panic", 500)] {
        let res = c.get(srv.url(path)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{path}");
        for (name, value) in SECURITY_HEADERS {
            assert_eq!(res.headers().get(name).map(|v| v.to_str().unwrap()), Some(value), "{name} on {path}");
        }
        assert!(res.headers().get("server").is_none(), "server header leaks on {path}");
        assert!(res.headers().get("x-powered-by").is_none());
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
        let id = res.headers().get("x-request-id").expect("request id echoed").to_str().unwrap().to_owned();
        assert_eq!(id.len(), 36, "generated ids are UUIDs: {id}");
    }
}

#[tokio::test]
async fn unsafe_request_ids_are_replaced_by_generated_ones() {
    let srv = start(config(&[])).await;
    let c = client();
    let long = "a".repeat(10 * 1024);
    for sent in [long.as_str(), "a\tb", "has space", "quote\"", "../../etc/passwd", &"b".repeat(65)] {
        let res = c.get(srv.url("/missing")).header("x-request-id", sent).send().await.unwrap();
        let echoed = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(echoed, sent);
        assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "a generated id replaces {sent:.20}: {echoed}");
        assert_eq!(json(res).await["error"]["request_id"], echoed.as_str());
    }
    let kept = "Abc-123_x.y".to_owned() + &"z".repeat(53);
    assert_eq!(kept.len(), 64);
    let res = c.get(srv.url("/")).header("x-request-id", &kept).send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], kept.as_str(), "a safe id of 64 characters is kept");
}

#[tokio::test]
async fn incoming_request_id_is_propagated_into_response_and_error_body() {
    let srv = start(config(&[])).await;
    let res = client().get(srv.url("/missing")).header("x-request-id", "trace-abc-123").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-abc-123");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_error_shape(&json(res).await, "not_found", "trace-abc-123");
}

#[tokio::test]
async fn wrong_method_is_405_with_the_error_shape() {
    let srv = start(config(&[])).await;
    let res = client().delete(srv.url("/health")).header("x-request-id", "r1").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_error_shape(&json(res).await, "method_not_allowed", "r1");
}

#[tokio::test]
async fn oversized_body_is_413_with_the_error_shape() {
    let srv = start(config(&["--max-body-bytes", "1024"])).await;
    let res = client().post(srv.url("/")).header("x-request-id", "big").body(vec![b'x'; 4096]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_error_shape(&json(res).await, "payload_too_large", "big");
}

#[tokio::test]
async fn slow_handler_times_out_with_504() {
    let srv = start(config(&["--request-timeout-secs", "1"])).await;
    let res = client().get(srv.url("/slow")).header("x-request-id", "slow").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_error_shape(&json(res).await, "timeout", "slow");
}

#[tokio::test]
async fn panic_becomes_500_and_the_server_keeps_serving() {
    let srv = start(config(&[])).await;
    let c = client();
    let res = c.get(srv.url("/panic")).header("x-request-id", "p").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_error_shape(&json(res).await, "internal", "p");
    assert_eq!(c.get(srv.url("/")).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn cors_allowed_denied_and_preflight() {
    let srv = start(config(&["--allowed-origins", "https://good.example,https://also.example"])).await;
    let c = client();
    let ok = c.get(srv.url("/")).header("origin", "https://also.example").send().await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://also.example");
    assert!(ok.headers()["access-control-expose-headers"].to_str().unwrap().contains("x-request-id"));

    let denied = c.get(srv.url("/")).header("origin", "https://evil.example").send().await.unwrap();
    assert_eq!(denied.status(), StatusCode::OK);
    assert!(denied.headers().get("access-control-allow-origin").is_none());

    let preflight = c
        .request(reqwest::Method::OPTIONS, srv.url("/"))
        .header("origin", "https://good.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "x-request-id")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::OK);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "https://good.example");
    assert!(preflight.headers()["access-control-allow-methods"].to_str().unwrap().contains("GET"));
    assert!(preflight.headers().get("content-security-policy").is_some());

    let bad_preflight = c
        .request(reqwest::Method::OPTIONS, srv.url("/"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(bad_preflight.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn origins_match_without_regard_to_case() {
    let srv = start(config(&["--allowed-origins", "HTTPS://Good.Example:443"])).await;
    let c = client();
    for sent in ["https://good.example", "https://GOOD.example"] {
        let res = c.get(srv.url("/")).header("origin", sent).send().await.unwrap();
        assert_eq!(res.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap()), Some(sent));
    }
    let other = c.get(srv.url("/")).header("origin", "https://good.example.evil").send().await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn without_allowed_origins_there_are_no_cors_headers() {
    let srv = start(config(&[])).await;
    let res = client().get(srv.url("/")).header("origin", "https://good.example").send().await.unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn rate_limit_429_after_burst_then_recovers_and_probes_are_never_limited() {
    // 4 requests per second sustained (one token every 250 ms), burst of 3; time stands still
    // until the test moves the limiter's clock.
    let clock = FakeRelativeClock::default();
    let srv = start_with_clock(config(&["--rate-limit-rps", "4", "--rate-limit-burst", "3"]), clock.clone()).await;
    let c = client();
    for i in 0..3 {
        let res = c.get(srv.url("/")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "request {i} within burst");
        assert!(res.headers().get("x-ratelimit-limit").is_none(), "no rate-limit headers on a success");
    }
    let limited = c.get(srv.url("/")).header("x-request-id", "rl").send().await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    // The wait is 250 ms: rounded up to whole seconds, never down to 0.
    assert_eq!(limited.headers()["retry-after"], "1");
    // Retry-After is the one header a throttled client needs; successes carry no rate-limit headers.
    assert!(limited.headers().get("x-ratelimit-remaining").is_none());
    assert!(limited.headers().get("content-security-policy").is_some());
    assert_eq!(limited.headers()["cache-control"], "no-store");
    assert_error_shape(&json(limited).await, "rate_limited", "rl");

    // The load balancer's probes still pass while the client is throttled.
    for _ in 0..10 {
        assert_eq!(c.get(srv.url("/health")).send().await.unwrap().status(), StatusCode::OK);
        assert_eq!(c.get(srv.url("/ready")).send().await.unwrap().status(), StatusCode::OK);
    }

    clock.advance(Duration::from_millis(249));
    assert_eq!(c.get(srv.url("/")).send().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS, "1 ms early");
    clock.advance(Duration::from_millis(1));
    assert_eq!(c.get(srv.url("/")).send().await.unwrap().status(), StatusCode::OK, "budget replenished");
}

#[tokio::test]
async fn writes_have_their_own_much_stricter_quota_and_reads_are_not_charged_for_it() {
    // Reads: 1000/s, burst 1000. Writes: 6 per minute (one every 10 s), burst 3.
    let args = [
        "--rate-limit-rps",
        "1000",
        "--rate-limit-burst",
        "1000",
        "--write-rate-limit-per-minute",
        "6",
        "--write-rate-limit-burst",
        "3",
    ];
    let clock = FakeRelativeClock::default();
    let srv = start_with_clock(config(&args), clock.clone()).await;
    let c = client();
    let post = || {
        c.post(srv.url("/api/messages"))
            .header("x-request-id", "w")
            .json(&serde_json::json!({"author": "flood", "text": "x"}))
            .send()
    };
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(post().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [201, 201, 201, 429, 429, 429, 429, 429], "exactly the write burst is accepted");
    let limited = post().await.unwrap();
    assert_eq!(limited.headers()["retry-after"], "10", "the next write is 10 s away");
    assert_error_shape(&json(limited).await, "rate_limited", "w");
    // Reading is untouched by the write quota (and was not charged by the writes' refusals).
    for _ in 0..20 {
        assert_eq!(c.get(srv.url("/api/messages")).send().await.unwrap().status(), StatusCode::OK);
    }
    clock.advance(Duration::from_millis(9_999));
    assert_eq!(post().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS, "1 ms early");
    clock.advance(Duration::from_millis(1));
    assert_eq!(post().await.unwrap().status(), StatusCode::CREATED, "one write per 10 s");
    assert_eq!(post().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    let stored: serde_json::Value = c.get(srv.url("/api/messages")).send().await.unwrap().json().await.unwrap();
    assert_eq!(stored["messages"].as_array().map(Vec::len), Some(4), "{stored}");
}

#[tokio::test]
async fn forged_leftmost_forwarded_for_does_not_escape_the_limiter() {
    let args = ["--rate-limit-rps", "1", "--rate-limit-burst", "2", "--trusted-proxy-hops", "1"];
    let srv = start_with_clock(config(&args), FakeRelativeClock::default()).await;
    let c = client();
    let get = |xff: String| c.get(srv.url("/")).header("x-forwarded-for", xff).send();
    // Client 203.0.113.10 (as the ALB appended it) forges a new leftmost address every time.
    let mut statuses = Vec::new();
    for i in 0..4 {
        statuses.push(get(format!("198.51.100.{i}, 203.0.113.10")).await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429, 429], "forged entries must not reset the budget");
    // A different real client has its own budget.
    assert_eq!(get("203.0.113.20".into()).await.unwrap().status(), StatusCode::OK);
    assert_eq!(get("6.6.6.6, 203.0.113.20".into()).await.unwrap().status(), StatusCode::OK);
    assert_eq!(get("203.0.113.20".into()).await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn graceful_drain_finishes_in_flight_requests_and_reports_not_ready() {
    let mut srv = start(config(&["--shutdown-drain-secs", "1", "--request-timeout-secs", "5"])).await;
    let c = client();
    let in_flight = tokio::spawn({
        let (c, url) = (c.clone(), srv.url("/slow"));
        async move { c.get(url).send().await.map(|r| r.status()) }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    srv.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // During the drain the listener still serves, and readiness says "go elsewhere".
    let ready = c.get(srv.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json(ready).await["error"]["code"], "shutting_down");
    assert_eq!(c.get(srv.url("/health")).send().await.unwrap().status(), StatusCode::OK);

    assert_eq!(in_flight.await.unwrap().unwrap(), StatusCode::OK, "in-flight request completed");
    let served = tokio::time::timeout(Duration::from_secs(5), &mut srv.handle).await.expect("server stopped");
    served.unwrap().unwrap();
    // After the drain the listener is closed.
    assert!(c.get(srv.url("/health")).send().await.is_err());
}

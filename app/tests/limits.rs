//! Connection limits over a real listener: slow clients are cut off, idle keep-alive
//! connections close after the keep-alive timeout (not the header timeout), the connection cap
//! holds, and what hyper itself answers to requests it cannot parse.
//!
//! Time is only ever a LOWER bound here (a timer cannot fire early); every upper bound is an
//! event that would happen without the limit (the slow client finishing its request, a read
//! timeout of 30 s), so a slow machine cannot fail these tests.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{config, start};

const GET: &[u8] = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Read one response head and its (Content-Length) body; None if the server closed first.
fn read_response(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(0) => return None,
            Ok(_) => buf.push(byte[0]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("no answer and no close within 30 s: {e}"),
        }
    }
    let head = String::from_utf8(buf).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse().unwrap()))
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some(head + &String::from_utf8_lossy(&body))
}

/// Whether the server has closed `s` (EOF or reset), waiting up to 30 s for it.
fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match s.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Err(e) => panic!("the connection stayed open for 30 s: {e}"),
    }
}

/// Send `request` one byte every `gap`, stopping when the server closes the connection.
/// Returns when it stopped, and whether the whole request went out.
fn trickle(addr: std::net::SocketAddr, request: &[u8], gap: Duration) -> (Duration, bool) {
    let mut s = connect(addr);
    s.set_nonblocking(true).unwrap();
    let started = Instant::now();
    for byte in request {
        if s.write_all(&[*byte]).is_err() {
            return (started.elapsed(), false);
        }
        std::thread::sleep(gap);
        let mut probe = [0u8; 1];
        match s.read(&mut probe) {
            Ok(0) => return (started.elapsed(), false),
            Err(e) if e.kind() != ErrorKind::WouldBlock => return (started.elapsed(), false),
            _ => {}
        }
    }
    (started.elapsed(), true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_its_headers_one_byte_a_second_is_cut_off() {
    let srv = start(config(&["--header-read-timeout-secs", "2"])).await;
    let addr = srv.addr;
    // 33 bytes at one a second would take 33 s; the limit is 2 s.
    let (after, sent_all) =
        tokio::task::spawn_blocking(move || trickle(addr, GET, Duration::from_secs(1))).await.unwrap();
    assert!(!sent_all, "the slow client was never cut off");
    assert!(after >= Duration::from_secs(2), "cut off before the limit: {after:?}");
    println!("slow client cut off after {after:?} (limit 2 s)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_slow_clients_do_not_stop_normal_ones_and_are_all_cut_off() {
    let srv =
        start(config(&["--header-read-timeout-secs", "2", "--rate-limit-rps", "1000", "--rate-limit-burst", "1000"]))
            .await;
    let addr = srv.addr;
    let slow: Vec<_> =
        (0..100).map(|_| tokio::task::spawn_blocking(move || trickle(addr, GET, Duration::from_secs(1)))).collect();
    // While they trickle, normal clients are answered, each on a new connection.
    let c = reqwest::Client::builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(30)).build().unwrap();
    for _ in 0..20 {
        assert_eq!(c.get(srv.url("/")).send().await.unwrap().status(), 200);
    }
    for s in slow {
        let (after, sent_all) = s.await.unwrap();
        assert!(!sent_all, "a slow client finished its request");
        assert!(after >= Duration::from_secs(2), "{after:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_outlasts_the_header_timeout_and_then_closes() {
    let srv = start(config(&["--header-read-timeout-secs", "1", "--keep-alive-timeout-secs", "4"])).await;
    let addr = srv.addr;
    tokio::task::spawn_blocking(move || {
        let mut s = connect(addr);
        s.write_all(GET).unwrap();
        assert!(read_response(&mut s).unwrap().starts_with("HTTP/1.1 200"));
        // Idle for twice the header timeout: the keep-alive timeout, not the header one, applies.
        std::thread::sleep(Duration::from_secs(2));
        s.write_all(GET).unwrap();
        assert!(read_response(&mut s).expect("the idle connection is still open").starts_with("HTTP/1.1 200"));
        let idle = Instant::now();
        assert!(closed_by_server(&mut s), "an idle connection is closed");
        // The server's 4 s idle timer starts when it has written the response, a moment before
        // this clock does (CI measured 3.9999 s): 3 s still tells it from the 1 s header timeout.
        assert!(idle.elapsed() >= Duration::from_secs(3), "closed before the keep-alive timeout: {:?}", idle.elapsed());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_new_clients_wait_for_a_free_slot() {
    let srv = start(config(&["--max-connections", "2", "--header-read-timeout-secs", "3600"])).await;
    let addr = srv.addr;
    tokio::task::spawn_blocking(move || {
        let mut held: Vec<TcpStream> = (0..2).map(|_| connect(addr)).collect();
        for s in &mut held {
            s.write_all(GET).unwrap();
            assert!(read_response(s).unwrap().starts_with("HTTP/1.1 200"));
        }
        // Both slots are taken by open keep-alive connections: a third client is not served...
        let mut third = connect(addr);
        third.write_all(GET).unwrap();
        third.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let mut byte = [0u8; 1];
        let early = third.read(&mut byte);
        assert!(
            matches!(&early, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
            "served beyond the cap: {early:?}"
        );
        // ...until one of them closes.
        drop(held.pop());
        third.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        assert!(read_response(&mut third).unwrap().starts_with("HTTP/1.1 200"));
    })
    .await
    .unwrap();
}

/// What a client sees when hyper rejects a request before the app does: a bare status line,
/// `connection: close`, `content-length: 0` and `date`, then the close. No JSON body, no
/// security headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_hyper_cannot_parse_get_a_bare_status_and_a_close() {
    let srv = start(config(&[])).await;
    let addr = srv.addr;
    tokio::task::spawn_blocking(move || {
        // Exactly the limit, and no end of headers: hyper has read every byte sent when it
        // answers, so its close cannot turn into a reset that would swallow the answer.
        let mut big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
        big.resize(app::server::MAX_HEADER_BYTES, b'b');
        for (request, status) in [
            (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_vec(), "400 Bad Request"),
            (b"\x01\x02 / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "400 Bad Request"),
            (big, "431 Request Header Fields Too Large"),
        ] {
            let mut s = connect(addr);
            let _ = s.write_all(&request);
            let answer = read_response(&mut s).expect("an answer");
            let mut lines = answer.split("\r\n");
            assert_eq!(lines.next(), Some(format!("HTTP/1.1 {status}").as_str()));
            let mut headers: Vec<String> =
                lines.filter(|l| !l.is_empty()).map(|l| l.split(':').next().unwrap().to_ascii_lowercase()).collect();
            headers.sort();
            assert_eq!(headers, ["connection", "content-length", "date"], "{answer}");
            assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
            assert!(answer.contains("\r\ncontent-length: 0\r\n"), "{answer}");
            assert!(closed_by_server(&mut s), "the connection closes after {status}");
        }
        // Headers just under the limit reach the app.
        let fits = format!("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(60 * 1024));
        let mut s = connect(addr);
        s.write_all(fits.as_bytes()).unwrap();
        assert!(read_response(&mut s).unwrap().starts_with("HTTP/1.1 200"));
    })
    .await
    .unwrap();
}

/// A client that trickles an `/api` body is answered 408 `body_timeout` at the body read
/// deadline, long before the request timeout, and its in-flight slot is free again right after.
/// With `API_MAX_IN_FLIGHT=1` the trickle holds the only slot: a normal write is shed while it
/// lasts and accepted once the deadline has ended it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_api_body_is_cut_off_at_the_body_deadline_and_frees_its_slot() {
    let srv = start(config(&[
        "--body-read-timeout-secs",
        "1",
        "--request-timeout-secs",
        "60",
        "--api-max-in-flight",
        "1",
        "--write-rate-limit-burst",
        "100",
    ]))
    .await;
    let addr = srv.addr;
    let body = br#"{"author":"slow","text":"a body sent one byte at a time"}"#;
    let head = format!(
        "POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let (tx, started) = std::sync::mpsc::channel();
    let slow = tokio::task::spawn_blocking(move || {
        let mut s = connect(addr);
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&body[..1]).unwrap();
        let t0 = Instant::now();
        tx.send(()).unwrap();
        s.set_nonblocking(true).unwrap();
        let mut sent = 1;
        // One byte every 200 ms: the whole body would take about 11 s.
        let mut probe = [0u8; 1];
        loop {
            std::thread::sleep(Duration::from_millis(200));
            match s.peek(&mut probe) {
                Ok(_) => break,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("the connection failed before an answer: {e}"),
            }
            if sent < body.len() && s.write_all(&body[sent..=sent]).is_ok() {
                sent += 1;
            }
        }
        s.set_nonblocking(false).unwrap();
        (read_response(&mut s), sent, t0.elapsed(), closed_by_server(&mut s))
    });
    started.recv_timeout(Duration::from_secs(30)).unwrap();
    let c = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let post = || c.post(srv.url("/api/messages")).json(&serde_json::json!({"author": "normal", "text": "hi"})).send();
    // While the trickle holds the only slot, a normal write is shed (the slot really is held).
    let mut shed = false;
    while !slow.is_finished() && !shed {
        shed = post().await.unwrap().status() == 503;
    }
    let (answer, sent, after, closed) = slow.await.unwrap();
    let answer = answer.expect("an answer before the close");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"body_timeout\"") && answer.contains("BODY_READ_TIMEOUT_SECS"), "{answer}");
    assert!(sent < body.len(), "the whole body went out: the deadline never ended the trickle");
    assert!(after >= Duration::from_secs(1), "cut off before the deadline: {after:?}");
    assert!(closed, "the server closes the connection after the 408");
    assert!(shed, "the trickle never held the in-flight slot");
    assert_eq!(post().await.unwrap().status(), 201, "the slot is free again after the 408");
    println!("trickled body cut off after {after:?} with {sent} of {} bytes sent (deadline 1 s)", body.len());
}

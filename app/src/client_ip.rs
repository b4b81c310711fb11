//! Who is the client? The key the rate limiter buckets requests by.
//!
//! Behind N trusted proxies (an ALB is one), each proxy appends the address it saw to
//! `X-Forwarded-For`, so the N-th entry from the RIGHT is the one our own infrastructure
//! vouches for. Everything to its left was sent by the client and can be forged, which is why
//! the leftmost entry is never used.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// Resolve the client address from the socket peer and `X-Forwarded-For`.
///
/// `trusted_hops == 0`: the socket peer. Otherwise the `trusted_hops`-th address counted from the
/// right across all `X-Forwarded-For` lines (the last line first). The peer is used instead when
/// the header is shorter than that or when that entry is not an address.
///
/// The header is read as raw bytes, not as text: a byte that is not UTF-8 (or not visible
/// ASCII) in the part the client wrote makes THAT entry unreadable and nothing else. A comma is
/// one ASCII byte that never occurs inside a multi-byte UTF-8 sequence, so the count of entries
/// from the right, the ones our own proxies appended, is exact whatever the client sent; the
/// client cannot hide those hops and push every request into the proxy's own bucket.
///
/// An entry may be an IPv4 or IPv6 address, optionally bracketed (`[2001:db8::1]`) or with a
/// port (`192.0.2.1:4711`, `[2001:db8::1]:4711`); IPv4-mapped IPv6 is the same client as IPv4.
pub fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>, trusted_hops: usize) -> Option<IpAddr> {
    let canonical = |ip: IpAddr| ip.to_canonical();
    if trusted_hops == 0 {
        return peer.map(canonical);
    }
    let mut remaining = trusted_hops;
    for line in headers.get_all("x-forwarded-for").iter().rev() {
        for entry in line.as_bytes().rsplit(|b| *b == b',') {
            remaining -= 1;
            if remaining == 0 {
                return parse_entry(entry).or(peer).map(canonical);
            }
        }
    }
    peer.map(canonical)
}

/// One `X-Forwarded-For` entry: an address, bracketed or not, with or without a port.
fn parse_entry(entry: &[u8]) -> Option<IpAddr> {
    // An address is ASCII: anything else (including bytes that are not UTF-8) is not one.
    let entry = std::str::from_utf8(entry.trim_ascii()).ok()?;
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']')?.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const PEER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 9)));

    #[test]
    fn zero_hops_uses_the_peer_and_ignores_the_header() {
        assert_eq!(client_ip(&xff(&["1.2.3.4"]), PEER, 0), PEER);
    }

    #[test]
    fn one_hop_takes_the_rightmost_entry_not_the_forgeable_leftmost() {
        let h = xff(&["6.6.6.6, 203.0.113.7"]);
        assert_eq!(client_ip(&h, PEER, 1), Some("203.0.113.7".parse().unwrap()));
    }

    #[test]
    fn hops_count_across_repeated_headers() {
        let h = xff(&["6.6.6.6", "198.51.100.1, 192.0.2.2", "10.1.1.1"]);
        assert_eq!(client_ip(&h, PEER, 2), Some("192.0.2.2".parse().unwrap()));
        assert_eq!(client_ip(&h, PEER, 3), Some("198.51.100.1".parse().unwrap()));
    }

    #[test]
    fn short_or_garbage_header_falls_back_to_the_peer() {
        assert_eq!(client_ip(&xff(&["1.1.1.1"]), PEER, 2), PEER);
        assert_eq!(client_ip(&xff(&["not-an-ip"]), PEER, 1), PEER);
        assert_eq!(client_ip(&HeaderMap::new(), PEER, 1), PEER);
    }

    #[test]
    fn bytes_that_are_not_text_never_hide_the_hops_the_proxy_appended() {
        // The ALB appended 203.0.113.7 to a line the client started with bytes that are not
        // UTF-8: the trusted entry is still found, not the ALB node's address (the peer).
        let mut h = xff(&["6.6.6.6"]);
        h.append("x-forwarded-for", HeaderValue::from_bytes(b"x\xff\xfe, 203.0.113.7").unwrap());
        assert_eq!(client_ip(&h, PEER, 1), Some("203.0.113.7".parse().unwrap()));
        // The client's own garbage entry is not an address: the peer, never an earlier line.
        assert_eq!(client_ip(&h, PEER, 2), PEER);
        assert_eq!(client_ip(&h, PEER, 3), Some("6.6.6.6".parse().unwrap()));
        // Bytes that look like the start of a multi-byte sequence cannot swallow the comma.
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", HeaderValue::from_bytes(b"\xe2\x82, 198.51.100.4, 203.0.113.9").unwrap());
        assert_eq!(client_ip(&h, PEER, 1), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(client_ip(&h, PEER, 2), Some("198.51.100.4".parse().unwrap()));
        // An unreadable line to the LEFT of the trusted entry does not matter either.
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", HeaderValue::from_bytes(b"\xfe\xff").unwrap());
        h.append("x-forwarded-for", HeaderValue::from_static("203.0.113.8"));
        assert_eq!(client_ip(&h, PEER, 1), Some("203.0.113.8".parse().unwrap()));
        // Non-ASCII inside the trusted entry itself: not an address.
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", HeaderValue::from_bytes(b"203.0.113.\xff").unwrap());
        assert_eq!(client_ip(&h, PEER, 1), PEER);
    }

    #[test]
    fn ipv6_bracketed_and_ported_entries() {
        for (entry, expected) in [
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("[2001:db8::1]:4711", "2001:db8::1"),
            ("  192.0.2.1:4711 ", "192.0.2.1"),
            ("::ffff:192.0.2.5", "192.0.2.5"),
            ("[::ffff:192.0.2.5]:80", "192.0.2.5"),
        ] {
            let h = xff(&[&format!("6.6.6.6, {entry}")]);
            assert_eq!(client_ip(&h, PEER, 1), Some(expected.parse().unwrap()), "{entry}");
        }
        for bad in ["[2001:db8::1", "2001:db8::1]", "[192.0.2.1]", "192.0.2.1:", "[]", "", "unknown", "1.2.3.4.5"] {
            let h = xff(&[&format!("6.6.6.6, {bad}")]);
            assert_eq!(client_ip(&h, PEER, 1), PEER, "{bad:?}");
        }
    }

    #[test]
    fn many_lines_are_counted_from_the_last_one() {
        let lines: Vec<String> = (0..200).map(|n| format!("198.51.{}.{}", n / 256, n % 256)).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let h = xff(&refs);
        assert_eq!(client_ip(&h, PEER, 1), Some("198.51.0.199".parse().unwrap()));
        assert_eq!(client_ip(&h, PEER, 10), Some("198.51.0.190".parse().unwrap()));
        // Lines holding several entries and lines holding one count alike.
        let h = xff(&["192.0.2.1, 192.0.2.2", "192.0.2.3", "192.0.2.4, 192.0.2.5, 192.0.2.6"]);
        let from_right: Vec<Option<IpAddr>> = (1..=7).map(|hops| client_ip(&h, PEER, hops)).collect();
        let expected: Vec<Option<IpAddr>> =
            ["192.0.2.6", "192.0.2.5", "192.0.2.4", "192.0.2.3", "192.0.2.2", "192.0.2.1"]
                .iter()
                .map(|a| Some(a.parse().unwrap()))
                .chain([PEER])
                .collect();
        assert_eq!(from_right, expected);
    }

    #[test]
    fn ipv4_mapped_ipv6_is_the_same_client() {
        let mapped: IpAddr = "::ffff:192.0.2.5".parse().unwrap();
        assert_eq!(client_ip(&HeaderMap::new(), Some(mapped), 0), Some("192.0.2.5".parse().unwrap()));
    }
}

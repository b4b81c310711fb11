//! Who is the client? The key the rate limiter buckets requests by.
//!
//! Behind N trusted proxies (an ALB is one), each proxy appends the address it saw to
//! `X-Forwarded-For`, so the N-th entry from the RIGHT is the one our own infrastructure
//! vouches for. Everything to its left was sent by the client and can be forged, which is why
//! the leftmost entry is never used.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
use tower_governor::GovernorError;
use tower_governor::key_extractor::KeyExtractor;

/// Resolve the client address from the socket peer and `X-Forwarded-For`.
///
/// `trusted_hops == 0`: the socket peer. Otherwise the `trusted_hops`-th address counted from the
/// right across all `X-Forwarded-For` headers; when the header is shorter than that or the entry
/// is not an IP address, the request did not come through our proxies and the peer is used.
pub fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>, trusted_hops: usize) -> Option<IpAddr> {
    let canonical = |ip: IpAddr| ip.to_canonical();
    if trusted_hops == 0 {
        return peer.map(canonical);
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .rev()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.rsplit(','))
        .nth(trusted_hops - 1)
        .and_then(|entry| entry.trim().parse::<IpAddr>().ok())
        .or(peer)
        .map(canonical)
}

/// tower_governor key extractor applying [`client_ip`] with the configured hop count.
#[derive(Debug, Clone, Copy)]
pub struct ClientIpKey {
    pub trusted_hops: usize,
}

impl KeyExtractor for ClientIpKey {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        // Without a peer address (never the case behind `serve`), share one bucket rather than fail.
        Ok(client_ip(req.headers(), peer, self.trusted_hops).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
    }
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
    fn ipv4_mapped_ipv6_is_the_same_client() {
        let mapped: IpAddr = "::ffff:192.0.2.5".parse().unwrap();
        assert_eq!(client_ip(&HeaderMap::new(), Some(mapped), 0), Some("192.0.2.5".parse().unwrap()));
    }
}

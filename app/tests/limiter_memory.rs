//! The rate limiter's memory: 200,000 distinct clients, then a prune. The key count and the
//! process's resident memory both come back down. Alone in its test binary, so the resident
//! memory measured is this test's.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use app::rate_limit::{RateLimit, quota};
use governor::clock::FakeRelativeClock;

const CLIENTS: u32 = 200_000;

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS in /proc/self/status")
}

#[test]
fn two_hundred_thousand_clients_then_a_prune_give_the_memory_back() {
    let clock = FakeRelativeClock::default();
    let q = quota(NonZeroU32::new(50).unwrap(), NonZeroU32::new(100).unwrap());
    // The pruning thread is not what is measured here: it waits an hour.
    let limit = RateLimit::with_clock(q, 0, clock.clone(), Duration::from_secs(3600));
    let before = rss_kib();
    for n in 0..CLIENTS {
        limit.check(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))).unwrap();
    }
    assert_eq!(limit.clients(), CLIENTS as usize);
    let full = rss_kib();
    // Every client's budget (100 at 50/s) is full again after 2 s.
    clock.advance(Duration::from_secs(3));
    limit.prune();
    let pruned = rss_kib();
    println!(
        "limiter memory: {before} KiB before, {full} KiB with {CLIENTS} clients (+{} KiB), {pruned} KiB after the prune ({} KiB given back)",
        full.saturating_sub(before),
        full.saturating_sub(pruned)
    );
    assert_eq!(limit.clients(), 0, "every idle client is forgotten");
    let grown = full.saturating_sub(before);
    assert!(grown > 4 * 1024, "200,000 clients should take several MiB: +{grown} KiB");
    assert!(
        pruned <= before + grown / 4,
        "at least three quarters of the table's memory goes back: {before} -> {full} -> {pruned} KiB"
    );
}

//! The database state `/ready` reports, refreshed by ONE background check every
//! [`CHECK_INTERVAL`]: a flood of probes reads an atomic and never takes a pool connection, so
//! it cannot starve the API of connections (issue #26, "a probe flood").
//!
//! The check starts with the first `/ready` (which waits for that first result, so a fresh task
//! reports the truth rather than "unknown"), then runs on its own until the [`AppState`] that
//! owns it is gone. A change of state is logged once, not per probe.
//!
//! [`AppState`]: crate::AppState

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::db::Db;
use crate::db::migrations::SchemaStatus;

/// How often the background check asks the database.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// How long one check waits for the database before calling it unavailable.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// What the last check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbState {
    /// Reachable, schema current.
    Ok,
    /// Reachable, but migrations are missing (run `app migrate`).
    SchemaBehind,
    /// Not reachable within [`CHECK_TIMEOUT`], or an error.
    Unavailable,
}

impl DbState {
    /// The word `/ready` reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::SchemaBehind => "schema_behind",
            Self::Unavailable => "unavailable",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Ok,
            1 => Self::SchemaBehind,
            _ => Self::Unavailable,
        }
    }
}

/// The cached database state; cheap to clone (shared).
#[derive(Clone)]
pub struct DbHealth {
    inner: Arc<Inner>,
}

struct Inner {
    state: AtomicU8,
    checks: AtomicU64,
    started: OnceCell<()>,
    interval: Duration,
}

impl Default for DbHealth {
    fn default() -> Self {
        Self::with_interval(CHECK_INTERVAL)
    }
}

impl DbHealth {
    /// A cache refreshed every `interval`.
    pub fn with_interval(interval: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: AtomicU8::new(DbState::Unavailable as u8),
                checks: AtomicU64::new(0),
                started: OnceCell::new(),
                interval,
            }),
        }
    }

    /// The cached state. The first call runs the first check (concurrent first callers wait for
    /// that same one) and starts the background loop; every later call only reads.
    pub async fn current(&self, db: &Db) -> DbState {
        self.inner
            .started
            .get_or_init(|| async {
                let first = check(db).await;
                self.inner.record(first, true);
                tokio::spawn(refresh(Arc::downgrade(&self.inner), db.clone()));
            })
            .await;
        DbState::from_u8(self.inner.state.load(Ordering::Acquire))
    }

    /// How many times the database was asked (tests: a flood of probes must not raise it).
    pub fn checks(&self) -> u64 {
        self.inner.checks.load(Ordering::Relaxed)
    }
}

impl Inner {
    fn record(&self, new: DbState, first: bool) {
        self.checks.fetch_add(1, Ordering::Relaxed);
        let old = DbState::from_u8(self.state.swap(new as u8, Ordering::AcqRel));
        if first || old != new {
            match new {
                DbState::Ok => tracing::info!(database = new.as_str(), "readiness check: database state"),
                _ => tracing::warn!(database = new.as_str(), "readiness check: database state"),
            }
        }
    }
}

async fn check(db: &Db) -> DbState {
    match tokio::time::timeout(CHECK_TIMEOUT, db.schema_status()).await {
        Ok(Ok(SchemaStatus::Current)) => DbState::Ok,
        Ok(Ok(SchemaStatus::Behind { .. })) => DbState::SchemaBehind,
        Ok(Err(_)) | Err(_) => DbState::Unavailable,
    }
}

/// The loop: one check per interval while anyone still holds the cache.
async fn refresh(inner: Weak<Inner>, db: Db) {
    let Some(interval) = inner.upgrade().map(|i| i.interval) else { return };
    loop {
        tokio::time::sleep(interval).await;
        let state = check(&db).await;
        let Some(inner) = inner.upgrade() else { return };
        inner.record(state, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_flood_of_reads_asks_the_database_once_and_the_loop_refreshes_it() {
        let db = Db::sqlite_memory();
        let health = DbHealth::with_interval(Duration::from_millis(50));
        // Not migrated: the schema is behind.
        let reads = (0..200).map(|_| {
            let (h, db) = (health.clone(), db.clone());
            tokio::spawn(async move { h.current(&db).await })
        });
        for r in reads.collect::<Vec<_>>() {
            assert_eq!(r.await.unwrap(), DbState::SchemaBehind);
        }
        assert_eq!(health.checks(), 1, "200 concurrent reads, one check");
        db.migrate().await.unwrap();
        let mut seen = DbState::SchemaBehind;
        for _ in 0..100 {
            seen = health.current(&db).await;
            if seen == DbState::Ok {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(seen, DbState::Ok, "the background check picked up the migration");
        db.close().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(health.current(&db).await, DbState::Unavailable);
    }
}

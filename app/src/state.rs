//! The state every handler can read.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crate::db::Db;
use crate::readiness::DbHealth;

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub version: Arc<str>,
    pub started: Instant,
    /// False from the moment shutdown begins; `/ready` answers 503 then.
    pub ready: Arc<AtomicBool>,
    /// The storage (see `crate::db`).
    pub db: Db,
    /// The database state `/ready` reports, cached by one background check.
    pub db_health: DbHealth,
}

impl AppState {
    pub fn new(version: &str, db: Db) -> Self {
        Self {
            version: version.into(),
            started: Instant::now(),
            ready: Arc::new(AtomicBool::new(true)),
            db,
            db_health: DbHealth::default(),
        }
    }
}

//! PostgreSQL for the tests: one real server per test binary, shared by the tests that run at
//! the same time (each in its own database), stopped when the last of them is done. A test that
//! stops the server (the outage test) starts its own with [`PgServer::start`].
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

use app::db::{Db, PoolSettings, Target};
pub use pg_harness::PgServer;

static SHARED: Mutex<Weak<PgServer>> = Mutex::new(Weak::new());

/// The binary's shared server (started if no running test holds it).
pub fn shared() -> Arc<PgServer> {
    let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(server) = slot.upgrade() {
        return server;
    }
    let server = Arc::new(PgServer::start().unwrap_or_else(|e| panic!("{e}")));
    *slot = Arc::downgrade(&server);
    server
}

/// A fresh, empty database on `server`; returns its name.
pub async fn create_database(server: &PgServer) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!("t{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    superuser(server, &format!("CREATE DATABASE {name}")).await;
    name
}

/// Run one statement as the superuser in the `postgres` database.
pub async fn superuser(server: &PgServer, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&server.url("postgres")).await.expect("superuser connects");
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.ok();
}

/// A pool on `url` with `pool` settings (not connected yet, not migrated).
pub fn open(url: &str, pool: PoolSettings) -> Db {
    let target = Target::from_config(&crate::common::config(&["--database-url", url]).database).unwrap();
    Db::open(&target, pool).unwrap()
}

/// A migrated database of its own on the shared server. Keep the `Arc` as long as the pool.
pub async fn database() -> (Arc<PgServer>, Db) {
    let server = shared();
    let name = create_database(&server).await;
    let db = open(&server.url(&name), PoolSettings::default());
    db.migrate().await.expect("migrations apply to PostgreSQL");
    (server, db)
}

//! The database part of `cargo xtask bench`: the release app on a local PostgreSQL (started by
//! pg-harness, the tests' harness, with durable settings: fsync and synchronous commit on) and on
//! its embedded SQLite file, under the same oha load as the rest of the bench: create
//! (`POST /api/messages`) and list (`GET /api/messages?limit=20`), for several PostgreSQL pool
//! sizes, so the default `DB_POOL_SIZE` is chosen from measurements (docs/database.md, "Pool").

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use xshell::cmd;

use super::pgbench::{self, CREATE_AUTHOR, CREATE_TEXT, LIST_LIMIT, PgbenchRun};
use super::{APP, Load, parse_oha, start};
use crate::base::paths;
use crate::run::Ctx;
use crate::tools;

/// The database column of PostgreSQL loads.
pub const POSTGRES: &str = "PostgreSQL";

/// PostgreSQL pool sizes measured; the app's default (10) is among them.
pub const POOL_SIZES: [u32; 4] = [2, 4, 10, 32];

/// One oha run against the app on a database.
#[derive(Debug, Clone, Serialize)]
pub struct DbLoad {
    pub database: &'static str,
    /// PostgreSQL connections per app process (SQLite: its fixed 4).
    pub pool_size: u32,
    pub endpoint: &'static str,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub success_rate: f64,
}

pub const ENDPOINTS: [(&str, &str); 2] = [("create", "POST /api/messages"), ("list", "GET /api/messages?limit=20")];

/// Run the database loads: every pool size on PostgreSQL (each followed by pgbench with as many
/// clients as the pool), then SQLite.
pub fn run(ctx: &Ctx, release: &Path, seconds: u64, connections: u32) -> Result<(Vec<DbLoad>, Vec<PgbenchRun>)> {
    let initdb = tools::ensure(&ctx.sh, &ctx.root, &tools::POSTGRES)?;
    let pgbench = pgbench_beside(&initdb)?;
    let options = pg_harness::Options {
        durable: true,
        max_connections: 200,
        bindir: initdb.parent().map(Path::to_owned),
        tls: false,
    };
    let pg = pg_harness::PgServer::start_with(options).map_err(|e| anyhow!(e)).context("starting PostgreSQL")?;
    let app = release.join("app");
    let pg_url = pg.url("postgres");
    let migrated = std::process::Command::new(&app)
        .arg("migrate")
        .env("DATABASE_URL", &pg_url)
        .output()
        .with_context(|| format!("running {} migrate", app.display()))?;
    if !migrated.status.success() {
        bail!("app migrate failed: {}", String::from_utf8_lossy(&migrated.stderr));
    }
    let (mut loads, mut runs) = (vec![], vec![]);
    for pool in POOL_SIZES {
        let pool_size = pool.to_string();
        loads.extend(measure(
            ctx,
            &app,
            POSTGRES,
            pool,
            &[("DATABASE_URL", &pg_url), ("DB_POOL_SIZE", &pool_size)],
            seconds,
            connections,
        )?);
        for (endpoint, _) in ENDPOINTS {
            let r = pgbench::run(ctx, &pgbench, &pg_url, pool, seconds, endpoint)?;
            eprintln!("bench: pgbench, {} clients: {endpoint}: {:.0} tps, {} failed", r.pool_size, r.tps, r.failed);
            runs.push(r);
        }
    }
    let dir = paths::bench(&ctx.root);
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("guestbook-bench.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    let sqlite_url = format!("sqlite:{}", file.display());
    loads.extend(measure(ctx, &app, "SQLite (embedded)", 4, &[("DATABASE_URL", &sqlite_url)], seconds, connections)?);
    drop(pg);
    Ok((loads, runs))
}

/// pgbench from the PostgreSQL the tool table found: beside initdb (through a symlink such as
/// /usr/local/bin/initdb, the directory it points into), else on PATH (Debian's wrapper).
fn pgbench_beside(initdb: &Path) -> Result<PathBuf> {
    let real = std::fs::canonicalize(initdb).unwrap_or_else(|_| initdb.to_owned());
    for dir in [initdb.parent(), real.parent()].into_iter().flatten() {
        let candidate = dir.join("pgbench");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join("pgbench")).find(|p| p.is_file()).with_context(|| {
        format!("no pgbench beside {} or on PATH (Debian: apt-get install postgresql-client)", initdb.display())
    })
}

fn measure(
    ctx: &Ctx,
    app: &Path,
    database: &'static str,
    pool_size: u32,
    vars: &[(&str, &str)],
    seconds: u64,
    connections: u32,
) -> Result<Vec<DbLoad>> {
    let sh = &ctx.sh;
    let mut all = vec![
        ("RATE_LIMIT_RPS", "100000000"),
        ("RATE_LIMIT_BURST", "100000000"),
        ("WRITE_RATE_LIMIT_PER_MINUTE", "1000000"),
        ("WRITE_RATE_LIMIT_BURST", "1000000"),
        // 64 connections measure the pool and the database, not /api's load shedding (20).
        ("API_MAX_IN_FLIGHT", "100000"),
    ];
    all.extend_from_slice(vars);
    let (server, _) = start(APP, app, &all)?;
    let (secs, conns) = (format!("{seconds}s"), connections.to_string());
    let mut out = vec![];
    for (endpoint, _) in ENDPOINTS {
        let json = if endpoint == "create" {
            let body = serde_json::json!({ "author": CREATE_AUTHOR, "text": CREATE_TEXT }).to_string();
            let url = format!("http://127.0.0.1:{}/api/messages", server.port);
            cmd!(
                sh,
                "oha -z {secs} -c {conns} --no-tui --output-format json -m POST -T application/json -d {body} {url}"
            )
            .quiet()
            .read()?
        } else {
            let url = format!("http://127.0.0.1:{}/api/messages?limit={LIST_LIMIT}", server.port);
            cmd!(sh, "oha -z {secs} -c {conns} --no-tui --output-format json {url}").quiet().read()?
        };
        let l: Load = parse_oha(APP, "/api/messages", &json)?;
        eprintln!(
            "bench: {database}, pool {pool_size}: {endpoint}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, success {:.1}%",
            l.requests_per_sec,
            l.p50_ms,
            l.p99_ms,
            l.success_rate * 100.0
        );
        out.push(DbLoad {
            database,
            pool_size,
            endpoint,
            requests_per_sec: l.requests_per_sec,
            p50_ms: l.p50_ms,
            p99_ms: l.p99_ms,
            success_rate: l.success_rate,
        });
    }
    Ok(out)
}

/// The app's PostgreSQL figures beside pgbench's at the same pool size and endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub pool_size: u32,
    pub endpoint: &'static str,
    pub app_requests_per_sec: f64,
    pub app_p99_ms: f64,
    pub pgbench_tps: f64,
    /// App req/s / pgbench tps.
    pub ratio: f64,
}

/// Pair every PostgreSQL app load with the pgbench run of the same pool size and endpoint.
pub fn compare(app: &[DbLoad], pgbench: &[PgbenchRun]) -> Vec<Comparison> {
    app.iter()
        .filter(|l| l.database == POSTGRES)
        .filter_map(|l| {
            let p = pgbench.iter().find(|p| p.pool_size == l.pool_size && p.endpoint == l.endpoint)?;
            Some(Comparison {
                pool_size: l.pool_size,
                endpoint: l.endpoint,
                app_requests_per_sec: l.requests_per_sec,
                app_p99_ms: l.p99_ms,
                pgbench_tps: p.tps,
                ratio: if p.tps > 0.0 { l.requests_per_sec / p.tps } else { f64::NAN },
            })
        })
        .collect()
}

/// The Markdown table of the comparisons.
pub fn pgbench_markdown(rows: &[Comparison]) -> String {
    let mut out = String::from(
        "\nThe app against the database's own limit (pgbench, same SQL, prepared, as many clients as the pool):\n\n\
         | pool | endpoint | app req/s | app p99 ms | pgbench tps | app / pgbench |\n|---:|---|---:|---:|---:|---:|\n",
    );
    for c in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.2} | {:.0} | {:.0}% |",
            c.pool_size,
            c.endpoint,
            c.app_requests_per_sec,
            c.app_p99_ms,
            c.pgbench_tps,
            c.ratio * 100.0
        );
    }
    out
}

/// The Markdown table of the database loads.
pub fn markdown(loads: &[DbLoad], connections: u32) -> String {
    let mut out = format!(
        "\nGuestbook API on a database ({connections} connections; PostgreSQL local, fsync on; one run each):\n\n\
         | database | pool | endpoint | req/s | p50 ms | p99 ms | success |\n|---|---:|---|---:|---:|---:|---:|\n"
    );
    for l in loads {
        let endpoint = ENDPOINTS.iter().find(|(e, _)| *e == l.endpoint).map_or(l.endpoint, |(_, d)| d);
        let _ = writeln!(
            out,
            "| {} | {} | `{endpoint}` | {:.0} | {:.2} | {:.2} | {:.1}% |",
            l.database,
            l.pool_size,
            l.requests_per_sec,
            l.p50_ms,
            l.p99_ms,
            l.success_rate * 100.0
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_each_endpoint_and_pool() {
        let l = |database, pool_size, endpoint| DbLoad {
            database,
            pool_size,
            endpoint,
            requests_per_sec: 1234.4,
            p50_ms: 1.0,
            p99_ms: 9.876,
            success_rate: 1.0,
        };
        let md = markdown(&[l("PostgreSQL", 10, "create"), l("SQLite (embedded)", 4, "list")], 64);
        assert!(md.contains("| PostgreSQL | 10 | `POST /api/messages` | 1234 | 1.00 | 9.88 | 100.0% |"), "{md}");
        assert!(md.contains("| SQLite (embedded) | 4 | `GET /api/messages?limit=20` |"), "{md}");
        assert!(md.contains("64 connections"));
    }

    #[test]
    fn ratios_pair_pool_and_endpoint() {
        let l = |database, pool_size, endpoint, rps| DbLoad {
            database,
            pool_size,
            endpoint,
            requests_per_sec: rps,
            p50_ms: 1.0,
            p99_ms: 7.5,
            success_rate: 1.0,
        };
        let app = [
            l(POSTGRES, 10, "create", 900.0),
            l(POSTGRES, 10, "list", 6000.0),
            l(POSTGRES, 32, "list", 5000.0),
            l("SQLite (embedded)", 4, "list", 9000.0),
        ];
        let pg = [
            PgbenchRun { pool_size: 10, endpoint: "create", tps: 1000.0, failed: 0 },
            PgbenchRun { pool_size: 10, endpoint: "list", tps: 12000.0, failed: 0 },
        ];
        let rows = compare(&app, &pg);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!((rows[0].ratio - 0.9).abs() < 1e-9 && (rows[1].ratio - 0.5).abs() < 1e-9);
        let md = pgbench_markdown(&rows);
        assert!(md.contains("| 10 | create | 900 | 7.50 | 1000 | 90% |"), "{md}");
        assert!(md.contains("| 10 | list | 6000 | 7.50 | 12000 | 50% |"), "{md}");
    }
}

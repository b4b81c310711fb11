//! The database's own limit, next to the app's figures: `pgbench` on the same PostgreSQL server
//! running the same statements the app runs for create and list (app/src/db/messages.rs, checked
//! by a test here), with as many connections as the app's pool (`DB_POOL_SIZE`), prepared as
//! sqlx prepares them. The app at `x` req/s against pgbench's `y` tps is the share of the
//! database's throughput the HTTP stack, the pool and the JSON leave.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use xshell::cmd;

use crate::run::Ctx;

/// The message every create posts (pgbench's create inserts the same).
pub const CREATE_AUTHOR: &str = "bench";
pub const CREATE_TEXT: &str = "a message written by cargo xtask bench";
/// The page size every list asks for.
pub const LIST_LIMIT: i64 = 20;

/// The app's PostgreSQL `created_at` as RFC 3339 text (the `dialect!` argument for POSTGRES).
const CREATED_AT: &str = r#"to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#;
/// The pieces of the app's `insert` and `page` statements, as `dialect!` concatenates them.
const INSERT_HEAD: &str = "INSERT INTO messages (author, text) VALUES ($1, $2) RETURNING id, author, text, ";
const PAGE_HEAD: &str = "SELECT id, author, text, ";
const PAGE_TAIL: &str = " FROM messages WHERE id < $1 ORDER BY id DESC LIMIT $2";

/// The app's create statement on PostgreSQL (`Db::insert_message`).
pub fn insert_sql() -> String {
    format!("{INSERT_HEAD}{CREATED_AT}")
}

/// The app's list statement on PostgreSQL (`Db::list_messages`).
pub fn page_sql() -> String {
    format!("{PAGE_HEAD}{CREATED_AT}{PAGE_TAIL}")
}

/// A pgbench custom script (`-f`) for `sql`: `$N` becomes the pgbench variable `:name` (with
/// `-M prepared` pgbench sends them as bind parameters of one prepared statement, as sqlx does),
/// numeric values are set with `\set`. String values cannot be `\set` (pgbench expressions are
/// numbers); they are passed with `-D name=value`.
pub fn script(sql: &str, params: &[&str], numbers: &[(&str, i64)]) -> String {
    let mut out = String::new();
    for (name, value) in numbers {
        let _ = writeln!(out, "\\set {name} {value}");
    }
    // From the highest number down, so `$1` does not eat the front of `$10`.
    let mut statement = sql.to_owned();
    for (i, name) in params.iter().enumerate().rev() {
        statement = statement.replace(&format!("${}", i + 1), &format!(":{name}"));
    }
    let _ = writeln!(out, "{};", colons_outside_variables(&statement));
    out
}

/// pgbench reads every `:name` in a script's SQL as a variable, inside string literals too: the
/// app's `'...HH24:MI:SS...'` would become two more bind parameters (PostgreSQL then refuses
/// the Bind). A colon inside a literal is written `' || chr(58) || '` instead: the same text,
/// folded to the same constant when the statement is prepared (chr and || are immutable), so
/// the plan PostgreSQL executes is the app's.
pub fn colons_outside_variables(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_literal = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                in_literal = !in_literal;
                out.push(c);
            }
            ':' if in_literal => out.push_str("' || chr(58) || '"),
            _ => out.push(c),
        }
    }
    out
}

/// The create script: the app's insert with the bench's author and text (`-D`, see [`defines`]).
pub fn create_script() -> String {
    script(&insert_sql(), &["author", "text"], &[])
}

/// The list script: the first page, as `GET /api/messages?limit=20` asks for it (no `before`:
/// `i64::MAX`; one row more than the limit, to know whether there is a next page).
pub fn list_script() -> String {
    script(&page_sql(), &["before", "limit"], &[("before", i64::MAX), ("limit", LIST_LIMIT + 1)])
}

/// `-D` definitions for the string parameters of `endpoint`.
pub fn defines(endpoint: &str) -> Vec<String> {
    match endpoint {
        "create" => vec![format!("author={CREATE_AUTHOR}"), format!("text={CREATE_TEXT}")],
        _ => vec![],
    }
}

/// pgbench's throughput: `tps = 1234.56 (without initial connection time)`.
pub fn parse_tps(output: &str) -> Result<f64> {
    output
        .lines()
        .find_map(|l| {
            let rest = l.trim().strip_prefix("tps = ")?;
            let (value, note) = rest.split_once(' ')?;
            note.contains("without initial connection time").then(|| value.parse::<f64>().ok())?
        })
        .with_context(|| format!("pgbench printed no \"tps = ... (without initial connection time)\" line:\n{output}"))
}

/// pgbench's `number of failed transactions: N (x%)` (0 when the line is absent, as before 15).
pub fn parse_failed(output: &str) -> u64 {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("number of failed transactions: ")?.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// One pgbench run at one pool size on one endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct PgbenchRun {
    pub pool_size: u32,
    pub endpoint: &'static str,
    pub tps: f64,
    pub failed: u64,
}

/// Run pgbench on `url` with `clients` connections for `seconds` on `endpoint`'s script.
/// `pgbench` is the one in the PostgreSQL bindir the tool table found (beside initdb).
pub fn run(
    ctx: &Ctx,
    pgbench: &Path,
    url: &str,
    clients: u32,
    seconds: u64,
    endpoint: &'static str,
) -> Result<PgbenchRun> {
    let sh = &ctx.sh;
    let dir = crate::base::paths::bench(&ctx.root);
    std::fs::create_dir_all(&dir)?;
    let file = dir.join(format!("pgbench-{endpoint}.sql"));
    let body = if endpoint == "create" { create_script() } else { list_script() };
    std::fs::write(&file, body).with_context(|| format!("writing {}", file.display()))?;
    let defines: Vec<String> = defines(endpoint).into_iter().flat_map(|d| ["-D".to_owned(), d]).collect();
    // Threads: no more than the cores (pgbench and the server share them) or the clients.
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as u32;
    let (c, j, t) = (clients.to_string(), clients.min(cores).max(1).to_string(), seconds.to_string());
    let out = cmd!(sh, "{pgbench} -n -M prepared -c {c} -j {j} -T {t} {defines...} -f {file} {url}")
        .quiet()
        .ignore_status()
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::write(dir.join(format!("pgbench-{endpoint}-{clients}.out")), stdout.as_bytes());
    if !out.status.success() {
        bail!("pgbench failed ({}): {}{}", out.status, stdout, String::from_utf8_lossy(&out.stderr));
    }
    Ok(PgbenchRun { pool_size: clients, endpoint, tps: parse_tps(&stdout)?, failed: parse_failed(&stdout) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pgbench 15.18's output here, `cargo xtask bench --database-only`, list, 10 clients
    /// (target/bench/pgbench-list-10.out, 2026-12-07).
    const PGBENCH_15: &str = "pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: /work/wt/w26/target/bench/pgbench-list.sql
scaling factor: 1
query mode: prepared
number of clients: 10
number of threads: 2
maximum number of tries: 1
duration: 5 s
number of transactions actually processed: 69061
number of failed transactions: 0 (0.000%)
latency average = 0.717 ms
initial connection time = 61.827 ms
tps = 13941.591915 (without initial connection time)
";

    /// pgbench 14's shape (no failed-transactions line), written after its documentation, not
    /// captured here (only pgbench 15 is installed).
    const PGBENCH_14: &str = "transaction type: x.sql
scaling factor: 1
query mode: prepared
number of clients: 2
number of threads: 2
duration: 5 s
number of transactions actually processed: 4460
latency average = 2.243 ms
initial connection time = 4.910 ms
tps = 891.711530 (without initial connection time)
";

    #[test]
    fn tps_is_the_line_without_initial_connection_time() {
        assert!((parse_tps(PGBENCH_15).unwrap() - 13941.591915).abs() < 1e-6);
        assert!((parse_tps(PGBENCH_14).unwrap() - 891.71153).abs() < 1e-6);
        assert_eq!((parse_failed(PGBENCH_15), parse_failed(PGBENCH_14)), (0, 0));
        // pgbench before 14 printed two tps lines; only the one without connections counts.
        let old =
            "tps = 100.0 (including connections establishing)\ntps = 120.5 (excluding connections establishing)\n";
        assert!(parse_tps(old).is_err());
        assert!(parse_tps("pgbench: error: connection failed").is_err());
        assert_eq!(parse_failed("number of failed transactions: 7 (1.2%)"), 7);
    }

    #[test]
    fn the_statements_are_the_apps() {
        let app = include_str!("../../../../app/src/db/messages.rs");
        for piece in [INSERT_HEAD, PAGE_HEAD, PAGE_TAIL] {
            assert!(app.contains(&format!("\"{piece}\"")), "app/src/db/messages.rs no longer has {piece:?}");
        }
        assert!(
            app.contains(&format!("pub static POSTGRES: Sql = dialect!(\n    r#\"{CREATED_AT}\"#,")),
            "the app's PostgreSQL created_at changed"
        );
        assert!(app.contains("insert: concat!(") && app.contains("page: concat!("));
    }

    #[test]
    fn scripts_bind_the_apps_parameters() {
        // The created_at expression as pgbench must read it: no colon left inside the literal.
        let created_at = r#"to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.US"Z"')"#;
        assert_eq!(colons_outside_variables(CREATED_AT), created_at);
        assert_eq!(colons_outside_variables("SELECT :a, ':b', '', :c"), "SELECT :a, '' || chr(58) || 'b', '', :c");
        assert_eq!(
            create_script(),
            format!(
                "INSERT INTO messages (author, text) VALUES (:author, :text) RETURNING id, author, text, {created_at};\n"
            )
        );
        assert_eq!(
            list_script(),
            format!(
                "\\set before 9223372036854775807\n\\set limit 21\nSELECT id, author, text, {created_at} FROM messages WHERE id < :before ORDER BY id DESC LIMIT :limit;\n"
            )
        );
        assert_eq!(script("SELECT $1, $10", &["a"; 10], &[]), "SELECT :a, :a;\n");
        assert_eq!(defines("create"), ["author=bench", "text=a message written by cargo xtask bench"]);
        assert!(defines("list").is_empty());
    }
}

//! The embedded, versioned migrations: ONE list of versions ([`MIGRATIONS`]), each with its
//! PostgreSQL and its SQLite text (`app/migrations/{postgres,sqlite}/NNNN_name.sql`; the dialects
//! differ in types, not in versions). Tests prove both folders hold exactly this list, and that
//! no migration breaks the binary still running ([`compat_violations`], docs/database.md
//! "Backward-compatible migrations").

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};

use super::{Db, DbError};

/// One version, in both dialects.
#[derive(Debug, Clone, Copy)]
pub struct Embedded {
    pub version: i64,
    /// The file name in both folders: `NNNN_<description with underscores>.sql`.
    pub file: &'static str,
    pub description: &'static str,
    pub postgres: &'static str,
    pub sqlite: &'static str,
}

macro_rules! migration {
    ($version:literal, $file:literal, $description:literal) => {
        Embedded {
            version: $version,
            file: $file,
            description: $description,
            postgres: include_str!(concat!("../../migrations/postgres/", $file)),
            sqlite: include_str!(concat!("../../migrations/sqlite/", $file)),
        }
    };
}

/// Every migration, oldest first. Add a line here and a file in BOTH folders.
pub const MIGRATIONS: &[Embedded] = &[migration!(1, "0001_create_messages.sql", "create messages")];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Embedded {
    pub fn sql(&self, dialect: Dialect) -> &'static str {
        match dialect {
            Dialect::Postgres => self.postgres,
            Dialect::Sqlite => self.sqlite,
        }
    }
}

/// sqlx resolves the migrations from this source (the list above) instead of a directory.
impl<'s> MigrationSource<'s> for Dialect {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async move {
            Ok(MIGRATIONS
                .iter()
                .map(|m| {
                    Migration::new(
                        m.version,
                        Cow::Borrowed(m.description),
                        MigrationType::Simple,
                        Cow::Borrowed(m.sql(self)),
                        outside_transaction(m.sql(self)),
                    )
                })
                .collect())
        })
    }
}

async fn migrator(dialect: Dialect) -> Result<Migrator, MigrateError> {
    let mut migrator = Migrator::new(dialect).await?;
    // A database migrated by a NEWER binary (a rollback, or the old tasks still running during a
    // rollout) is fine: expand-then-contract keeps every schema compatible with the previous
    // binary, so versions this binary does not know are not an error.
    migrator.set_ignore_missing(true);
    Ok(migrator)
}

/// Where the schema stands relative to this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaStatus {
    /// Every embedded version is applied (newer ones may be too).
    Current,
    /// These embedded versions are not applied yet.
    Behind { missing: Vec<i64> },
}

impl Db {
    /// Apply every embedded migration not yet applied (in one transaction each; PostgreSQL takes
    /// an advisory lock, so two `migrate` tasks at once apply each migration once).
    pub async fn migrate(&self) -> Result<(), MigrateError> {
        match self {
            Self::Postgres(p) => migrator(Dialect::Postgres).await?.run(p).await,
            Self::Sqlite(p) => migrator(Dialect::Sqlite).await?.run(p).await,
        }
    }

    /// Read-only: which embedded versions the database lacks.
    pub async fn schema_status(&self) -> Result<SchemaStatus, DbError> {
        const SQL: &str = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";
        let applied: Result<Vec<i64>, sqlx::Error> = match self {
            Self::Postgres(p) => sqlx::query_scalar(SQL).fetch_all(p).await,
            Self::Sqlite(p) => sqlx::query_scalar(SQL).fetch_all(p).await,
        };
        let applied = match applied.map_err(DbError::from) {
            Ok(v) => v,
            // No bookkeeping table: nothing was ever applied.
            Err(DbError::SchemaBehind(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        let missing: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).filter(|v| !applied.contains(v)).collect();
        Ok(if missing.is_empty() { SchemaStatus::Current } else { SchemaStatus::Behind { missing } })
    }
}

/// How `app migrate` treats time and locks on PostgreSQL (docs/database.md, "Migrations").
#[derive(Debug, Clone, Copy)]
pub struct MigrateSettings {
    /// `statement_timeout` for the migration session: long (an index build may take minutes),
    /// but never unbounded.
    pub statement_timeout: Duration,
    /// `lock_timeout` for the migration session: short, so an ALTER waiting for a table lock
    /// gives up before the serving queries queued behind it stall for long.
    pub lock_timeout: Duration,
    /// How often a migration that hit the lock timeout is tried again (with backoff).
    pub lock_retries: u32,
    /// How long a second migrator waits for the first one's advisory lock.
    pub wait_for_other_migrator: Duration,
}

impl Default for MigrateSettings {
    fn default() -> Self {
        Self {
            statement_timeout: Duration::from_secs(1800),
            lock_timeout: Duration::from_secs(2),
            lock_retries: 5,
            wait_for_other_migrator: Duration::from_secs(300),
        }
    }
}

/// Why `migrate` failed, each case with what an operator can do.
#[derive(Debug)]
pub enum MigrateFailure {
    /// The database is not reachable (yet): worth retrying.
    Unreachable(sqlx::Error),
    /// Another migrator held the migration lock for the whole wait.
    OtherMigrator { waited: Duration },
    /// Every attempt hit the lock timeout: something holds a lock the migration needs.
    LockTimeout { attempts: u32, error: String },
    /// Anything else: a failing migration, a wrong password, a changed migration file.
    Failed(String),
}

impl std::fmt::Display for MigrateFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(e) => write!(f, "database not reachable: {e}"),
            Self::OtherMigrator { waited } => write!(
                f,
                "another `app migrate` holds the migration lock (waited {} s): it is probably still running; \
                 let it finish, or find it in pg_locks (locktype advisory) and pg_stat_activity",
                waited.as_secs()
            ),
            Self::LockTimeout { attempts, error } => write!(
                f,
                "gave up after {attempts} attempts: a lock the migration needs stayed held longer than the lock \
                 timeout each time ({error}); find the holder in pg_locks / pg_stat_activity and try again"
            ),
            Self::Failed(e) => f.write_str(e),
        }
    }
}

/// The advisory lock key sqlx's own migrator uses (`generate_lock_id` in sqlx-postgres: CRC-32
/// of the database name times a constant), so an older binary's `migrate` excludes ours too.
pub fn advisory_lock_key(database: &str) -> i64 {
    0x3d32_ad9e * i64::from(crc32(database.as_bytes()))
}

/// CRC-32 (IEEE, as zlib): a few lines instead of a dependency.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn sqlstate(e: &MigrateError) -> Option<String> {
    match e {
        MigrateError::Execute(sqlx::Error::Database(db))
        | MigrateError::ExecuteMigration(sqlx::Error::Database(db), _) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

fn unreachable(e: &sqlx::Error) -> bool {
    // A refused server certificate arrives as an I/O error too, but waiting will not fix it.
    matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::Io(_))
        && super::tls_verification_failure(&e.to_string()).is_none()
}

impl Db {
    /// `app migrate`: like [`Db::migrate`], but on PostgreSQL in one session with the
    /// migration's own `statement_timeout` and a short `lock_timeout`, retried with backoff
    /// (1, 2, 4, ... s, at most 30) `lock_retries` times; and waiting for another migrator's
    /// advisory lock at most `wait_for_other_migrator`.
    pub async fn migrate_with(&self, s: &MigrateSettings) -> Result<(), MigrateFailure> {
        let pool = match self {
            Self::Sqlite(_) => {
                return self.migrate().await.map_err(|e| match e {
                    MigrateError::Execute(e) if unreachable(&e) => MigrateFailure::Unreachable(e),
                    e => MigrateFailure::Failed(e.to_string()),
                });
            }
            Self::Postgres(p) => p,
        };
        let failed = |e: sqlx::Error| {
            if unreachable(&e) {
                MigrateFailure::Unreachable(e)
            } else {
                MigrateFailure::Failed(DbError::from(e).to_string())
            }
        };
        let mut conn = pool.acquire().await.map_err(failed)?;
        // Integers formatted by us: SET takes no bind parameters.
        let set = format!(
            "SET statement_timeout = {}; SET lock_timeout = {}",
            s.statement_timeout.as_millis(),
            s.lock_timeout.as_millis()
        );
        sqlx::raw_sql(&set).execute(&mut *conn).await.map_err(failed)?;
        let database: String =
            sqlx::query_scalar("SELECT current_database()").fetch_one(&mut *conn).await.map_err(failed)?;
        let key = advisory_lock_key(&database);
        let started = tokio::time::Instant::now();
        loop {
            let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(key)
                .fetch_one(&mut *conn)
                .await
                .map_err(failed)?;
            if locked {
                break;
            }
            if started.elapsed() >= s.wait_for_other_migrator {
                conn.close_on_drop();
                return Err(MigrateFailure::OtherMigrator { waited: started.elapsed() });
            }
            tracing::info!(key, "another migrator holds the migration lock; waiting");
            tokio::time::sleep(Duration::from_millis(500).min(s.wait_for_other_migrator)).await;
        }
        let mut migrator = migrator(Dialect::Postgres).await.map_err(|e| MigrateFailure::Failed(e.to_string()))?;
        migrator.set_locking(false);
        let mut attempt = 1;
        let result = loop {
            match migrator.run(&mut *conn).await {
                Err(e) if sqlstate(&e).as_deref() == Some("55P03") && attempt <= s.lock_retries => {
                    let backoff = Duration::from_secs(1 << (attempt - 1).min(5)).min(Duration::from_secs(30));
                    tracing::warn!(attempt, error = %e, backoff_secs = backoff.as_secs(), "lock timeout; retrying");
                    tokio::time::sleep(backoff).await;
                    attempt += 1;
                }
                Err(e) if sqlstate(&e).as_deref() == Some("55P03") => {
                    break Err(MigrateFailure::LockTimeout { attempts: attempt, error: e.to_string() });
                }
                Err(MigrateError::Execute(e)) => break Err(failed(e)),
                other => break other.map_err(|e| MigrateFailure::Failed(e.to_string())),
            }
        };
        // The session's settings must not reach a serving query: this connection is not reused.
        conn.close_on_drop();
        result
    }
}

/// What [`Db::ensure_app_role`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRole {
    pub name: String,
    /// The role did not exist and was created.
    pub created: bool,
    /// `rds_iam` exists (RDS) and the role is a member: it logs in with IAM tokens only.
    pub rds_iam: bool,
}

/// The serving tasks' role, made idempotently by the migrating (master) user: LOGIN without a
/// password, a member of `rds_iam` where that role exists (RDS: IAM tokens are then its only
/// way in; local PostgreSQL has no such role, so tests give it a password), and on this
/// database exactly: CONNECT, USAGE on schema public, SELECT/INSERT/UPDATE/DELETE on the app's
/// tables (SELECT only on sqlx's bookkeeping table, which the app reads to check the schema),
/// USAGE on the sequences, and the same for tables and sequences the migrating user creates
/// later (ALTER DEFAULT PRIVILEGES). It never gets CREATE (`REVOKE CREATE ON SCHEMA public FROM
/// PUBLIC` is PostgreSQL 15's default, stated again for databases created before), owns
/// nothing, so it can neither create nor drop nor alter a table. `role` is checked by the
/// configuration (a plain identifier); it is quoted anyway.
const APP_ROLE_SQL: &str = r#"
DO $app_role$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
        BEGIN
            CREATE ROLE "{role}" LOGIN;
        EXCEPTION WHEN duplicate_object THEN
            NULL; -- another migrator created it just now
        END;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
        GRANT rds_iam TO "{role}";
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO "{role}"', current_database());
END
$app_role$;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO "{role}";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}";
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON _sqlx_migrations FROM "{role}";
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{role}";
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO "{role}";
"#;

impl Db {
    /// `app migrate` on PostgreSQL, after the migrations: the serving tasks' least-privileged
    /// role ([`APP_ROLE_SQL`]). SQLite has no roles: `Ok(None)`. Run by the role itself (a local
    /// setup whose DB_USERNAME is the app role): nothing to grant, `Ok(None)`.
    pub async fn ensure_app_role(&self, role: &str) -> Result<Option<AppRole>, String> {
        let Self::Postgres(pool) = self else { return Ok(None) };
        if role.is_empty() || !role.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err(format!("DB_APP_ROLE={role:?} is not a plain role name"));
        }
        let failed = |e: sqlx::Error| {
            let hint = match &e {
                sqlx::Error::Database(d) if d.code().as_deref() == Some("42501") => {
                    " (the migrating user needs CREATEROLE, as RDS's master user has, and must own the app's tables)"
                }
                _ => "",
            };
            format!("setting up the app role {role}: {e}{hint}")
        };
        let mut conn = pool.acquire().await.map_err(failed)?;
        let me: String = sqlx::query_scalar("SELECT current_user::text").fetch_one(&mut *conn).await.map_err(failed)?;
        if me == role {
            return Ok(None);
        }
        let existed: bool = sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)")
            .bind(role)
            .fetch_one(&mut *conn)
            .await
            .map_err(failed)?;
        sqlx::raw_sql(&APP_ROLE_SQL.replace("{role}", role)).execute(&mut *conn).await.map_err(failed)?;
        let rds_iam: bool = sqlx::query_scalar("SELECT pg_has_role($1, 'rds_iam', 'MEMBER')")
            .bind(role)
            .fetch_one(&mut *conn)
            .await
            .or_else(|e| match &e {
                // No rds_iam role (not RDS): pg_has_role raises 42704.
                sqlx::Error::Database(d) if d.code().as_deref() == Some("42704") => Ok(false),
                _ => Err(e),
            })
            .map_err(failed)?;
        Ok(Some(AppRole { name: role.to_owned(), created: !existed, rds_iam }))
    }
}

/// The line in a migration file that marks it as the contract step of expand-then-contract,
/// with the reason it is safe: `-- contract: <what no running binary uses any more, since which
/// release>`.
pub const CONTRACT_MARKER: &str = "-- contract:";

/// The line that makes a migration run outside a transaction (sqlx's `no_tx`): needed by
/// statements PostgreSQL refuses inside one, such as `CREATE INDEX CONCURRENTLY`. Such a file
/// should hold that one statement: if it fails half-way nothing is rolled back (an invalid index
/// stays behind; write it `IF NOT EXISTS` and drop an invalid one before retrying).
pub const NO_TRANSACTION_MARKER: &str = "-- no-transaction";

/// Whether `sql` carries [`NO_TRANSACTION_MARKER`] on a line of its own.
pub fn outside_transaction(sql: &str) -> bool {
    sql.lines().any(|l| l.trim() == NO_TRANSACTION_MARKER)
}

/// Statements in `sql` that would break the binary still running while (or after) it is
/// applied, unless the file is marked as a contract step (see [`CONTRACT_MARKER`]), and
/// statements that cannot run inside the migration's transaction in a file without
/// [`NO_TRANSACTION_MARKER`] (a contract marker does not excuse those). Each entry names the
/// rule and quotes the statement.
pub fn compat_violations(sql: &str) -> Vec<String> {
    let mut found = Vec::new();
    if !outside_transaction(sql) {
        for statement in statements(sql) {
            if format!(" {statement} ").contains(" concurrently ") {
                found.push(format!(
                    "runs CONCURRENTLY, which PostgreSQL refuses inside the migration's transaction (mark the \
                     file `{NO_TRANSACTION_MARKER}`): {statement}"
                ));
            }
        }
    }
    let marked =
        sql.lines().any(|l| l.trim().strip_prefix(CONTRACT_MARKER).is_some_and(|reason| !reason.trim().is_empty()));
    if marked {
        return found;
    }
    for statement in statements(sql) {
        let s = format!(" {statement} ");
        let has = |w: &str| s.contains(&format!(" {w} "));
        let mut rule = |name: &str| found.push(format!("{name}: {statement}"));
        if s.starts_with(" drop table ") || s.starts_with(" drop view ") || s.starts_with(" drop schema ") {
            rule("drops a table, view or schema the previous binary may read");
        }
        if s.starts_with(" truncate ") {
            rule("deletes every row the previous binary may read");
        }
        if !s.starts_with(" alter table ") {
            continue;
        }
        if has("drop column")
            || (has("drop") && !has("drop default") && !has("drop constraint") && !has("drop not null"))
        {
            rule("drops a column the previous binary may read or write");
        }
        if has("rename") {
            rule("renames something the previous binary names");
        }
        if has("type") && has("alter") && (s.contains(" alter column ") || s.matches(" alter ").count() > 1) {
            rule("changes a column's type under the previous binary");
        }
        if has("set not null") {
            rule("makes a column NOT NULL that the previous binary may leave empty");
        }
        if has("add") && has("not null") && !has("default") && !has("constraint") {
            rule("adds a NOT NULL column without a DEFAULT: the previous binary's inserts fail");
        }
    }
    found
}

/// `sql` split into statements: comments removed, lower case, whitespace collapsed.
fn statements(sql: &str) -> Vec<String> {
    let mut text = String::new();
    let mut rest = sql;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |i| &after[i + 2..]);
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            text.push(c.to_ascii_lowercase());
            rest = &rest[c.len_utf8()..];
        }
    }
    text.split(';').map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn folder(dialect: &str) -> BTreeSet<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dialect);
        std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn both_dialects_have_exactly_the_listed_versions_and_names() {
        let listed: BTreeSet<String> = MIGRATIONS.iter().map(|m| m.file.to_owned()).collect();
        assert_eq!(folder("postgres"), listed, "app/migrations/postgres differs from MIGRATIONS");
        assert_eq!(folder("sqlite"), listed, "app/migrations/sqlite differs from MIGRATIONS");
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version, "versions must increase: {pair:?}");
        }
        for m in MIGRATIONS {
            let expected = format!("{:04}_{}.sql", m.version, m.description.replace(' ', "_"));
            assert_eq!(m.file, expected, "file name must be NNNN_<description>.sql");
            assert!(!m.postgres.trim().is_empty() && !m.sqlite.trim().is_empty(), "{} is empty", m.file);
        }
    }

    #[test]
    fn every_migration_is_backward_compatible_or_a_marked_contract_step() {
        for m in MIGRATIONS {
            for dialect in [Dialect::Postgres, Dialect::Sqlite] {
                let bad = compat_violations(m.sql(dialect));
                assert!(bad.is_empty(), "{} ({dialect:?}) is not backward compatible:\n{}", m.file, bad.join("\n"));
            }
        }
    }

    #[test]
    fn the_check_refuses_breaking_statements() {
        for bad in [
            "ALTER TABLE messages DROP COLUMN author;",
            "alter table messages drop author",
            "DROP TABLE messages",
            "ALTER TABLE messages RENAME COLUMN text TO body",
            "ALTER TABLE messages RENAME TO notes",
            "ALTER TABLE messages ALTER COLUMN author TYPE varchar(10)",
            "alter table messages alter column author set data type varchar(10)",
            "ALTER TABLE messages ALTER COLUMN author SET NOT NULL",
            "ALTER TABLE messages ADD COLUMN email TEXT NOT NULL",
            "-- harmless comment\nCREATE INDEX i ON messages (id);\n/* x */ ALTER TABLE\n  messages\n  ADD email text   NOT   NULL;",
            "TRUNCATE messages",
            "CREATE INDEX CONCURRENTLY messages_author ON messages (author)",
            "-- contract: a reason\nDROP INDEX CONCURRENTLY messages_author",
            "-- no-transaction: not on a line of its own\nCREATE INDEX CONCURRENTLY i ON messages (id)",
        ] {
            assert!(!compat_violations(bad).is_empty(), "accepted: {bad}");
        }
    }

    #[test]
    fn the_check_accepts_expand_steps() {
        for ok in [
            "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)",
            "ALTER TABLE messages ADD COLUMN email TEXT",
            "ALTER TABLE messages ADD COLUMN flagged BOOLEAN NOT NULL DEFAULT false",
            "-- no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS messages_author ON messages (author)",
            "ALTER TABLE messages ALTER COLUMN author DROP NOT NULL",
            "ALTER TABLE messages ALTER COLUMN author DROP DEFAULT",
            "-- DROP TABLE messages (only a comment)\nSELECT 1",
        ] {
            assert_eq!(compat_violations(ok), Vec::<String>::new(), "refused: {ok}");
        }
    }

    #[test]
    fn the_advisory_lock_key_is_sqlxs() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926, "the CRC-32/IEEE check value");
        // sqlx-postgres generate_lock_id: 0x3d32ad9e * crc32(name)
        // (python3 -c "import zlib; print(0x3d32ad9e * zlib.crc32(b'postgres'))")
        assert_eq!(advisory_lock_key("postgres"), 368_907_709_894_077_238);
    }

    #[test]
    fn a_marked_contract_step_passes_only_with_a_reason() {
        let marked = "-- contract: nothing reads messages.legacy since release 1.4 (expand was 0007)\n\
                      ALTER TABLE messages DROP COLUMN legacy;";
        assert!(compat_violations(marked).is_empty());
        let no_reason = "-- contract:\nALTER TABLE messages DROP COLUMN legacy;";
        assert!(!compat_violations(no_reason).is_empty());
    }
}

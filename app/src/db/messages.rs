//! The guestbook's queries. The SQL differs between dialects only in how `created_at` becomes
//! RFC 3339 text; both accept `$N` parameters and `RETURNING`.

use super::{Db, DbError, on_pool};

/// A stored message, as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub id: i64,
    pub author: String,
    pub text: String,
    /// RFC 3339, UTC (`2026-11-30T01:02:03.456Z`).
    pub created_at: String,
}

type Row = (i64, String, String, String);

impl From<Row> for MessageRow {
    fn from((id, author, text, created_at): Row) -> Self {
        Self { id, author, text, created_at }
    }
}

pub struct Sql {
    insert: &'static str,
    page: &'static str,
    get: &'static str,
    older_than: &'static str,
}

macro_rules! dialect {
    ($created_at:literal, $older_than:literal) => {
        Sql {
            insert: concat!(
                "INSERT INTO messages (author, text) VALUES ($1, $2) RETURNING id, author, text, ",
                $created_at
            ),
            page: concat!(
                "SELECT id, author, text, ",
                $created_at,
                " FROM messages WHERE id < $1 ORDER BY id DESC LIMIT $2"
            ),
            get: concat!("SELECT id, author, text, ", $created_at, " FROM messages WHERE id = $1"),
            older_than: concat!("DELETE FROM messages WHERE created_at < ", $older_than),
        }
    };
}

pub static POSTGRES: Sql = dialect!(
    r#"to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#,
    "now() - make_interval(days => $1)"
);
// SQLite's created_at is fixed-width RFC 3339 text, so text order is time order.
pub static SQLITE: Sql = dialect!("created_at", "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || $1 || ' days')");

impl Db {
    pub async fn insert_message(&self, author: &str, text: &str) -> Result<MessageRow, DbError> {
        let row: Row = on_pool!(self, pool, sql => {
            sqlx::query_as(sql.insert).bind(author).bind(text).fetch_one(pool).await?
        });
        Ok(row.into())
    }

    /// Up to `limit` messages with an id below `before` (all when `None`), newest first.
    pub async fn list_messages(&self, before: Option<i64>, limit: i64) -> Result<Vec<MessageRow>, DbError> {
        let before = before.unwrap_or(i64::MAX);
        let rows: Vec<Row> = on_pool!(self, pool, sql => {
            sqlx::query_as(sql.page).bind(before).bind(limit).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(MessageRow::from).collect())
    }

    /// The storage guard: delete all but the newest `keep` messages; returns how many went.
    /// (Ids only grow, so "newest" is "highest id"; with fewer rows the subquery is NULL and
    /// nothing matches.)
    pub async fn keep_newest(&self, keep: i64) -> Result<u64, DbError> {
        const SQL: &str =
            "DELETE FROM messages WHERE id <= (SELECT id FROM messages ORDER BY id DESC LIMIT 1 OFFSET $1)";
        let deleted = on_pool!(self, pool, _sql => {
            sqlx::query(SQL).bind(keep).execute(pool).await?.rows_affected()
        });
        Ok(deleted)
    }

    /// The storage guard by age: delete the messages older than `days` days; returns how many
    /// went.
    pub async fn delete_older_than(&self, days: u32) -> Result<u64, DbError> {
        let days = i32::try_from(days).unwrap_or(i32::MAX);
        let deleted = on_pool!(self, pool, sql => {
            sqlx::query(sql.older_than).bind(days).execute(pool).await?.rows_affected()
        });
        Ok(deleted)
    }

    pub async fn get_message(&self, id: i64) -> Result<Option<MessageRow>, DbError> {
        let row: Option<Row> = on_pool!(self, pool, sql => {
            sqlx::query_as(sql.get).bind(id).fetch_optional(pool).await?
        });
        Ok(row.map(MessageRow::from))
    }
}

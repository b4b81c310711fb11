//! The storage guard (issue #26): an anonymous write flood cannot fill the database. Once a
//! minute the binary deletes all but the newest `RETENTION_MAX_ROWS` messages and, when
//! `RETENTION_MAX_AGE_DAYS` is set, the messages older than that. Each pass is two statements on
//! one pool connection at most; a database that cannot be reached is tried again next pass.

use std::time::Duration;

use crate::config::Config;
use crate::db::{Db, DbError};

/// How often the binary runs a pass.
pub const INTERVAL: Duration = Duration::from_secs(60);

/// What to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub max_rows: u64,
    pub max_age_days: Option<u32>,
}

impl Policy {
    pub fn from_config(c: &Config) -> Self {
        Self { max_rows: c.retention_max_rows, max_age_days: c.retention_max_age_days }
    }

    /// One pass; returns the messages deleted (by count, by age).
    pub async fn apply(&self, db: &Db) -> Result<(u64, u64), DbError> {
        let by_count = db.keep_newest(i64::try_from(self.max_rows).unwrap_or(i64::MAX)).await?;
        let by_age = match self.max_age_days {
            Some(days) => db.delete_older_than(days).await?,
            None => 0,
        };
        Ok((by_count, by_age))
    }
}

/// Run a pass every `interval`, forever (the binary spawns it).
pub async fn run(db: Db, policy: Policy, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        match policy.apply(&db).await {
            Ok((0, 0)) => {}
            Ok((by_count, by_age)) => tracing::info!(
                by_count,
                by_age,
                max_rows = policy.max_rows,
                max_age_days = policy.max_age_days,
                "retention: deleted the oldest messages"
            ),
            Err(e) => tracing::debug!(error = %e, "retention: database not reachable; next try next pass"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_loop_trims_to_the_newest_rows_without_being_asked() {
        let db = Db::sqlite_memory();
        db.migrate().await.unwrap();
        for i in 0..5 {
            db.insert_message("a", &format!("m{i}")).await.unwrap();
        }
        let task =
            tokio::spawn(run(db.clone(), Policy { max_rows: 2, max_age_days: Some(30) }, Duration::from_millis(20)));
        let mut left = 5;
        for _ in 0..1500 {
            left = db.list_messages(None, 10).await.unwrap().len();
            if left == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        task.abort();
        assert_eq!(left, 2, "the loop never trimmed the table");
        let texts: Vec<String> = db.list_messages(None, 10).await.unwrap().into_iter().map(|m| m.text).collect();
        assert_eq!(texts, ["m4", "m3"], "the newest stay");
    }
}

-- The guestbook's messages (SQLite dialect of postgres/0001). AUTOINCREMENT: ids never reused,
-- so they only grow, as PostgreSQL's identity column does. created_at is RFC 3339 UTC text.
CREATE TABLE messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    author     TEXT NOT NULL,
    text       TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

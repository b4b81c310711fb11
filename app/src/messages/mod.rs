//! The guestbook resource: `POST /api/messages`, `GET /api/messages` (newest first, cursor
//! pagination), `GET /api/messages/{id}`. Validation lives here (what the text may contain:
//! [`text`]); storage in `crate::db`.

pub mod text;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::db::messages::MessageRow;
use crate::db::{DbError, RETRY_AFTER_SECS};
use crate::error::{ApiError, ErrorBody};

pub const MAX_AUTHOR_CHARS: usize = 64;
pub const MAX_TEXT_CHARS: usize = 1000;
pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/messages", get(list).post(create)).route("/api/messages/{id}", get(show))
}

/// A stored message.
#[derive(Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Message {
    /// Increasing: a newer message has a higher id.
    pub id: i64,
    pub author: String,
    pub text: String,
    /// When it was stored, RFC 3339 in UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        Self { id: r.id, author: r.author, text: r.text, created_at: r.created_at }
    }
}

/// A message to store. Both fields are trimmed; control characters are refused (except line
/// breaks `\n` in `text`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewMessage {
    /// 1 to 64 characters after trimming white space, no control characters.
    #[schema(
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x1f\x7f-\x9f]{0,62}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub author: String,
    /// 1 to 1000 characters after trimming white space; no control characters except line
    /// breaks (`\n`).
    #[schema(
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\x00-\x09\x0b-\x1f\x7f-\x9f]{0,998}[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub text: String,
}

/// One page of messages, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    /// Pass as `before` to get the next (older) page; null on the last page.
    pub next_before: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Only messages with an id below this one (the previous page's `next_before`).
    pub before: Option<i64>,
}

/// Checks, normalises (NFC) and trims a new message; `Err` is the 422 explaining the first
/// problem, naming the field.
pub fn validate(new: &NewMessage) -> Result<(String, String), ApiError> {
    let author = field("author", &text::nfc(&new.author), MAX_AUTHOR_CHARS, false)?;
    let text = field("text", &text::nfc(&new.text), MAX_TEXT_CHARS, true)?;
    Ok((author, text))
}

fn field(name: &str, value: &str, max: usize, newlines: bool) -> Result<String, ApiError> {
    let invalid = |why: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_message", why);
    let trimmed = value.trim();
    let chars = trimmed.chars().count();
    if chars == 0 {
        return Err(invalid(format!("{name} must not be empty")));
    }
    if chars > max {
        return Err(invalid(format!("{name} is {chars} characters; at most {max} are allowed")));
    }
    if trimmed.chars().any(|c| c.is_control() && !(newlines && c == '\n')) {
        let allowed = if newlines { " (line breaks are allowed)" } else { "" };
        return Err(invalid(format!("{name} must not contain control characters{allowed}")));
    }
    // `author` is one line; `text` may hold line breaks.
    text::check(trimmed, !newlines).map_err(|why| invalid(why.describe(name)))?;
    Ok(trimmed.to_owned())
}

/// A database failure as the API answers it.
pub struct DbFailure(pub DbError);

impl From<DbError> for DbFailure {
    fn from(e: DbError) -> Self {
        Self(e)
    }
}

impl IntoResponse for DbFailure {
    fn into_response(self) -> Response {
        let (err, retry) = match &self.0 {
            DbError::Unavailable(detail) => {
                // Not a line per request (a flood would amplify it): the access log counts the
                // 503s (crate::log_summary) and the readiness check logs the outage once.
                tracing::debug!(error = %detail, "database unavailable; answered 503");
                let msg = "the database is unavailable; retry after the Retry-After delay";
                (ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", msg), true)
            }
            DbError::SchemaBehind(detail) => {
                tracing::error!(error = %detail, "the database schema is behind this binary: run `app migrate`");
                let msg = "the database schema is older than this version of the service (run `app migrate`)";
                (ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", msg), true)
            }
            DbError::Other(detail) => {
                tracing::error!(error = %detail, "database error; answered 500");
                (ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal server error"), false)
            }
        };
        let mut res = err.into_response();
        if retry {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        res
    }
}

fn rejection(status: StatusCode, code: &'static str, detail: String) -> ApiError {
    ApiError::new(status, code, detail)
}

/// Store a message.
#[utoipa::path(post, path = "/api/messages", request_body = NewMessage, responses(
    (status = 201, description = "Stored", body = Message,
        headers(("Location" = String, description = "/api/messages/{id}"))),
    (status = 400, description = "Malformed JSON", body = ErrorBody),
    (status = 413, description = "Body too large", body = ErrorBody),
    (status = 415, description = "Not application/json", body = ErrorBody),
    (status = 422, description = "Invalid message (code invalid_message)", body = ErrorBody),
    (status = 429, description = "Rate limited", body = ErrorBody),
    (status = 503, description = "Database unavailable (code database_unavailable; Retry-After)", body = ErrorBody),
))]
pub async fn create(State(state): State<AppState>, body: Result<Json<NewMessage>, JsonRejection>) -> Response {
    let Json(new) = match body {
        Ok(b) => b,
        Err(r) => {
            let code = if r.status() == StatusCode::UNPROCESSABLE_ENTITY { "invalid_message" } else { "bad_request" };
            return rejection(r.status(), code, r.body_text()).into_response();
        }
    };
    let (author, text) = match validate(&new) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    match state.db.insert_message(&author, &text).await {
        Ok(row) => {
            let location =
                HeaderValue::from_str(&format!("/api/messages/{}", row.id)).expect("digits are a valid header");
            (StatusCode::CREATED, [(header::LOCATION, location)], Json(Message::from(row))).into_response()
        }
        Err(e) => DbFailure(e).into_response(),
    }
}

/// Messages, newest first.
#[utoipa::path(get, path = "/api/messages", params(ListParams), responses(
    (status = 200, description = "One page", body = MessagePage),
    (status = 400, description = "Bad limit or before", body = ErrorBody),
    (status = 429, description = "Rate limited", body = ErrorBody),
    (status = 503, description = "Database unavailable (code database_unavailable; Retry-After)", body = ErrorBody),
))]
pub async fn list(State(state): State<AppState>, params: Result<Query<ListParams>, QueryRejection>) -> Response {
    let Query(params) = match params {
        Ok(p) => p,
        Err(r) => return rejection(StatusCode::BAD_REQUEST, "bad_request", r.body_text()).into_response(),
    };
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        let msg = format!("limit must be between 1 and {MAX_LIMIT}");
        return rejection(StatusCode::BAD_REQUEST, "bad_request", msg).into_response();
    }
    // One more than asked: whether it exists says whether there is a next page.
    match state.db.list_messages(params.before, limit + 1).await {
        Ok(mut rows) => {
            let more = rows.len() as i64 > limit;
            rows.truncate(limit as usize);
            let next_before = if more { rows.last().map(|r| r.id) } else { None };
            Json(MessagePage { messages: rows.into_iter().map(Message::from).collect(), next_before }).into_response()
        }
        Err(e) => DbFailure(e).into_response(),
    }
}

/// One message.
#[utoipa::path(get, path = "/api/messages/{id}", params(("id" = i64, Path, description = "The message's id")), responses(
    (status = 200, description = "The message", body = Message),
    (status = 400, description = "The id is not an integer", body = ErrorBody),
    (status = 404, description = "No such message", body = ErrorBody),
    (status = 429, description = "Rate limited", body = ErrorBody),
    (status = 503, description = "Database unavailable (code database_unavailable; Retry-After)", body = ErrorBody),
))]
pub async fn show(State(state): State<AppState>, id: Result<Path<i64>, PathRejection>) -> Response {
    let Path(id) = match id {
        Ok(id) => id,
        Err(r) => return rejection(StatusCode::BAD_REQUEST, "bad_request", r.body_text()).into_response(),
    };
    match state.db.get_message(id).await {
        Ok(Some(row)) => Json(Message::from(row)).into_response(),
        Ok(None) => {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no message with id {id}")).into_response()
        }
        Err(e) => DbFailure(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(author: &str, text: &str) -> NewMessage {
        NewMessage { author: author.into(), text: text.into() }
    }

    #[test]
    fn fields_are_trimmed_and_bounded_in_characters_not_bytes() {
        assert_eq!(validate(&new("  Ada ", "\n hi \n")).unwrap(), ("Ada".into(), "hi".into()));
        let author = "é".repeat(64); // 128 bytes, 64 characters
        assert!(validate(&new(&author, "x")).is_ok());
        assert!(validate(&new(&"é".repeat(65), "x")).is_err());
        assert!(validate(&new("a", &"ß".repeat(1000))).is_ok());
        assert!(validate(&new("a", &"ß".repeat(1001))).is_err());
    }

    #[test]
    fn empty_and_control_characters_are_refused() {
        for (a, t) in [
            ("", "x"),
            ("   ", "x"),
            ("a", ""),
            ("a", " \n "),
            ("a\tb", "x"),
            ("a\nb", "x"),
            ("a", "x\u{0}y"),
            ("a", "x\ry"),
            ("a", "x\u{1b}[31m"),
        ] {
            let err = validate(&new(a, t)).unwrap_err();
            assert_eq!((err.status, err.code), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_message"), "{a:?} {t:?}");
        }
        assert!(validate(&new("a", "line 1\nline 2")).is_ok());
    }

    #[test]
    fn impersonating_text_is_refused_naming_the_field() {
        for (a, t, field) in [
            ("Ada\u{202E}nimda", "x", "author"),
            ("Ada", "see \u{2066}this\u{2069}", "text"),
            ("Ada\u{2028}Admin", "x", "author"),
            ("Ada", &format!("z{}", "\u{0336}".repeat(30)), "text"),
        ] {
            let err = validate(&new(a, t)).unwrap_err();
            assert_eq!((err.status, err.code), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_message"), "{a:?} {t:?}");
            assert!(err.message.starts_with(field), "{}", err.message);
        }
        // A paragraph separator is a line break, allowed where line breaks are.
        assert!(validate(&new("Ada", "one\u{2029}two")).is_ok());
    }

    #[test]
    fn fields_are_stored_in_nfc_and_counted_after_normalising() {
        assert_eq!(
            validate(&new("Rene\u{0301}", "caf\u{0065}\u{0301}")).unwrap(),
            ("Ren\u{e9}".into(), "caf\u{e9}".into())
        );
        // 64 decomposed letters are 128 code points before NFC, 64 after: allowed.
        assert!(validate(&new(&"e\u{0301}".repeat(64), "x")).is_ok());
    }
}

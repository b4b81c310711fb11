//! The OpenAPI document: every resource's paths and schemas, collected in one list, and its
//! handler (`/openapi.json`). Resources do not import this module: the arrows point here.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::AppState;
use crate::error::ErrorBody;
use crate::messages::{self, Message, MessagePage, NewMessage};
use crate::meta::{self, Greeting, Health, Ready};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rdeploy app",
        description = "Hello, health and readiness endpoints, and the guestbook API. Every error response is an ErrorBody."
    ),
    paths(meta::hello, meta::health, meta::ready, openapi, messages::create, messages::list, messages::show),
    components(schemas(Greeting, Health, Ready, ErrorBody, Message, NewMessage, MessagePage))
)]
pub struct ApiDoc;

/// This document.
// Tagged as before the move (utoipa takes the tag from the module path in `paths(..)`).
#[utoipa::path(get, path = "/openapi.json", tag = "meta", responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// `/openapi.json`.
pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi))
}

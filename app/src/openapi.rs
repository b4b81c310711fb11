//! The OpenAPI document: every resource's paths and schemas, collected in one list.

use utoipa::OpenApi;

use crate::error::ErrorBody;
use crate::meta::{self, Greeting, Health, Ready};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rdeploy app",
        description = "Hello, health and readiness endpoints. Every error response is an ErrorBody."
    ),
    paths(meta::hello, meta::health, meta::ready, meta::openapi),
    components(schemas(Greeting, Health, Ready, ErrorBody))
)]
pub struct ApiDoc;

//! The OpenAPI document: every resource's paths and schemas, collected in one list.

use utoipa::OpenApi;

use crate::error::ErrorBody;
use crate::messages::{self, Message, MessagePage, NewMessage};
use crate::meta::{self, Greeting, Health, Ready};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rdeploy app",
        description = "Hello, health and readiness endpoints, and the guestbook API. Every error response is an ErrorBody."
    ),
    paths(meta::hello, meta::health, meta::ready, meta::openapi, messages::create, messages::list, messages::show),
    components(schemas(Greeting, Health, Ready, ErrorBody, Message, NewMessage, MessagePage))
)]
pub struct ApiDoc;

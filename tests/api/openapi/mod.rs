//! `docs/openapi.yaml` against the code, in four suites: the operations are the route table's,
//! with the guards' security and valid examples ([`operations`]); request schemas accept exactly
//! what the domain rules accept ([`requests`]); the response checker catches what it should
//! ([`responses`]; every response the other tests produce goes through it, see
//! `api_tests::openapi`); and the audit trail's, idempotency's and leaked-key reports' parts say
//! what the code does ([`features`]).

mod features;
mod operations;
mod requests;
mod responses;

use api_tests::openapi::description;
use serde_json::Value;

/// Whether `body` is valid under the description's schema named `schema`.
fn valid(schema: &str, body: Value) -> bool {
    description()
        .violations(&description().schema(schema), &body)
        .is_empty()
}

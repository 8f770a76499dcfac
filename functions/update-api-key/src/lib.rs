//! `PATCH /api/v1/applications/{id}/api-keys/{keyId}`: a key's permissions, description, or
//! both; the authorizer sees new permissions on the key's next call.

use appkeys::http::body::{self, Body as RequestBody};
use appkeys::http::{self, query, response};
use appkeys::lambda::State;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(state: &State, request: Request) -> Result<Response<Body>, Error> {
    http::management(&request, &state.config.merchant_claim, |call| async move {
        query::none(call.request)?;
        let (application, key) = (call.application_id()?, call.key_id()?);
        let mut body = RequestBody::new(call.request.body().as_ref());
        let change = body::key_change(body.object()?, &state.config.payment_resources)?;
        let changed = state
            .store
            .change_api_key(&call.caller(), application, key, &change)
            .await?;
        tracing::info!(key_prefix = %changed.key_prefix, key_id = %changed.id, "api key updated");
        Ok(response::json(StatusCode::OK, &changed))
    })
    .await
}

//! `DELETE /api/v1/applications/{id}/api-keys/{keyId}`

use appkeys::http::{self, query, response};
use appkeys::lambda::State;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(state: &State, request: Request) -> Result<Response<Body>, Error> {
    http::management(&request, &state.config.merchant_claim, |call| async move {
        query::none(call.request)?;
        let (application, key) = (call.application_id()?, call.key_id()?);
        state
            .store
            .revoke_api_key(&call.caller(), application, key)
            .await?;
        Ok(response::empty(StatusCode::NO_CONTENT))
    })
    .await
}

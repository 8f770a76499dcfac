//! `PATCH /api/v1/applications/{id}/status`

use appkeys::http::body::{self, Body as JsonBody};
use appkeys::http::{self, query, response};
use appkeys::lambda::State;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(state: &State, request: Request) -> Result<Response<Body>, Error> {
    http::management(&request, &state.config.merchant_claim, |call| async move {
        query::none(call.request)?;
        let id = call.application_id()?;
        let enabled = body::status_change(JsonBody::new(call.request.body()).object()?)?;
        let application = state
            .store
            .set_application_enabled(&call.caller(), id, enabled)
            .await?;
        Ok(response::json(StatusCode::OK, &application))
    })
    .await
}

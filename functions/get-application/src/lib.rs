//! `GET /api/v1/applications/{id}`: one application with its keys, strongly consistent.

use appkeys::http::{self, query, response};
use appkeys::lambda::State;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(state: &State, request: Request) -> Result<Response<Body>, Error> {
    http::management(&request, &state.config.merchant_claim, |call| async move {
        query::none(call.request)?;
        let id = call.application_id()?;
        let application = state
            .store
            .get_application(&call.merchant, id, call.deadline)
            .await?;
        Ok(response::json(StatusCode::OK, &application))
    })
    .await
}

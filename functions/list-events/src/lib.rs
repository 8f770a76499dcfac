//! `GET /api/v1/applications/{id}/events?limit=20&startingAfter={eventId}`: the audit trail of one
//! application, newest first.

use appkeys::http::{self, query, response};
use appkeys::lambda::State;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(state: &State, request: Request) -> Result<Response<Body>, Error> {
    http::management(&request, &state.config.merchant_claim, |call| async move {
        let id = call.application_id()?;
        let page = query::events(call.request)?;
        let events = state
            .store
            .list_events(&call.merchant, id, page, call.deadline)
            .await?;
        Ok(response::json(StatusCode::OK, &events))
    })
    .await
}

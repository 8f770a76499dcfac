//! `GET /api/v1/applications?include=apiKeys&page=1&limit=10`

use appkeys::http::{self, query, response};
use appkeys::lambda::State;
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(state: &State, request: Request) -> Result<Response<Body>, Error> {
    http::management(&request, &state.config.merchant_claim, |call| async move {
        let page = query::page(call.request)?;
        let applications = state
            .store
            .list_applications(&call.merchant, page, call.deadline)
            .await?;
        Ok(response::page(&applications)?)
    })
    .await
}

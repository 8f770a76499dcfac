//! `GET /api/v1/applications/{id}/events?limit=20&startingAfter={eventId}`: the audit trail of one
//! application, newest first.

use appkeys::http::{self, json_response};
use appkeys::Api;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(api: &Api, request: Request) -> Result<Response<Body>, Error> {
    http::respond(&request, async {
        let merchant = http::merchant(&request, &api.config.merchant_claim)?;
        let application_id = http::application_id(&request)?;
        let page = http::events_request(&request)?;
        let events = api
            .store
            .list_events(&merchant, application_id, page.limit, page.starting_after)
            .await?;
        Ok(json_response(StatusCode::OK, &events))
    })
    .await
}

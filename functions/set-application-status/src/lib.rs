//! `PATCH /api/v1/applications/{id}/status`

use appkeys::http::{self, json_response};
use appkeys::Api;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(api: &Api, request: Request) -> Result<Response<Body>, Error> {
    http::respond(&request, async {
        let merchant = http::merchant(&request, &api.config.merchant_claim)?;
        http::no_query(&request)?;
        let application_id = http::application_id(&request)?;
        let enabled = http::status_change(&request)?;
        let application = api
            .store
            .set_application_enabled(&merchant, application_id, enabled, &http::origin(&request))
            .await?;
        Ok(json_response(StatusCode::OK, &application))
    })
    .await
}

//! `GET /api/v1/applications/{id}`: one application with its keys, strongly consistent.

use appkeys::http::{self, json_response};
use appkeys::Api;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(api: &Api, request: Request) -> Result<Response<Body>, Error> {
    http::respond(&request, async {
        let merchant = http::merchant(&request, &api.config.merchant_claim)?;
        http::no_query(&request)?;
        let application_id = http::application_id(&request)?;
        let application = api.store.get_application(&merchant, application_id).await?;
        Ok(json_response(StatusCode::OK, &application))
    })
    .await
}

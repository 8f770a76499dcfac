//! `POST /api/v1/applications`

use appkeys::http::{self, json_response};
use appkeys::Api;
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(api: &Api, request: Request) -> Result<Response<Body>, Error> {
    http::respond(&request, async {
        let merchant = http::merchant(&request, &api.config.merchant_claim)?;
        let new = http::new_application(&request)?;
        let application = api.store.create_application(&merchant, new).await?;
        let mut response = json_response(StatusCode::CREATED, &application);
        let location = format!("/api/v1/applications/{}", application.id);
        response.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_str(&location).expect("a UUID path is a valid header value"),
        );
        Ok(response)
    })
    .await
}

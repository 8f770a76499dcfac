//! `GET /api/v1/applications?include=apiKeys&page=1&limit=10`

use appkeys::http;
use appkeys::Api;
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(api: &Api, request: Request) -> Result<Response<Body>, Error> {
    http::respond(&request, async {
        let merchant = http::merchant(&request, &api.config.merchant_claim)?;
        let page_request = http::page_request(&request)?;
        let page = api.store.list_applications(&merchant, page_request).await?;
        http::page_response(&page)
    })
    .await
}

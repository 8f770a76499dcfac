//! `DELETE /api/v1/applications/{id}/api-keys/{keyId}`

use appkeys::http::{self, empty_response};
use appkeys::Api;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(api: &Api, request: Request) -> Result<Response<Body>, Error> {
    http::respond(&request, async {
        let merchant = http::merchant(&request, &api.config.merchant_claim)?;
        http::no_query(&request)?;
        let application_id = http::application_id(&request)?;
        let key_id = http::key_id(&request)?;
        api.store
            .revoke_api_key(&merchant, application_id, key_id, &http::origin(&request))
            .await?;
        Ok(empty_response(StatusCode::NO_CONTENT))
    })
    .await
}

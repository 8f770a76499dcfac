//! `ANY /api/v1/payments/{proxy+}` until the payments backend exists: echoes who the API-key
//! authorizer said is calling.

use appkeys::http::response;
use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Error, Request, RequestExt, Response};
use serde_json::json;

pub async fn handler(request: Request) -> Result<Response<Body>, Error> {
    let context = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .map(|a| a.fields.clone())
            .unwrap_or_default(),
        _ => Default::default(),
    };
    let body = json!({
        "message": "Your API key works.",
        "method": request.method().as_str(),
        "path": request.uri().path(),
        "authorizer": context,
    });
    Ok(response::json(StatusCode::OK, &body))
}

//! Responses: JSON bodies, empty ones, and a page that must fit in one Lambda response.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::domain::application::Application;
use crate::domain::page::Page;
use crate::domain::Refusal;

/// The API's types serialize whatever their values (no map has keys that are not strings).
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    text(
        status,
        serde_json::to_string(body).expect("response types serialize"),
    )
}

pub(super) fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
}

/// Lambda answers at most 6 MB, and API Gateway's proxy response carries the body as a JSON
/// string inside a JSON document, so every `"` and `\\` in it is escaped once more: what must fit
/// is the escaped body, under 5 MiB to leave room for the rest of the envelope.
pub const MAX_RESPONSE_BODY_BYTES: usize = 5 * 1024 * 1024;

/// The length of `body` as a JSON string (quotes and escapes included).
fn escaped_len(body: &str) -> usize {
    2 + body
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if c < ' ' => 6,
            c => c.len_utf8(),
        })
        .sum::<usize>()
}

/// A page of applications as JSON, or, when it would not fit in one Lambda response (only a
/// page of many applications with their keys and long descriptions can be that large), a 400
/// naming the `limit` that fits, instead of the gateway's bare 5xx.
pub fn page(page: &Page<Application>) -> Result<Response<Body>, Refusal> {
    let body = serde_json::to_string(page).expect("response types serialize");
    let size = escaped_len(&body);
    if size <= MAX_RESPONSE_BODY_BYTES {
        return Ok(text(StatusCode::OK, body));
    }
    let fits = (page.limit as usize * MAX_RESPONSE_BODY_BYTES / size).max(1);
    Err(Refusal::invalid(
        "limit",
        format!(
            "this page with its API keys would be {size} bytes, more than one response can carry ({MAX_RESPONSE_BODY_BYTES}); ask for at most {fits} applications per page"
        ),
    ))
}

//! The HTTP edge: claims → merchant, strict request parsing, and responses; errors become
//! `application/problem+json` in `error`.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::audit::{Origin, EVENTS_LIMIT_DEFAULT, EVENTS_LIMIT_MAX};
use crate::deadline::{Deadline, DeadlineExceeded};
use crate::domain::{
    parse_expiry, Application, ApplicationId, ApplicationName, Description, KeyId, KeyRequest,
    MerchantId, NewApplication, Page, PageRequest, APPLICATION_DESCRIPTION_MAX,
    KEY_DESCRIPTION_MAX, PAGE_LIMIT_MAX,
};
use crate::error::FieldError;
use crate::json::{self, JsonError};
use crate::store::MAX_GRACE_SECONDS;
use crate::time::Timestamp;

pub const MAX_BODY_BYTES: usize = 16 * 1024;

mod error;
pub use error::{ApiError, Missing, WWW_AUTHENTICATE_BEARER, WWW_AUTHENTICATE_SIGNATURE};

/// Runs a handler body until the request's deadline (`Deadline::for_request`) and turns its
/// error, if any, into the problem response. Handlers therefore always answer with a response,
/// and answer it before Lambda's timeout.
pub async fn respond<F>(request: &Request, work: F) -> Result<Response<Body>, lambda_http::Error>
where
    F: std::future::Future<Output = Result<Response<Body>, ApiError>>,
{
    let outcome = Deadline::for_request(request).run(work).await;
    Ok(match outcome {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => err.into_response(&request_id(request)),
        Err(DeadlineExceeded) => ApiError::DeadlineExceeded.into_response(&request_id(request)),
    })
}

/// The API Gateway request id (also in the gateway's access log), else the Lambda one.
pub fn request_id(request: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV2(context)) = request.request_context_ref() {
        if let Some(id) = &context.request_id {
            return id.clone();
        }
    }
    request
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_default()
}

/// A response that carries a full key (creation, roll): no cache, shared or private, may keep it.
pub fn secret_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    let mut response = json_response(status, body);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response<Body> {
    let body = serde_json::to_string(body).expect("response types serialize");
    text_response(status, body)
}

fn text_response(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
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
pub fn page_response(page: &Page<Application>) -> Result<Response<Body>, ApiError> {
    let body = serde_json::to_string(page).map_err(|_| ApiError::Unserializable)?;
    let size = escaped_len(&body);
    if size <= MAX_RESPONSE_BODY_BYTES {
        return Ok(text_response(StatusCode::OK, body));
    }
    let fits = (page.limit as usize * MAX_RESPONSE_BODY_BYTES / size).max(1);
    Err(ApiError::invalid(
        "limit",
        format!(
            "this page with its API keys would be {size} bytes, more than one response can carry ({MAX_RESPONSE_BODY_BYTES}); ask for at most {fits} applications per page"
        ),
    ))
}

pub fn empty_response(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = status;
    response
}

/// The merchant from the claims that API Gateway's JWT authorizer verified. Never from the path,
/// query or body: a request without the claim is refused.
pub fn merchant(request: &Request, claim: &str) -> Result<MerchantId, ApiError> {
    let claims = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims),
        _ => None,
    };
    claims
        .and_then(|claims| claims.get(claim))
        .and_then(|value| MerchantId::from_claim(value))
        .ok_or(ApiError::Unauthorized)
}

/// Where a change comes from, for its audit event: the token's `sub`, the request id, and the
/// caller's address and user agent as API Gateway saw them. Never the token itself.
pub fn origin(request: &Request) -> Origin {
    let context = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => Some(context),
        _ => None,
    };
    let sub = context
        .and_then(|context| context.authorizer.as_ref())
        .and_then(|authorizer| authorizer.jwt.as_ref())
        .and_then(|jwt| jwt.claims.get("sub"))
        .cloned()
        .unwrap_or_default();
    Origin {
        sub,
        request_id: request_id(request),
        source_ip: context.and_then(|context| context.http.source_ip.clone()),
        user_agent: context.and_then(|context| context.http.user_agent.clone()),
        report: None,
    }
}

fn path_parameter<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .path_parameters_ref()
        .and_then(|params| params.first(name))
}

/// A path id that is not a canonical UUID cannot name anything: 404, like an unknown id.
pub fn application_id(request: &Request) -> Result<ApplicationId, ApiError> {
    path_parameter(request, "id")
        .and_then(ApplicationId::parse)
        .ok_or(ApiError::NotFound(Missing::Application))
}

pub fn key_id(request: &Request) -> Result<KeyId, ApiError> {
    path_parameter(request, "keyId")
        .and_then(KeyId::parse)
        .ok_or(ApiError::NotFound(Missing::Key))
}

/// A float with no fractional part, within `i64`.
fn whole(value: f64) -> Option<i64> {
    // 2^63 is exactly representable; every f64 below it in magnitude with no fraction fits.
    (value.fract() == 0.0 && value.abs() < 9_223_372_036_854_775_808.0).then_some(value as i64)
}

/// Runs `take` on each query parameter, strictly: a parameter given twice, or one `take` refuses,
/// is a 400 naming it (every problem at once).
fn strict_query(
    request: &Request,
    mut take: impl FnMut(&str, &str) -> Result<(), FieldError>,
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    let mut seen = Vec::new();
    if let Some(params) = request.query_string_parameters_ref() {
        for (name, value) in params.iter() {
            if seen.contains(&name) {
                errors.push(FieldError::new(name, "must be given at most once"));
                continue;
            }
            seen.push(name);
            if let Err(error) = take(name, value) {
                errors.push(error);
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn unknown_parameter(name: &str) -> FieldError {
    FieldError::new(name, "is not a known query parameter")
}

/// For the routes that take no query parameter: any is 400, so a typo never silently does
/// nothing.
pub fn no_query(request: &Request) -> Result<(), ApiError> {
    strict_query(request, |name, _| Err(unknown_parameter(name)))
}

/// `page`, `limit` and `include`, strictly: unknown, repeated or malformed values are 400.
pub fn page_request(request: &Request) -> Result<PageRequest, ApiError> {
    let mut page = PageRequest {
        page: 1,
        limit: 10,
        include_api_keys: false,
    };
    strict_query(request, |name, value| {
        match name {
            // Any page the type holds: one past the end is 200 and empty, and costs no more
            // than the last page (the store stops at the count).
            "page" => match value.parse::<u32>() {
                Ok(number) if number >= 1 => page.page = number,
                _ => {
                    return Err(FieldError::new(
                        "page",
                        format!("must be a whole number from 1 to {}", u32::MAX),
                    ))
                }
            },
            "limit" => match value.parse::<u32>() {
                Ok(number) if (1..=PAGE_LIMIT_MAX).contains(&number) => page.limit = number,
                _ => {
                    return Err(FieldError::new(
                        "limit",
                        format!("must be a whole number from 1 to {PAGE_LIMIT_MAX}"),
                    ))
                }
            },
            "include" if value == "apiKeys" => page.include_api_keys = true,
            "include" => return Err(FieldError::new("include", "may only be `apiKeys`")),
            other => return Err(unknown_parameter(other)),
        }
        Ok(())
    })?;
    Ok(page)
}

/// `limit` and `startingAfter` of an events page, strictly: unknown, repeated or malformed
/// values are 400.
pub fn events_request(request: &Request) -> Result<EventsRequest, ApiError> {
    let mut page = EventsRequest {
        limit: EVENTS_LIMIT_DEFAULT,
        starting_after: None,
    };
    strict_query(request, |name, value| {
        match name {
            "limit" => match value.parse::<u32>() {
                Ok(number) if (1..=EVENTS_LIMIT_MAX).contains(&number) => page.limit = number,
                _ => {
                    return Err(FieldError::new(
                        "limit",
                        format!("must be a whole number from 1 to {EVENTS_LIMIT_MAX}"),
                    ))
                }
            },
            "startingAfter" => match uuid::Uuid::try_parse(value) {
                Ok(id) if id.hyphenated().to_string() == value => page.starting_after = Some(id),
                _ => {
                    return Err(FieldError::new(
                        "startingAfter",
                        "must be the id of an event from a previous page",
                    ))
                }
            },
            other => return Err(unknown_parameter(other)),
        }
        Ok(())
    })?;
    Ok(page)
}

/// A page of an application's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventsRequest {
    pub limit: u32,
    pub starting_after: Option<uuid::Uuid>,
}

/// A request body that must be one JSON object with only known fields. Each accessor takes a
/// field out; [`JsonObject::finish`] then reports every problem at once, unknown fields included.
pub struct JsonObject {
    fields: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl JsonObject {
    pub fn parse(request: &Request) -> Result<Self, ApiError> {
        let bytes: &[u8] = request.body().as_ref();
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge {
                max: MAX_BODY_BYTES,
            });
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::invalid("body", "a JSON object is required"));
        }
        let value = json::parse_strict(bytes).map_err(|err| match err {
            JsonError::Duplicate { member } => {
                ApiError::invalid(&member, "must be given at most once")
            }
            JsonError::Syntax(err) => {
                ApiError::invalid("body", format!("is not valid JSON: {err}"))
            }
        })?;
        match value {
            Value::Object(fields) => Ok(Self {
                fields,
                errors: Vec::new(),
            }),
            _ => Err(ApiError::invalid("body", "must be a JSON object")),
        }
    }

    fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// `Some(None)` when absent or null; `None` after recording a type error.
    pub fn optional_string(&mut self, field: &str) -> Option<Option<String>> {
        match self.fields.remove(field) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(value)) => Some(Some(value)),
            Some(_) => {
                self.error(field, "must be a string");
                None
            }
        }
    }

    pub fn required_string(&mut self, field: &str) -> Option<String> {
        match self.optional_string(field)? {
            Some(value) => Some(value),
            None => {
                self.error(field, "is required");
                None
            }
        }
    }

    pub fn required_bool(&mut self, field: &str) -> Option<bool> {
        match self.fields.remove(field) {
            Some(Value::Bool(value)) => Some(value),
            None | Some(Value::Null) => {
                self.error(field, "is required");
                None
            }
            Some(_) => {
                self.error(field, "must be a boolean (true or false)");
                None
            }
        }
    }

    /// A JSON integer, `3600.0` included (not `1.5`, not `"1"`); `None` after recording a
    /// problem.
    pub fn required_integer(&mut self, field: &str) -> Option<i64> {
        match self.fields.remove(field) {
            // JSON does not tell 3600 from 3600.0 (JSON Schema counts both as integers), and
            // some clients serialise every number as a float.
            Some(Value::Number(number)) => {
                match number.as_i64().or_else(|| whole(number.as_f64()?)) {
                    Some(value) => Some(value),
                    None => {
                        self.error(field, "must be a whole number");
                        None
                    }
                }
            }
            None | Some(Value::Null) => {
                self.error(field, "is required");
                None
            }
            Some(_) => {
                self.error(field, "must be a number");
                None
            }
        }
    }

    /// Records a domain validation failure for a field.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|err| self.errors.push(err)).ok()
    }

    /// Every problem at once (unknown fields too), or the value built from the fields taken.
    /// The accessors record a problem whenever they give `None`, so `parsed` is `Some` when
    /// nothing was recorded; should a future accessor break that, the body is still refused.
    pub fn finish<T>(mut self, parsed: Option<T>) -> Result<T, ApiError> {
        let unknown: Vec<String> = self.fields.keys().cloned().collect();
        for field in unknown {
            self.error(&field, "is not a known field");
        }
        match parsed {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ if self.errors.is_empty() => Err(ApiError::invalid("body", "is invalid")),
            _ => Err(ApiError::Validation(self.errors)),
        }
    }
}

/// `POST /api/v1/applications`
pub fn new_application(request: &Request) -> Result<NewApplication, ApiError> {
    let mut body = JsonObject::parse(request)?;
    let name = body
        .required_string("name")
        .and_then(|raw| body.check(ApplicationName::parse(&raw)));
    let description = body
        .optional_string("description")
        .and_then(|raw| match raw {
            None => Some(None),
            Some(raw) => body
                .check(Description::parse(
                    "description",
                    &raw,
                    APPLICATION_DESCRIPTION_MAX,
                ))
                .map(Some),
        });
    let new = name
        .zip(description)
        .map(|(name, description)| NewApplication { name, description });
    body.finish(new)
}

/// `POST /api/v1/applications/{id}/api-keys`: a description, and optionally when the key
/// expires (judged against `now`, the server's clock).
pub fn new_api_key(request: &Request, now: Timestamp) -> Result<KeyRequest, ApiError> {
    let mut body = JsonObject::parse(request)?;
    let description = body
        .required_string("description")
        .and_then(|raw| body.check(Description::parse("description", &raw, KEY_DESCRIPTION_MAX)));
    let expires_at = body.optional_string("expiresAt").and_then(|raw| match raw {
        None => Some(None),
        Some(raw) => body.check(parse_expiry(&raw, now)).map(Some),
    });
    let key = description
        .zip(expires_at)
        .map(|(description, expires_at)| KeyRequest {
            description,
            expires_at,
        });
    body.finish(key)
}

/// `POST /api/v1/applications/{id}/api-keys/{keyId}/roll`: the old key's grace window, seconds.
pub fn roll_request(request: &Request) -> Result<i64, ApiError> {
    let mut body = JsonObject::parse(request)?;
    let window = body
        .required_integer("expiresInSeconds")
        .and_then(|seconds| {
            body.check(if (0..=MAX_GRACE_SECONDS).contains(&seconds) {
                Ok(seconds)
            } else {
                Err(FieldError::new(
                    "expiresInSeconds",
                    format!("must be from 0 to {MAX_GRACE_SECONDS} (7 days)"),
                ))
            })
        });
    body.finish(window)
}

/// `PATCH /api/v1/applications/{id}/status`
pub fn status_change(request: &Request) -> Result<bool, ApiError> {
    let mut body = JsonObject::parse(request)?;
    let enabled = body.required_bool("isEnabled");
    body.finish(enabled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> Request {
        Request::new(Body::from(json))
    }

    fn field_errors(err: ApiError) -> Vec<(String, String)> {
        match err {
            ApiError::Validation(errors) => {
                errors.into_iter().map(|e| (e.field, e.message)).collect()
            }
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn a_member_given_twice_is_refused_naming_it() {
        let errors = field_errors(
            status_change(&body(r#"{"isEnabled": true, "isEnabled": false}"#)).unwrap_err(),
        );
        assert_eq!(
            errors,
            vec![("isEnabled".into(), "must be given at most once".into())]
        );
        // Also when both values agree, and at any depth: the body is ambiguous either way.
        let errors =
            field_errors(new_application(&body(r#"{"name": "a", "name": "a"}"#)).unwrap_err());
        assert_eq!(errors[0].0, "name");
        let errors = field_errors(
            new_api_key(
                &body(r#"{"description": "d", "x": [{"a": 1, "a": 2}]}"#),
                Timestamp::from_epoch_seconds(0),
            )
            .unwrap_err(),
        );
        assert_eq!(errors[0].0, "x[0].a");
        // Distinct members and ordinary values still parse.
        assert!(status_change(&body(r#"{"isEnabled": false}"#)).is_ok());
        let app = new_application(&body(r#"{"name": "a", "description": null}"#)).unwrap();
        assert_eq!(app.name.as_str(), "a");
    }

    #[test]
    fn malformed_json_is_still_named_as_such() {
        for bad in [r#"{"name": "#, r#"{"name": "a"} x"#, r#"{"name": "a",}"#] {
            let errors = field_errors(new_application(&body(bad)).unwrap_err());
            assert_eq!(errors[0].0, "body", "{bad}");
            assert!(
                errors[0].1.starts_with("is not valid JSON"),
                "{bad}: {errors:?}"
            );
        }
    }

    #[test]
    fn a_401_names_the_bearer_scheme() {
        let response = ApiError::Unauthorized.into_response("req-1");
        assert_eq!(response.status(), 401);
        let challenge = response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        assert_eq!(challenge, "Bearer");
        for other in [
            ApiError::NotFound(Missing::Key),
            ApiError::PayloadTooLarge {
                max: MAX_BODY_BYTES,
            },
        ] {
            assert!(other
                .into_response("r")
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .is_none());
        }
    }

    #[test]
    fn any_page_the_type_holds_is_valid() {
        use lambda_http::aws_lambda_events::query_map::QueryMap;
        let page = |value: &str| {
            let query: QueryMap =
                std::collections::HashMap::from([("page".to_owned(), value.to_owned())]).into();
            page_request(&Request::default().with_query_string_parameters(query))
        };
        assert_eq!(page("1").unwrap().page, 1);
        assert_eq!(page("1000001").unwrap().page, 1_000_001);
        assert_eq!(page(&u32::MAX.to_string()).unwrap().page, u32::MAX);
        for bad in ["0", "-1", "4294967296", "1.5", "two", ""] {
            let errors = field_errors(page(bad).unwrap_err());
            assert_eq!(errors[0].0, "page", "{bad}");
            assert!(errors[0].1.contains("4294967295"), "{bad}: {errors:?}");
        }
    }
}

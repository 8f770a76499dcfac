//! A local stand-in for API Gateway (HTTP API): it serves the routes of `devkit::routes`,
//! checks management JWTs and their scopes as the HTTP API JWT authorizer would, runs the API-key
//! authorizer in front of the payment routes, answers CORS as the API's CORS configuration
//! would, builds the same payload-2.0 events API Gateway builds, and runs the functions' own
//! handlers in-process.
//!
//! It lives under `tools/`, not `functions/`: it is never deployed; in AWS, API Gateway does
//! its job.

pub mod cors;
pub mod dev_secret;
pub mod functions;
pub mod jwt;
pub mod signer;
pub mod stream;
pub mod subscriber;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use appkeys::lambda::sdk::{sdk_config, Budget};
use base64::Engine;
use devkit::routes::{self, Guard, Route, Scopes};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;

pub use cors::Cors;
pub use functions::Functions;
pub use jwt::JwtSettings;

/// API Gateway's own payload limit; the functions apply their stricter one.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

pub struct Gateway {
    pub functions: Functions,
    pub jwt: JwtSettings,
    pub cors: Cors,
}

impl Gateway {
    /// Accepts connections until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let gateway = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let gateway = gateway.clone();
                    async move { Ok::<_, std::convert::Infallible>(gateway.handle(request, peer).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    pub async fn handle(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let origin = request
            .headers()
            .get("origin")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut response = self.route(request, peer).await;
        self.cors
            .response_headers(origin.as_deref(), response.headers_mut());
        response
    }

    async fn route(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, MAX_PAYLOAD_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
        };
        let incoming = Arrived { parts, body, peer };
        let Some((route, parameters)) =
            routes::find(incoming.parts.method.as_str(), incoming.parts.uri.path())
        else {
            if self
                .cors
                .is_preflight(&incoming.parts.method, &incoming.parts.headers)
            {
                let mut response = Response::new(Full::new(Bytes::new()));
                *response.status_mut() = StatusCode::NO_CONTENT;
                self.cors
                    .preflight_headers(incoming.header("origin"), response.headers_mut());
                return response;
            }
            return message(StatusCode::NOT_FOUND, "Not Found");
        };
        let authorization = incoming.header("authorization");
        let authorizer = match route.guard {
            Guard::Jwt => match self.jwt.verify(authorization) {
                Some(token) => {
                    let granted: Vec<&str> = token.scopes.iter().map(String::as_str).collect();
                    if !Scopes::allow(&route.required_scopes(&self.jwt.scopes), &granted) {
                        // A valid token without the route's scope: API Gateway's 403.
                        return message(StatusCode::FORBIDDEN, "Forbidden");
                    }
                    let scopes = (!token.scopes.is_empty()).then_some(token.scopes);
                    json!({ "jwt": { "claims": token.claims, "scopes": scopes } })
                }
                None => return message(StatusCode::UNAUTHORIZED, "Unauthorized"),
            },
            // The function checks the caller's signature itself.
            Guard::Signature => Value::Null,
            Guard::ApiKey => {
                // The identity source is the Authorization header: without it API Gateway
                // answers 401 and does not call the authorizer.
                if authorization.is_none() {
                    return message(StatusCode::UNAUTHORIZED, "Unauthorized");
                }
                let Ok(event) = incoming.authorizer_event(route, &parameters) else {
                    return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
                };
                match self.functions.authorize(event).await {
                    Ok(decision) if decision.is_authorized => json!({ "lambda": decision.context }),
                    Ok(_) => return message(StatusCode::FORBIDDEN, "Forbidden"),
                    Err(_) => {
                        return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
                    }
                }
            }
        };
        let event = incoming.http_event(route, &parameters, authorizer);
        let request = match lambda_http::request::from_str(&event.to_string()) {
            Ok(request) => request,
            Err(_) => return message(StatusCode::BAD_REQUEST, "Bad Request"),
        };
        match self.functions.invoke(route.function, request).await {
            Ok(response) => into_http(response),
            // A handler error is a Lambda invocation error: API Gateway answers 500.
            Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        }
    }
}

/// API Gateway's own error bodies: `{"message": "..."}`.
fn message(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(
        json!({ "message": text }).to_string(),
    )));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn into_http(response: lambda_http::Response<lambda_http::Body>) -> Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    Response::from_parts(parts, Full::new(bytes))
}

struct Arrived {
    parts: hyper::http::request::Parts,
    body: Bytes,
    peer: SocketAddr,
}

impl Arrived {
    fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Header names lower-cased and repeated values comma-joined, as in payload 2.0.
    fn headers(&self) -> Map<String, Value> {
        let mut headers: Map<String, Value> = Map::new();
        for (name, value) in &self.parts.headers {
            if name == hyper::header::COOKIE {
                continue;
            }
            push_joined(
                &mut headers,
                name.as_str(),
                &String::from_utf8_lossy(value.as_bytes()),
            );
        }
        headers
    }

    fn cookies(&self) -> Value {
        let cookies: Vec<&str> = self
            .parts
            .headers
            .get_all(hyper::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';').map(str::trim))
            .filter(|c| !c.is_empty())
            .collect();
        if cookies.is_empty() {
            Value::Null
        } else {
            json!(cookies)
        }
    }

    fn raw_query(&self) -> &str {
        self.parts.uri.query().unwrap_or("")
    }

    /// Decoded, with repeated parameters comma-joined, as in payload 2.0.
    fn query_parameters(&self) -> Value {
        let mut query: Map<String, Value> = Map::new();
        for (name, value) in form_urlencoded::parse(self.raw_query().as_bytes()) {
            push_joined(&mut query, &name, &value);
        }
        if query.is_empty() {
            Value::Null
        } else {
            Value::Object(query)
        }
    }

    fn request_context(&self, route: &Route, authorizer: Option<Value>) -> Value {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let host = self.header("host").unwrap_or("localhost").to_owned();
        let mut context = json!({
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or("localhost"),
            "http": {
                "method": self.parts.method.as_str(),
                "path": self.parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": self.peer.ip().to_string(),
                "userAgent": self.header("user-agent").unwrap_or(""),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route.route_key(),
            "stage": "$default",
            "time": format_clf_time(now.as_secs()),
            "timeEpoch": now.as_millis() as u64,
        });
        if let Some(authorizer) = authorizer {
            context["authorizer"] = authorizer;
        }
        context
    }

    fn path_parameters(parameters: &[(&'static str, String)]) -> Value {
        if parameters.is_empty() {
            return Value::Null;
        }
        Value::Object(
            parameters
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect(),
        )
    }

    /// What every payload-2.0 event carries about the request itself.
    fn request_fields(
        &self,
        route: &Route,
        parameters: &[(&'static str, String)],
        authorizer: Option<Value>,
    ) -> Value {
        json!({
            "version": "2.0",
            "routeKey": route.route_key(),
            "rawPath": self.parts.uri.path(),
            "rawQueryString": self.raw_query(),
            "cookies": self.cookies(),
            "headers": self.headers(),
            "queryStringParameters": self.query_parameters(),
            "pathParameters": Self::path_parameters(parameters),
            "requestContext": self.request_context(route, authorizer),
        })
    }

    /// The payload-2.0 event API Gateway sends an HTTP integration.
    fn http_event(
        &self,
        route: &Route,
        parameters: &[(&'static str, String)],
        authorizer: Value,
    ) -> Value {
        let (body, is_base64) = self.body();
        let mut event = self.request_fields(route, parameters, Some(authorizer));
        event["body"] = body;
        event["isBase64Encoded"] = json!(is_base64);
        without_nulls(event)
    }

    /// The event API Gateway sends a Lambda authorizer (payload 2.0).
    fn authorizer_event(
        &self,
        route: &Route,
        parameters: &[(&'static str, String)],
    ) -> Result<authorizer::Request, serde_json::Error> {
        let mut event = self.request_fields(route, parameters, None);
        event["type"] = json!("REQUEST");
        event["routeArn"] = json!(format!(
            "arn:aws:execute-api:local:000000000000:local/$default/{}{}",
            self.parts.method,
            self.parts.uri.path()
        ));
        event["identitySource"] = json!([self.header("authorization").unwrap_or_default()]);
        event["stageVariables"] = json!({});
        serde_json::from_value(without_nulls(event))
    }

    /// Text bodies as they are; anything else base64-encoded, as API Gateway does.
    fn body(&self) -> (Value, bool) {
        if self.body.is_empty() {
            return (Value::Null, false);
        }
        match std::str::from_utf8(&self.body) {
            Ok(text) => (json!(text), false),
            Err(_) => (
                json!(base64::engine::general_purpose::STANDARD.encode(&self.body)),
                true,
            ),
        }
    }
}

/// Payload 2.0 joins repeated headers and query parameters with commas.
fn push_joined(members: &mut Map<String, Value>, name: &str, value: &str) {
    match members.get_mut(name) {
        Some(Value::String(existing)) => {
            existing.push(',');
            existing.push_str(value);
        }
        _ => {
            members.insert(name.to_owned(), Value::String(value.to_owned()));
        }
    }
}

/// API Gateway leaves out members it has no value for (no cookies, no query, no body).
fn without_nulls(mut event: Value) -> Value {
    if let Value::Object(members) = &mut event {
        members.retain(|_, value| !value.is_null());
    }
    event
}

/// `26/Nov/2026:12:00:00 +0000`, API Gateway's `requestContext.time`.
fn format_clf_time(epoch_seconds: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let iso = aws_sdk_dynamodb::primitives::DateTime::from_secs(epoch_seconds as i64)
        .fmt(aws_sdk_dynamodb::primitives::DateTimeFormat::DateTime)
        .unwrap_or_default();
    // iso: 2026-11-26T12:00:00Z
    let month = iso
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(1);
    format!(
        "{}/{}/{}:{} +0000",
        &iso[8..10],
        MONTHS[month - 1],
        &iso[0..4],
        &iso[11..19]
    )
}

/// Everything a local run needs, built from the environment as the Lambda functions build it.
pub async fn from_env() -> Result<Gateway, lambda_http::Error> {
    dev_secret::check(|name| std::env::var(name).ok())?;
    let config = appkeys::lambda::Config::from_env()?;
    let sdk = sdk_config(Budget::MANAGEMENT).await;
    let pepper = appkeys::lambda::pepper_from_env(&sdk).await?;
    let keys_url =
        appkeys::lambda::config::secret_scanning_keys_url(|name| std::env::var(name).ok())?;
    let functions = Functions::new(appkeys::lambda::State::new(config, &sdk), pepper)
        .with_signing_keys(appkeys::secret_scanning::PublicKeys::new(&keys_url));
    Ok(Gateway {
        functions,
        jwt: JwtSettings::from_env(),
        cors: Cors::from_env(),
    })
}

/// Creates the table and the pepper secret when they do not exist yet (idempotent).
pub async fn ensure_local_resources(
    table: &str,
    secret_id: Option<&str>,
    event_bus: Option<&str>,
) -> Result<(), lambda_http::Error> {
    let sdk = sdk_config(Budget::MANAGEMENT).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    if dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .is_err()
    {
        devkit::schema::create_table(&dynamodb, table).await?;
    }
    if let Some(secret_id) = secret_id {
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        if secrets
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .is_err()
        {
            let mut pepper = [0u8; 32];
            getrandom::fill(&mut pepper)?;
            secrets
                .create_secret()
                .name(secret_id)
                .secret_string(hex::encode(pepper))
                .send()
                .await?;
        }
    }
    if let Some(bus) = event_bus {
        let events = aws_sdk_eventbridge::Client::new(&sdk);
        if events.describe_event_bus().name(bus).send().await.is_err() {
            events.create_event_bus().name(bus).send().await?;
        }
    }
    Ok(())
}

/// Path parameters and claims are strings in API Gateway's events.
pub type Claims = HashMap<String, String>;

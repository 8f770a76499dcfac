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
mod event;
pub mod functions;
pub mod jwt;
mod setup;
pub mod signer;
pub mod stream;
pub mod subscriber;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use devkit::routes::{self, Guard, Scopes};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub use cors::Cors;
use event::Arrived;
pub use functions::Functions;
pub use jwt::JwtSettings;
pub use setup::{ensure_local_resources, from_env};

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
            // The function checks the caller's signature itself; static files need no caller.
            Guard::Signature | Guard::Public => Value::Null,
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

/// Path parameters and claims are strings in API Gateway's events.
pub type Claims = HashMap<String, String>;

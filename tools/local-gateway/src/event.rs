//! A request as API Gateway (HTTP API) delivers it to a function: the payload-2.0 event, with
//! the route, path parameters, claims and the request context it would build.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use devkit::routes::Route;
use hyper::body::Bytes;
use serde_json::{json, Map, Value};

pub(crate) struct Arrived {
    pub(crate) parts: hyper::http::request::Parts,
    pub(crate) body: Bytes,
    pub(crate) peer: SocketAddr,
}

impl Arrived {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Header names lower-cased and repeated values comma-joined, as in payload 2.0.
    pub(crate) fn headers(&self) -> Map<String, Value> {
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

    pub(crate) fn cookies(&self) -> Value {
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

    pub(crate) fn raw_query(&self) -> &str {
        self.parts.uri.query().unwrap_or("")
    }

    /// Decoded, with repeated parameters comma-joined, as in payload 2.0.
    pub(crate) fn query_parameters(&self) -> Value {
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

    pub(crate) fn request_context(&self, route: &Route, authorizer: Option<Value>) -> Value {
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

    pub(crate) fn path_parameters(parameters: &[(&'static str, String)]) -> Value {
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
    pub(crate) fn request_fields(
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
    pub(crate) fn http_event(
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
    pub(crate) fn authorizer_event(
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
    pub(crate) fn body(&self) -> (Value, bool) {
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

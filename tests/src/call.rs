//! Requests as API Gateway delivers them: a management or report call as an HTTP API event
//! (payload 2.0, built on the event fixture the `aws_lambda_events` crate ships), and the
//! authorizer's event for a payment call.

use std::collections::HashMap;

use devkit::routes::{Guard, ROUTES};
use lambda_http::Request;
use serde_json::{json, Value};

/// An API Gateway HTTP API event with a JWT authorizer, exactly as the `aws_lambda_events` crate
/// ships it (captured from AWS). Tests change only the fields a real request would change.
pub const JWT_EVENT: &str = include_str!("../../events/apigw-http-api-jwt-request.json");

/// The bearer token every built management call carries. A check for it in logs or events
/// cannot match by chance, as a bare "eyJ" can inside a random key prefix.
pub const BEARER_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.e30.sig";

/// The token's header segment: found alone, it is part of the token leaked.
pub const BEARER_TOKEN_HEADER: &str = "eyJhbGciOiJSUzI1NiJ9";

/// An HTTP API Lambda authorizer event (payload 2.0), as the `aws_lambda_events` crate ships it.
pub const AUTHORIZER_EVENT: &str =
    include_str!("../../events/apigw-http-api-authorizer-request.json");

/// One HTTP API request, turned into the event API Gateway would deliver.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: &'static str,
    pub route: &'static str,
    pub path: String,
    pub path_parameters: Vec<(&'static str, String)>,
    pub query: String,
    pub body: Option<String>,
    pub base64: bool,
    pub claims: HashMap<String, String>,
    /// Headers beyond the fixture's (e.g. `idempotency-key`).
    pub headers: Vec<(String, String)>,
}

impl Call {
    pub fn new(method: &'static str, route: &'static str, path: impl Into<String>) -> Self {
        Self {
            method,
            route,
            path: path.into(),
            path_parameters: Vec::new(),
            query: String::new(),
            body: None,
            base64: false,
            claims: HashMap::new(),
            headers: Vec::new(),
        }
    }

    /// `method` on `path`, with the route and path parameters API Gateway would find for it
    /// (parameters percent-decoded, as API Gateway passes them).
    pub fn to(method: &str, path: &str) -> Self {
        let method = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
            .into_iter()
            .find(|known| *known == method)
            .unwrap_or_else(|| panic!("an HTTP method: {method}"));
        let (route, parameters) = devkit::routes::find(method, path)
            .unwrap_or_else(|| panic!("no route for {method} {path}"));
        let mut call = Self::new(method, route.path, path);
        for (name, value) in parameters {
            call = call.param(name, &percent_decoded(&value));
        }
        call
    }

    pub fn post(route: &'static str, path: impl Into<String>, body: Value) -> Self {
        Self::new("POST", route, path).body(body.to_string())
    }

    pub fn list(query: &str) -> Self {
        Self::new("GET", "/api/v1/applications", "/api/v1/applications").query(query)
    }

    pub fn set_status(app: &str, body: Value) -> Self {
        Self::new(
            "PATCH",
            "/api/v1/applications/{id}/status",
            format!("/api/v1/applications/{app}/status"),
        )
        .param("id", app)
        .body(body.to_string())
    }

    pub fn create_key(app: &str, body: Value) -> Self {
        Self::new(
            "POST",
            "/api/v1/applications/{id}/api-keys",
            format!("/api/v1/applications/{app}/api-keys"),
        )
        .param("id", app)
        .body(body.to_string())
    }

    pub fn get_application(app: &str) -> Self {
        Self::new(
            "GET",
            "/api/v1/applications/{id}",
            format!("/api/v1/applications/{app}"),
        )
        .param("id", app)
    }

    pub fn roll_key(app: &str, key: &str, body: Value) -> Self {
        Self::new(
            "POST",
            "/api/v1/applications/{id}/api-keys/{keyId}/roll",
            format!("/api/v1/applications/{app}/api-keys/{key}/roll"),
        )
        .param("id", app)
        .param("keyId", key)
        .body(body.to_string())
    }

    pub fn update_key(app: &str, key: &str, body: Value) -> Self {
        Self::new(
            "PATCH",
            "/api/v1/applications/{id}/api-keys/{keyId}",
            format!("/api/v1/applications/{app}/api-keys/{key}"),
        )
        .param("id", app)
        .param("keyId", key)
        .body(body.to_string())
    }

    pub fn revoke_key(app: &str, key: &str) -> Self {
        Self::new(
            "DELETE",
            "/api/v1/applications/{id}/api-keys/{keyId}",
            format!("/api/v1/applications/{app}/api-keys/{key}"),
        )
        .param("id", app)
        .param("keyId", key)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn idempotency_key(self, key: &str) -> Self {
        self.header("idempotency-key", key)
    }

    /// `POST /api/v1/secret-scanning/reports` with `body`, signed by `signer` (as GitHub signs).
    pub fn leak_report(body: &str, signer: &local_gateway::signer::Signer) -> Self {
        Self::unsigned_leak_report(body)
            .header("github-public-key-identifier", &signer.identifier)
            .header("github-public-key-signature", &signer.sign(body.as_bytes()))
    }

    pub fn unsigned_leak_report(body: &str) -> Self {
        const ROUTE: &str = "/api/v1/secret-scanning/reports";
        Self::new("POST", ROUTE, ROUTE)
            .body(body)
            .header("user-agent", "GitHub-Hookshot/044aadd")
    }

    pub fn events(app: &str, query: &str) -> Self {
        let mut call = Self::new(
            "GET",
            "/api/v1/applications/{id}/events",
            format!("/api/v1/applications/{app}/events"),
        )
        .param("id", app);
        call.query = query.to_owned();
        call
    }

    /// The raw query string (`a=1&b=2`).
    pub fn query(mut self, query: &str) -> Self {
        self.query = query.to_owned();
        self
    }

    pub fn param(mut self, name: &'static str, value: &str) -> Self {
        self.path_parameters.push((name, value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    pub fn base64_body(mut self, encoded: impl Into<String>) -> Self {
        self.body = Some(encoded.into());
        self.base64 = true;
        self
    }

    /// The claims API Gateway's JWT authorizer passes on for a token of `merchant`.
    pub fn merchant(self, merchant: &str) -> Self {
        self.claim("merchant_id", merchant)
            .claim("sub", "user-1")
            .claim("iss", "https://issuer.example.com")
            .claim("aud", "applications-api")
            .claim("exp", "4102444800")
    }

    pub fn claim(mut self, name: &str, value: &str) -> Self {
        self.claims.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn event_json(&self) -> Value {
        let mut event: Value = serde_json::from_str(JWT_EVENT).expect("fixture is JSON");
        let route_key = format!("{} {}", self.method, self.route);
        event["routeKey"] = json!(route_key);
        event["rawPath"] = json!(self.path);
        event["rawQueryString"] = json!(self.query);
        let mut query: serde_json::Map<String, Value> = serde_json::Map::new();
        for pair in self.query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            // HTTP API joins repeated parameters with commas.
            let joined = match query.get(name).and_then(Value::as_str) {
                Some(previous) => format!("{previous},{value}"),
                None => value.to_owned(),
            };
            query.insert(name.to_owned(), json!(joined));
        }
        event["queryStringParameters"] = if query.is_empty() {
            Value::Null
        } else {
            Value::Object(query)
        };
        event["pathParameters"] = if self.path_parameters.is_empty() {
            Value::Null
        } else {
            Value::Object(
                self.path_parameters
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(v)))
                    .collect(),
            )
        };
        event["headers"] = json!({
            "accept": "application/json",
            "authorization": format!("Bearer {BEARER_TOKEN}"),
            "content-type": "application/json",
            "host": "id.execute-api.us-east-1.amazonaws.com",
            "user-agent": "curl/8.5.0",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https"
        });
        for (name, value) in &self.headers {
            event["headers"][name.to_ascii_lowercase()] = json!(value);
        }
        let user_agent = event["headers"]["user-agent"].clone();
        let context = &mut event["requestContext"];
        context["routeKey"] = json!(route_key);
        context["requestId"] = json!(uuid::Uuid::new_v4().to_string());
        context["http"]["method"] = json!(self.method);
        context["http"]["path"] = json!(self.path);
        // As API Gateway fills them: the caller's address and its User-Agent header.
        context["http"]["sourceIp"] = json!("203.0.113.7");
        context["http"]["userAgent"] = user_agent;
        context["authorizer"]["jwt"]["claims"] = json!(self.claims);
        let unguarded = ROUTES
            .iter()
            .any(|route| route.route_key() == route_key && route.guard == Guard::Signature);
        if unguarded {
            // No authorizer in front: API Gateway passes no authorizer context, and the caller
            // (GitHub) sends no Authorization header.
            if let Some(context) = context.as_object_mut() {
                context.remove("authorizer");
            }
            if let Some(headers) = event["headers"].as_object_mut() {
                headers.remove("authorization");
            }
        }
        event["body"] = match &self.body {
            Some(body) => json!(body),
            None => Value::Null,
        };
        event["isBase64Encoded"] = json!(self.base64);
        event
    }
}

impl From<Call> for Request {
    fn from(call: Call) -> Request {
        lambda_http::request::from_str(&call.event_json().to_string())
            .expect("a valid HTTP API event")
    }
}

pub(crate) fn route_key(request: &Request) -> String {
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.route_key.clone().unwrap_or_default()
        }
        _ => panic!("not an HTTP API event"),
    }
}

/// The event API Gateway sends the authorizer for `GET /api/v1/payments/ping`.
pub fn authorizer_event(authorization: Option<&str>) -> authorizer::Request {
    let mut event: Value = serde_json::from_str(AUTHORIZER_EVENT).expect("fixture is JSON");
    event["routeArn"] = json!(
        "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/GET/api/v1/payments/ping"
    );
    event["routeKey"] = json!("ANY /api/v1/payments/{proxy+}");
    event["rawPath"] = json!("/api/v1/payments/ping");
    event["rawQueryString"] = json!("");
    event["queryStringParameters"] = json!({});
    event["pathParameters"] = json!({"proxy": "ping"});
    let mut headers = json!({
        "accept": "*/*",
        "host": "abcdef123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "curl/8.5.0",
        "x-forwarded-proto": "https"
    });
    match authorization {
        Some(value) => {
            headers["authorization"] = json!(value);
            event["identitySource"] = json!([value]);
        }
        None => event["identitySource"] = json!([]),
    }
    event["headers"] = headers;
    let context = &mut event["requestContext"];
    context["routeKey"] = json!("ANY /api/v1/payments/{proxy+}");
    context["requestId"] = json!(uuid::Uuid::new_v4().to_string());
    context["http"]["method"] = json!("GET");
    context["http"]["path"] = json!("/api/v1/payments/ping");
    serde_json::from_value(event).expect("a valid authorizer event")
}

/// `request` as Lambda would invoke it with `left` before its deadline: the handler's deadline
/// (and so its store's retries) ends [`appkeys::lambda::deadline::ANSWER_MARGIN`] before that.
pub fn due_in(request: Request, left: std::time::Duration) -> Request {
    use lambda_http::RequestExt;
    let mut context = lambda_http::Context::default();
    context.deadline = (std::time::SystemTime::now() + left)
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_millis() as u64;
    request.with_lambda_context(context)
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

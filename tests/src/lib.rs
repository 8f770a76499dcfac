//! Test harness: each test gets its own DynamoDB table (production schema) on the endpoint the
//! environment names — moto's server on loopback under `scripts/test`, real DynamoDB only when
//! `APPKEYS_TEST_REAL_AWS=1` says so (see [`sdk`]) — and drives the functions' own handlers with
//! real API Gateway HTTP API (payload 2.0) events.

pub mod cloudformation;
pub mod concurrent;
pub mod openapi;
pub mod permissions;
pub mod runtime_api;

use std::collections::HashMap;

use appkeys::api_key::{KeyMode, Pepper};
use appkeys::authorize::KeyVerifier;
use appkeys::aws::{sdk_config, Budget, RequestCounter};
use appkeys::config::Limits;
use appkeys::store::test_util::create_table;
use appkeys::time::Clock;
use appkeys::{Api, Config, Store};
use aws_config::SdkConfig;
use lambda_http::{Body, Request};
use serde_json::{json, Value};

/// An API Gateway HTTP API event with a JWT authorizer, exactly as the `aws_lambda_events` crate
/// ships it (captured from AWS). Tests change only the fields a real request would change.
pub const JWT_EVENT: &str = include_str!("../../events/apigw-http-api-jwt-request.json");

/// An HTTP API Lambda authorizer event (payload 2.0), as the `aws_lambda_events` crate ships it.
pub const AUTHORIZER_EVENT: &str =
    include_str!("../../events/apigw-http-api-authorizer-request.json");

/// Set to `1` to run the suite against real AWS (DynamoDB and Secrets Manager in the account and
/// region of your credentials): without it, the suite talks to a loopback endpoint only.
pub const REAL_AWS_OPT_IN: &str = "APPKEYS_TEST_REAL_AWS";

/// The SDK configuration every test uses. It refuses (panics) unless every service the tests call
/// would be reached on this machine, or the run opted in to real AWS: a plain `cargo test` in a
/// shell with AWS credentials must not create tables in whatever account is active.
pub async fn sdk(budget: Budget) -> SdkConfig {
    if let Err(refusal) = may_touch_aws(|name| std::env::var(name).ok()) {
        panic!("{refusal}");
    }
    sdk_config(budget).await
}

/// `Ok` when the tests may run against the endpoints the environment names; else why not.
pub fn may_touch_aws(lookup: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    if lookup(REAL_AWS_OPT_IN).is_some_and(|value| value.trim() == "1") {
        return Ok(());
    }
    let remote = appkeys::aws::remote_services(&lookup);
    if remote.is_empty() {
        return Ok(());
    }
    Err(format!(
        "refusing to run: {} requests would go to real AWS (AWS_ENDPOINT_URL is unset or not a \
         loopback address), where these tests create and delete tables in the account of your \
         credentials. Run `scripts/test` (it starts a local endpoint), or point AWS_ENDPOINT_URL \
         at your own local endpoint (http://127.0.0.1:<port>), or set {REAL_AWS_OPT_IN}=1 to \
         run against real AWS on purpose.",
        remote.join(" and ")
    ))
}

/// A Secrets Manager secret holding `value`, as the deployment's pepper secret; returns its id.
pub async fn create_secret(value: &str) -> String {
    let id = format!("appkeys-test-pepper-{}", uuid::Uuid::new_v4());
    aws_sdk_secretsmanager::Client::new(&sdk(Budget::MANAGEMENT).await)
        .create_secret()
        .name(&id)
        .secret_string(value)
        .send()
        .await
        .expect("create secret");
    id
}

pub async fn delete_secret(id: &str) {
    let _ = aws_sdk_secretsmanager::Client::new(&sdk(Budget::MANAGEMENT).await)
        .delete_secret()
        .secret_id(id)
        .force_delete_without_recovery(true)
        .send()
        .await;
}

pub const MERCHANT: &str = "m_123";

/// A freshly generated key and what the store is given of it (its prefix and keyed hash).
pub fn generated_key(
    pepper: &Pepper,
    description: &str,
) -> (appkeys::api_key::FullKey, appkeys::store::NewKey) {
    let full_key = appkeys::api_key::FullKey::generate(KeyMode::Live);
    let new = appkeys::store::NewKey {
        description: appkeys::domain::Description::parse(
            "description",
            description,
            appkeys::domain::KEY_DESCRIPTION_MAX,
        )
        .expect("a valid description"),
        key_prefix: full_key.display_prefix().to_owned(),
        hash: pepper.hash(full_key.expose_secret()),
        expires_at: None,
    };
    (full_key, new)
}
pub const OTHER_MERCHANT: &str = "m_456";

pub struct TestApi {
    pub api: Api,
    pub pepper: Pepper,
    /// The clock of every store this test builds: `clock.advance(seconds)` moves time forward
    /// for expiry and grace windows without sleeping.
    pub clock: Clock,
    table: String,
}

impl TestApi {
    pub async fn new() -> Self {
        Self::with_limits(Limits::default()).await
    }

    pub async fn with_limits(limits: Limits) -> Self {
        Self::on_table("appkeys-test-", limits).await
    }

    /// A table on which the local endpoint stands in for AWS under contention: it cancels a
    /// share of overlapping transactions with `TransactionConflict`, as DynamoDB does
    /// (`scripts/moto_server.py`). Against AWS, the contention is real.
    pub async fn contended(limits: Limits) -> Self {
        Self::on_table("appkeys-contended-", limits).await
    }

    async fn on_table(prefix: &str, limits: Limits) -> Self {
        let sdk = sdk(Budget::MANAGEMENT).await;
        let table = format!("{prefix}{}", uuid::Uuid::new_v4());
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        create_table(&client, &table)
            .await
            .expect("create the test table");
        let config = Config {
            table_name: table.clone(),
            merchant_claim: "merchant_id".into(),
            limits,
            key_mode: KeyMode::Live,
        };
        let clock = Clock::adjustable();
        let mut api = Api::new(config, &sdk);
        api.store = api.store.with_clock(clock.clone());
        Self {
            api,
            pepper: Pepper::new(b"test pepper, at least 32 bytes long"),
            clock,
            table,
        }
    }

    pub fn store(&self) -> &Store {
        &self.api.store
    }

    /// On the local endpoint, the `TransactionConflict` cancellations it simulated on this
    /// test's table so far: (transactions seen, transactions cancelled). `None` against AWS.
    pub async fn simulated_conflicts(&self) -> Option<(u64, u64)> {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").ok()?;
        let url = format!("{endpoint}/_appkeys/conflicts/{}", self.table);
        let counts = http_get_json(&url).await;
        Some((
            counts["transactions"].as_u64().expect("a count"),
            counts["cancelled"].as_u64().expect("a count"),
        ))
    }

    /// The authorizer's verifier over the same table and pepper, with a DynamoDB client whose
    /// requests `counter` counts.
    pub async fn verifier(&self, counter: &RequestCounter) -> KeyVerifier {
        let sdk = sdk(Budget::AUTHORIZER).await;
        let store = Store::new(
            counter.dynamodb_client(&sdk),
            &self.table,
            self.api.config.limits,
        )
        .with_clock(self.clock.clone());
        KeyVerifier::new(store, self.pepper.clone(), self.api.config.key_mode)
    }

    /// Runs the authorizer function's handler on a payment-route event carrying `authorization`.
    pub async fn authorize(
        verifier: &KeyVerifier,
        authorization: Option<&str>,
    ) -> Result<authorizer::Response, appkeys::failure::Failure> {
        authorizer::handler(
            verifier,
            lambda_runtime::LambdaEvent::new(authorizer_event(authorization), Default::default()),
        )
        .await
    }

    /// `Some(true)` allow, `Some(false)` deny, `None` error (the gateway's 500).
    pub async fn allows(verifier: &KeyVerifier, key: &str) -> Option<bool> {
        Self::authorize(verifier, Some(&format!("Bearer {key}")))
            .await
            .ok()
            .map(|r| r.is_authorized)
    }

    /// Dispatches an event to the function that serves its route, through the same route table
    /// and in-process dispatch the local gateway uses.
    pub async fn send(&self, request: Request) -> TestResponse {
        self.send_to(&self.functions(), request).await
    }

    /// [`TestApi::send`], to functions that live across requests (e.g. with a leaked-key report
    /// function whose signing keys come from a test server, and whose cache must persist).
    pub async fn send_to(
        &self,
        functions: &local_gateway::Functions,
        request: Request,
    ) -> TestResponse {
        let route_key = route_key(&request);
        let route = appkeys::routes::ROUTES
            .iter()
            .find(|r| r.route_key() == route_key)
            .unwrap_or_else(|| panic!("no route {route_key}"));
        let method = request.method().as_str().to_owned();
        let response = functions.invoke(route.function, request).await;
        let response =
            TestResponse::from(response.expect("handlers always answer with a response"));
        openapi::assert_documented(&method, route.path, &response);
        if response.status == 401 {
            // RFC 9110 §15.5.2: every 401 a function answers names the scheme.
            let scheme = match route.guard {
                appkeys::routes::Guard::Signature => "Signature",
                _ => "Bearer",
            };
            assert!(
                response
                    .header("www-authenticate")
                    .is_some_and(|challenge| challenge.starts_with(scheme)),
                "{method} {} answered 401 without WWW-Authenticate: Bearer",
                route.path
            );
        }
        response
    }

    pub fn functions(&self) -> local_gateway::Functions {
        local_gateway::Functions::new(self.api.clone(), self.pepper.clone())
    }

    /// Serves this test's API on a random loopback port, as `scripts/dev` does; returns its base
    /// URL and the JWT settings it accepts.
    pub async fn spawn_gateway(&self) -> (String, local_gateway::JwtSettings) {
        self.spawn_gateway_with(local_gateway::Cors::default(), Default::default())
            .await
    }

    /// The same, with a CORS configuration and the scope names the routes require.
    pub async fn spawn_gateway_with(
        &self,
        cors: local_gateway::Cors,
        scopes: appkeys::routes::Scopes,
    ) -> (String, local_gateway::JwtSettings) {
        let jwt = local_gateway::JwtSettings::new(
            "https://issuer.test",
            "applications-api",
            b"gateway test secret",
            &self.api.config.merchant_claim,
        )
        .with_scopes(scopes);
        let gateway = std::sync::Arc::new(local_gateway::Gateway {
            functions: self.functions(),
            jwt: jwt.clone(),
            cors,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().unwrap();
        tokio::spawn(gateway.serve(listener));
        (format!("http://{address}"), jwt)
    }

    /// Every item in the table, for asserting that a rejected request wrote nothing.
    pub async fn snapshot(&self) -> Vec<String> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .store()
                .client()
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            for item in page.items() {
                items.push(canonical_item(item));
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        items.sort();
        items
    }

    // Conveniences for the guide's steps; each returns the raw response.

    pub async fn create_application(&self, merchant: &str, body: Value) -> TestResponse {
        self.send(
            Call::post("/api/v1/applications", "/api/v1/applications", body)
                .merchant(merchant)
                .into(),
        )
        .await
    }

    pub async fn create_application_named(&self, merchant: &str, name: &str) -> String {
        let response = self
            .create_application(merchant, json!({ "name": name }))
            .await;
        assert_eq!(response.status, 201, "{}", response.body);
        response.text("id")
    }

    pub async fn create_key(&self, merchant: &str, app: &str, description: &str) -> TestResponse {
        self.send(
            Call::create_key(app, json!({ "description": description }))
                .merchant(merchant)
                .into(),
        )
        .await
    }

    pub async fn revoke_key(&self, merchant: &str, app: &str, key: &str) -> TestResponse {
        self.send(Call::revoke_key(app, key).merchant(merchant).into())
            .await
    }

    pub async fn set_enabled(&self, merchant: &str, app: &str, enabled: bool) -> TestResponse {
        self.send(
            Call::set_status(app, json!({ "isEnabled": enabled }))
                .merchant(merchant)
                .into(),
        )
        .await
    }

    /// `GET /api/v1/applications/{id}/events?{query}`.
    pub async fn events(&self, merchant: &str, app: &str, query: &str) -> TestResponse {
        self.send(Call::events(app, query).merchant(merchant).into())
            .await
    }

    /// `GET /api/v1/applications/{id}`.
    pub async fn get_application(&self, merchant: &str, app: &str) -> TestResponse {
        self.send(Call::get_application(app).merchant(merchant).into())
            .await
    }

    /// Rolls `key`, giving the old key `grace_seconds` more.
    pub async fn roll_key(
        &self,
        merchant: &str,
        app: &str,
        key: &str,
        grace_seconds: i64,
    ) -> TestResponse {
        self.send(
            Call::roll_key(app, key, json!({ "expiresInSeconds": grace_seconds }))
                .merchant(merchant)
                .into(),
        )
        .await
    }

    /// The application as `GET /api/v1/applications?include=apiKeys` shows it.
    pub async fn listed_application(&self, merchant: &str, app: &str) -> Value {
        let listed = self.list(merchant, "include=apiKeys&limit=100").await;
        let items = listed.json["items"].as_array().expect("a page of items");
        items
            .iter()
            .find(|a| a["id"] == app)
            .cloned()
            .unwrap_or_else(|| panic!("{app} is not listed"))
    }

    /// Asserts that exactly `room` more keys fit under the application's key limit: that many
    /// creations succeed, the next is `key_limit_reached`.
    pub async fn assert_key_room(&self, merchant: &str, app: &str, room: usize) {
        for n in 0..room {
            let created = self.create_key(merchant, app, &format!("room {n}")).await;
            assert_eq!(created.status, 201, "{}", created.body);
        }
        self.create_key(merchant, app, "one too many")
            .await
            .assert_problem(400, "key_limit_reached");
    }

    pub async fn list(&self, merchant: &str, query: &str) -> TestResponse {
        self.send(Call::list(query).merchant(merchant).into()).await
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        let table = std::mem::take(&mut self.table);
        // A fresh runtime and client on a fresh thread: the test's own runtime may be
        // single-threaded and is blocked here.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let client = aws_sdk_dynamodb::Client::new(&sdk_config(Budget::MANAGEMENT).await);
                let _ = client.delete_table().table_name(&table).send().await;
            });
        })
        .join();
    }
}

/// An item as text with its attributes (and those of nested maps) in name order, so that two
/// equal items always read the same.
fn canonical_item(item: &HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> String {
    use aws_sdk_dynamodb::types::AttributeValue;
    fn value(v: &AttributeValue) -> String {
        match v {
            AttributeValue::M(map) => format!("{{{}}}", canonical_item(map)),
            AttributeValue::L(list) => {
                format!("[{}]", list.iter().map(value).collect::<Vec<_>>().join(","))
            }
            other => format!("{other:?}"),
        }
    }
    let mut pairs: Vec<_> = item
        .iter()
        .map(|(k, v)| format!("{k}={}", value(v)))
        .collect();
    pairs.sort();
    pairs.join(",")
}

fn route_key(request: &Request) -> String {
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.route_key.clone().unwrap_or_default()
        }
        _ => panic!("not an HTTP API event"),
    }
}

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
            "authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig",
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
        let unguarded = appkeys::routes::ROUTES.iter().any(|route| {
            route.route_key() == route_key && route.guard == appkeys::routes::Guard::Signature
        });
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

#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: String,
    pub json: Value,
}

impl TestResponse {
    /// A string field of the JSON body, e.g. a created resource's `id` or `fullKey`.
    pub fn text(&self, field: &str) -> String {
        self.json[field]
            .as_str()
            .unwrap_or_else(|| panic!("no string `{field}` in {}", self.body))
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json error with the given status and stable code.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(
            self.json["type"],
            format!("/errors/{code}"),
            "body: {}",
            self.body
        );
        assert_eq!(self.json["status"], status);
        assert!(self.json["title"].is_string());
        assert!(self.json["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

impl From<lambda_http::Response<Body>> for TestResponse {
    fn from(response: lambda_http::Response<Body>) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match response.body() {
            Body::Empty => String::new(),
            Body::Text(text) => text.clone(),
            Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
            _ => String::new(),
        };
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            json,
        }
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

async fn http_get_json(url: &str) -> Value {
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    let response = client
        .get(url.parse().expect("a valid URL"))
        .await
        .expect("the local endpoint answers");
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    serde_json::from_slice(&bytes).expect("JSON")
}

/// A plain HTTP/1.1 request to a spawned gateway.
pub async fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> TestResponse {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.unwrap_or_default().to_owned())))
        .unwrap();
    let response = client.request(request).await.expect("the gateway answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_str(&body).unwrap_or(Value::Null);
    let response = TestResponse {
        status,
        headers,
        body,
        json,
    };
    let path = url
        .parse::<hyper::Uri>()
        .expect("a valid URL")
        .path()
        .to_owned();
    if let Some((route, _)) = appkeys::routes::find(method, &path) {
        openapi::assert_documented(method, route.path, &response);
    }
    response
}

/// Loses the response of the first successful attempt of one DynamoDB operation, as a dropped
/// connection or an attempt timeout does after the server has applied the request: the SDK
/// retries the same request, which meets the state the lost attempt left behind.
#[derive(Debug, Clone)]
pub struct LoseFirstResponse {
    operation: &'static str,
    lost: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl LoseFirstResponse {
    pub fn of(operation: &'static str) -> Self {
        Self {
            operation,
            lost: Default::default(),
        }
    }

    /// How many responses it has lost (at most one).
    pub fn lost(&self) -> usize {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A store over `table` whose client loses that response.
    pub async fn store(&self, table: &str, limits: Limits) -> Store {
        let sdk = sdk(Budget::MANAGEMENT).await;
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(self.clone())
            .build();
        Store::new(aws_sdk_dynamodb::Client::from_conf(config), table, limits)
    }
}

impl aws_sdk_dynamodb::config::Intercept for LoseFirstResponse {
    fn name(&self) -> &'static str {
        "LoseFirstResponse"
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut aws_sdk_dynamodb::config::interceptors::FinalizerInterceptorContextMut<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_smithy_runtime_api::client::orchestrator::{Metadata, OrchestratorError};
        let ours = cfg
            .load::<Metadata>()
            .is_some_and(|m| m.name() == self.operation);
        let Some(outcome) = context.output_or_error_mut() else {
            return Ok(());
        };
        if ours
            && outcome.is_ok()
            && self
                .lost
                .compare_exchange(
                    0,
                    1,
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                )
                .is_ok()
        {
            *outcome = Err(OrchestratorError::timeout("the response was lost".into()));
        }
        Ok(())
    }
}

type Competitor =
    Box<dyn FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send>;

/// Forces an interleaving: runs a competing write to completion after a store has read what it
/// read and right before its first transaction is sent, so that the transaction meets a changed
/// table, as a concurrent request would make it on a bad day. Counts the transactions the store
/// sends, to prove that it noticed and tried again.
#[derive(Clone)]
pub struct Interleave {
    competitor: std::sync::Arc<std::sync::Mutex<Option<Competitor>>>,
    transactions: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Before which of the store's transactions (1 = its first) the competitor runs.
    before: usize,
}

impl Interleave {
    /// `competitor` runs on a runtime of its own (build its clients inside it).
    pub fn before_first_transaction<F, Fut>(competitor: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        Self::before_transaction(1, competitor)
    }

    /// The competitor runs right before the store's `number`th transaction (1 = its first).
    pub fn before_transaction<F, Fut>(number: usize, competitor: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let boxed: Competitor = Box::new(move || Box::pin(competitor()));
        Self {
            competitor: std::sync::Arc::new(std::sync::Mutex::new(Some(boxed))),
            transactions: Default::default(),
            before: number,
        }
    }

    /// How many `TransactWriteItems` the store has sent.
    pub fn transactions(&self) -> usize {
        self.transactions.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether the competing write has run.
    pub fn competed(&self) -> bool {
        self.competitor.lock().unwrap().is_none()
    }

    /// A store over `t`'s table, with its clock, whose client runs the competitor.
    pub async fn store(&self, t: &TestApi) -> Store {
        let sdk = sdk(Budget::MANAGEMENT).await;
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(self.clone())
            .build();
        Store::new(
            aws_sdk_dynamodb::Client::from_conf(config),
            &t.table,
            t.api.config.limits,
        )
        .with_clock(t.clock.clone())
    }
}

impl std::fmt::Debug for Interleave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interleave")
            .field("transactions", &self.transactions())
            .finish()
    }
}

impl aws_sdk_dynamodb::config::Intercept for Interleave {
    fn name(&self) -> &'static str {
        "Interleave"
    }

    // Once per operation, after its configuration (which names the operation) is applied.
    fn read_before_serialization(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<
            '_,
        >,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_smithy_runtime_api::client::orchestrator::Metadata;
        if cfg
            .load::<Metadata>()
            .is_none_or(|m| m.name() != "TransactWriteItems")
        {
            return Ok(());
        }
        let number = self
            .transactions
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        if number != self.before {
            return Ok(());
        }
        let competitor = self.competitor.lock().unwrap().take();
        if let Some(competitor) = competitor {
            // Interceptors are synchronous: run the competitor to completion on a thread and
            // runtime of its own while this request waits.
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime")
                    .block_on(competitor())
            })
            .join()
            .expect("the competing write ran");
        }
        Ok(())
    }
}

/// A store over `table` with a client of its own, for a competing write inside an [`Interleave`].
pub async fn fresh_store(table: &str, limits: Limits, clock: Clock) -> Store {
    let sdk = sdk(Budget::MANAGEMENT).await;
    Store::new(aws_sdk_dynamodb::Client::new(&sdk), table, limits).with_clock(clock)
}

impl TestApi {
    /// This test's table name, for competing writes with clients of their own.
    pub fn table_name(&self) -> String {
        self.table.clone()
    }
}

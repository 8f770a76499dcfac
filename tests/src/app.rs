//! A test's own API: a fresh table with the production schema on the local endpoint, the
//! functions' handlers over it (dispatched through the route table, as the local gateway does),
//! a clock that moves only when told, and conveniences for the guide's steps.

use std::collections::HashMap;

use appkeys::authorize::KeyVerifier;
use appkeys::domain::key_format::KeyMode;
use appkeys::domain::limits::Limits;
use appkeys::lambda::sdk::Budget;
use appkeys::lambda::{Config, FunctionError, State};
use appkeys::pepper::Pepper;
use appkeys::store::Store;
use aws_sdk_dynamodb::config::SharedInterceptor;
use devkit::clock::AdjustableClock;
use devkit::counter::RequestCounter;
use devkit::guard::sdk;
use devkit::routes::{Guard, Scopes, ROUTES};
use devkit::schema::create_table;
use lambda_http::Request;
use serde_json::{json, Value};

use crate::call::{authorizer_event, route_key, Call};
use crate::openapi;
use crate::response::TestResponse;

pub const MERCHANT: &str = "m_123";
pub const OTHER_MERCHANT: &str = "m_456";

pub struct TestApi {
    pub state: State,
    pub pepper: Pepper,
    /// The clock of every store this test builds: `clock.advance(seconds)` moves time forward
    /// for expiry and grace windows without sleeping.
    pub clock: AdjustableClock,
    /// A client of the test's own, for raw reads of the table.
    pub client: aws_sdk_dynamodb::Client,
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
            payment_resources: Default::default(),
        };
        let clock = AdjustableClock::default();
        let mut state = State::new(config, &sdk);
        state.store = state.store.with_clock(clock.clock());
        Self {
            state,
            pepper: Pepper::new(b"test pepper, at least 32 bytes long"),
            clock,
            client,
            table,
        }
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// This test's table name, for competing writes with clients of their own.
    pub fn table_name(&self) -> String {
        self.table.clone()
    }

    /// On the local endpoint, the `TransactionConflict` cancellations it simulated on this
    /// test's table so far: (transactions seen, transactions cancelled). `None` against AWS.
    pub async fn simulated_conflicts(&self) -> Option<(u64, u64)> {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").ok()?;
        let url = format!("{endpoint}/_appkeys/conflicts/{}", self.table);
        let counts = crate::response::http_get_json(&url).await;
        Some((
            counts["transactions"].as_u64().expect("a count"),
            counts["cancelled"].as_u64().expect("a count"),
        ))
    }

    /// A store over this test's table and clock, its client with `budget`'s timeouts and
    /// `interceptors` (which count, record, lose or interleave its requests).
    pub async fn store_with(
        &self,
        budget: Budget,
        interceptors: impl IntoIterator<Item = SharedInterceptor>,
    ) -> Store {
        let sdk = sdk(budget).await;
        let mut config = aws_sdk_dynamodb::config::Builder::from(&sdk);
        for interceptor in interceptors {
            config.push_interceptor(interceptor);
        }
        Store::new(
            aws_sdk_dynamodb::Client::from_conf(config.build()),
            &self.table,
            self.state.config.limits,
        )
        .with_clock(self.clock.clock())
    }

    /// The management functions' state, over [`TestApi::store_with`] the management budget.
    pub async fn state_with(
        &self,
        interceptors: impl IntoIterator<Item = SharedInterceptor>,
    ) -> State {
        State {
            config: self.state.config.clone(),
            store: self.store_with(Budget::MANAGEMENT, interceptors).await,
        }
    }

    /// The authorizer's verifier over `store`, with this test's pepper.
    pub fn verifier_over(&self, store: Store) -> KeyVerifier {
        KeyVerifier::new(
            store,
            self.pepper.clone(),
            self.state.config.key_mode,
            self.state.config.payment_resources.clone(),
        )
    }

    /// The authorizer's verifier over this test's table, its requests counted by `counter`.
    pub async fn verifier(&self, counter: &RequestCounter) -> KeyVerifier {
        let store = self
            .store_with(
                Budget::AUTHORIZER,
                [SharedInterceptor::new(counter.clone())],
            )
            .await;
        self.verifier_over(store)
    }

    /// Runs the authorizer function's handler on a payment-route event carrying `authorization`.
    pub async fn authorize(
        verifier: &KeyVerifier,
        authorization: Option<&str>,
    ) -> Result<authorizer::Response, FunctionError> {
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
        let route = ROUTES
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
                Guard::Signature => "Signature",
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
        local_gateway::Functions::new(self.state.clone(), self.pepper.clone())
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
        scopes: Scopes,
    ) -> (String, local_gateway::JwtSettings) {
        let jwt = local_gateway::JwtSettings::new(
            "https://issuer.test",
            "applications-api",
            b"gateway test secret",
            &self.state.config.merchant_claim,
        )
        .with_scopes(scopes);
        (self.spawn_gateway_over(jwt.clone(), cors).await, jwt)
    }

    /// A local gateway that checks tokens with `jwt`; its base URL.
    pub async fn spawn_gateway_over(
        &self,
        jwt: local_gateway::JwtSettings,
        cors: local_gateway::Cors,
    ) -> String {
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
        format!("http://{address}")
    }

    /// Every item in the table, for asserting that a rejected request wrote nothing.
    pub async fn snapshot(&self) -> Vec<String> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
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
                let client = aws_sdk_dynamodb::Client::new(
                    &appkeys::lambda::sdk::sdk_config(Budget::MANAGEMENT).await,
                );
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

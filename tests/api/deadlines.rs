//! A management function that runs out of time answers 503 `temporarily_unavailable` itself,
//! before Lambda stops it (which would give the caller API Gateway's bare 5xx); so does the
//! leaked-key report function (GitHub retries a 503, and what was revoked stays revoked). Each
//! handler runs with a Lambda context whose deadline is near, against a DynamoDB endpoint that
//! accepts connections and never answers.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use api_tests::{Call, TestResponse, MERCHANT};
use appkeys::domain::key_format::{FullKey, KeyMode};
use appkeys::lambda::deadline::ANSWER_MARGIN;
use appkeys::lambda::sdk::{sdk_config, Budget};
use appkeys::lambda::{Config, State};
use appkeys::secret_scanning::PublicKeys;
use appkeys::store::Store;
use devkit::routes::{Guard, ROUTES};
use lambda_http::RequestExt;
use local_gateway::signer::{keys_document, KeysServer, Signer};
use serde_json::json;

/// A DynamoDB endpoint that accepts every connection and never says a word.
fn silent_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    format!("http://{address}")
}

/// A request for `route` that its handler would accept (valid ids and body; a report signed by
/// `signer`, naming a well-formed key), so that it reaches DynamoDB.
fn valid_call(route: &devkit::routes::Route, signer: &Signer) -> Call {
    if route.guard == Guard::Signature {
        let token = FullKey::generate(KeyMode::Live).expose_secret().to_owned();
        let body = json!([{"token": token, "type": "appkeys_api_key", "url": "https://github.com/octo/leaky", "source": "content"}]);
        return Call::leak_report(&body.to_string(), signer);
    }
    let app = uuid::Uuid::now_v7().to_string();
    let key = uuid::Uuid::now_v7().to_string();
    let path = route.path.replace("{id}", &app).replace("{keyId}", &key);
    let mut call = Call::new(route.method, route.path, path);
    if route.path.contains("{id}") {
        call = call.param("id", &app);
    }
    if route.path.contains("{keyId}") {
        call = call.param("keyId", &key);
    }
    let body = match route.function {
        "create-application" => Some(json!({"name": "Prod"})),
        "create-api-key" => Some(json!({"description": "checkout"})),
        "set-application-status" => Some(json!({"isEnabled": false})),
        "roll-api-key" => Some(json!({"expiresInSeconds": 3600})),
        "update-api-key" => Some(json!({"permissions": ["charges:read"]})),
        // get-application, list-events and revoke-api-key take no body.
        _ => None,
    };
    if let Some(body) = body {
        call = call.body(body.to_string());
    }
    // A page of events after a cursor: the query the handler parses before it reads.
    if route.function == "list-events" {
        call = call.query(&format!("limit=5&startingAfter={}", uuid::Uuid::now_v7()));
    }
    call.merchant(MERCHANT)
}

fn lambda_context_with_deadline_in(left: Duration) -> lambda_http::Context {
    let mut context = lambda_http::Context::default();
    context.request_id = "lambda-request-1".into();
    context.deadline = (SystemTime::now() + left)
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    context
}

#[tokio::test]
async fn a_handler_out_of_time_answers_503_before_lambda_stops_it() {
    // The management budget as deployed: a silent endpoint holds an attempt for 3 s, far past
    // what this invocation has left.
    let sdk = sdk_config(Budget::MANAGEMENT).await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(silent_endpoint())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "static",
            ))
            .build(),
    );
    let config = Config {
        table_name: "appkeys-silent".into(),
        merchant_claim: "merchant_id".into(),
        limits: Default::default(),
        key_mode: appkeys::domain::key_format::KeyMode::Live,
        payment_resources: Default::default(),
    };
    let api = State {
        store: Store::new(client, &config.table_name, config.limits),
        config,
    };
    let signer = Signer::generate("deadline-key");
    let keys = KeysServer::start(keys_document(&[&signer])).await;
    let functions = local_gateway::Functions::new(
        api,
        appkeys::pepper::Pepper::new(b"test pepper, at least 32 bytes long"),
    )
    .with_signing_keys(PublicKeys::new(&keys.url));
    // Every route whose function reads DynamoDB: all but the payment route's echo and the
    // console's static files.
    let reading: Vec<_> = ROUTES
        .iter()
        .filter(|r| matches!(r.guard, Guard::Jwt | Guard::Signature))
        .collect();
    assert!(reading.iter().any(|r| r.guard == Guard::Jwt));
    assert!(reading.iter().any(|r| r.guard == Guard::Signature));
    for route in reading {
        let left = ANSWER_MARGIN + Duration::from_millis(400);
        let request = lambda_http::Request::from(valid_call(route, &signer))
            .with_lambda_context(lambda_context_with_deadline_in(left));
        let started = Instant::now();
        let response = TestResponse::from(
            functions
                .invoke(route.function, request)
                .await
                .expect("handlers always answer"),
        );
        let took = started.elapsed();
        response.assert_problem(503, "temporarily_unavailable");
        assert_eq!(
            response.header("retry-after"),
            Some("1"),
            "{}",
            route.route_key()
        );
        assert!(
            took < left,
            "{} answered after {took:?}, past Lambda's deadline ({left:?})",
            route.route_key()
        );
        assert!(
            took >= Duration::from_millis(300),
            "{} answered after {took:?}: before its deadline, so not for it",
            route.route_key()
        );
    }
}

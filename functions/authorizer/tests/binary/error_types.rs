//! What the real binary reports to Lambda when it fails: through a stub of the Lambda Runtime API
//! on loopback (the protocol Lambda speaks to every custom runtime), each failure carries a
//! stable `errorType`, so that alarms and log queries can tell one from another.

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use appkeys::domain::key_format::{FullKey, KeyMode};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{json, Value};

/// One request the function made to the Runtime API: path, error-type header, body.
#[derive(Debug, Clone)]
struct Reported {
    path: String,
    error_type_header: Option<String>,
    body: Value,
}

/// Serves `/runtime/invocation/next` with the given events, one each, then holds; records every
/// other request.
async fn stub_runtime_api(events: Vec<Value>) -> (String, Arc<Mutex<Vec<Reported>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let reported = Arc::new(Mutex::new(Vec::new()));
    let events = Arc::new(Mutex::new(VecDeque::from(events)));
    let seen = reported.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (seen, events) = (seen.clone(), events.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let (seen, events) = (seen.clone(), events.clone());
                        async move {
                            let path = request.uri().path().to_owned();
                            let error_type_header = request
                                .headers()
                                .get("lambda-runtime-function-error-type")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned);
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            if path.ends_with("/invocation/next") {
                                let next = events.lock().unwrap().pop_front();
                                let Some(event) = next else {
                                    std::future::pending::<()>().await;
                                    unreachable!()
                                };
                                let deadline = SystemTime::now()
                                    .duration_since(UNIX_EPOCH)
                                    .unwrap()
                                    .as_millis()
                                    + 3_000;
                                let response = hyper::Response::builder()
                                    .header("lambda-runtime-aws-request-id", "request-1")
                                    .header("lambda-runtime-deadline-ms", deadline.to_string())
                                    .header(
                                        "lambda-runtime-invoked-function-arn",
                                        "arn:aws:lambda:us-east-1:123456789012:function:authorizer",
                                    )
                                    .body(Full::new(Bytes::from(event.to_string())))
                                    .unwrap();
                                return Ok::<_, std::convert::Infallible>(response);
                            }
                            seen.lock().unwrap().push(Reported {
                                path,
                                error_type_header,
                                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                            });
                            Ok(hyper::Response::builder()
                                .status(202)
                                .body(Full::new(Bytes::new()))
                                .unwrap())
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (address, reported)
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn spawn(runtime_api: &str, envs: &[(&str, &str)]) -> Child {
    let dead_endpoint = format!("http://127.0.0.1:{}", closed_port());
    Command::new(env!("CARGO_BIN_EXE_authorizer"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "authorizer")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        // Every AWS call goes to a port nobody listens on: DynamoDB and Secrets Manager fail.
        .env("AWS_ENDPOINT_URL", &dead_endpoint)
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the authorizer binary")
}

async fn wait_for_report(reported: &Arc<Mutex<Vec<Reported>>>, child: &mut Child) -> Reported {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(report) = reported.lock().unwrap().first().cloned() {
            let _ = child.kill();
            let _ = child.wait();
            return report;
        }
        assert!(Instant::now() < deadline, "the function reported nothing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn authorizer_event(authorization: &str) -> Value {
    let mut event: Value = serde_json::from_str(include_str!("../../../../events/authorizer.json"))
        .expect("the fixture is JSON");
    event["headers"]["authorization"] = json!(authorization);
    event["identitySource"] = json!([authorization]);
    event
}

#[tokio::test]
async fn dynamodb_unreachable_is_an_invocation_error_of_type_dynamodb_unavailable() {
    // A well-formed key passes the format checks and reaches DynamoDB, which cannot answer.
    let key = FullKey::generate(KeyMode::Live);
    let event = authorizer_event(&format!("Bearer {}", key.expose_secret()));
    let (api, reported) = stub_runtime_api(vec![event]).await;
    // Inside Lambda the pepper comes from Secrets Manager (the local one); DynamoDB is dead.
    let secret_id = api_tests::create_secret("a local pepper of thirty-two bytes!").await;
    let secrets_endpoint = std::env::var("AWS_ENDPOINT_URL").expect("the local endpoint");
    let mut child = spawn(
        &api,
        &[
            ("TABLE_NAME", "t"),
            ("API_KEY_PEPPER_SECRET_ID", secret_id.as_str()),
            (
                "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                secrets_endpoint.as_str(),
            ),
        ],
    );
    let report = wait_for_report(&reported, &mut child).await;
    api_tests::delete_secret(&secret_id).await;
    assert_eq!(
        report.path,
        "/2018-06-01/runtime/invocation/request-1/error"
    );
    assert_eq!(
        report.body["errorType"], "DynamoDbUnavailable",
        "{report:?}"
    );
    let message = report.body["errorMessage"].as_str().unwrap();
    assert!(
        !message.contains(key.expose_secret()),
        "the key never reaches the report"
    );
}

#[tokio::test]
async fn an_unreadable_pepper_is_a_start_failure_of_type_pepper_unreadable() {
    let (api, reported) = stub_runtime_api(vec![]).await;
    let mut child = spawn(
        &api,
        &[
            ("TABLE_NAME", "t"),
            ("API_KEY_PEPPER_SECRET_ID", "appkeys-pepper"),
        ],
    );
    let report = wait_for_report(&reported, &mut child).await;
    assert_eq!(report.path, "/2018-06-01/runtime/init/error");
    assert_eq!(
        report.error_type_header.as_deref(),
        Some("PepperUnreadable")
    );
    assert_eq!(report.body["errorType"], "PepperUnreadable");
    assert!(report.body["errorMessage"]
        .as_str()
        .unwrap()
        .contains("appkeys-pepper"));
}

#[tokio::test]
async fn missing_configuration_is_a_start_failure_of_type_configuration_missing() {
    let (api, reported) = stub_runtime_api(vec![]).await;
    let mut child = spawn(&api, &[("API_KEY_PEPPER_SECRET_ID", "appkeys-pepper")]);
    let report = wait_for_report(&reported, &mut child).await;
    assert_eq!(report.path, "/2018-06-01/runtime/init/error");
    assert_eq!(report.body["errorType"], "ConfigurationMissing");
    assert!(report.body["errorMessage"]
        .as_str()
        .unwrap()
        .contains("TABLE_NAME"));
}

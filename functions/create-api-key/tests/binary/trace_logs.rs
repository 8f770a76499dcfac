//! The real create-api-key binary, run through the Lambda runtime loop at the most detailed log
//! level (`RUST_LOG=trace`, or Lambda's advanced logging controls at TRACE), logs no secret: not
//! the merchant's JWT (in the raw event `lambda_runtime` logs at TRACE), not the key it creates
//! (in its response), not the key's hash (in the DynamoDB write the SDK logs at TRACE), not the
//! pepper (in Secrets Manager's answer).

use api_tests::{create_secret, delete_secret, Call, TestApi, MERCHANT};
use appkeys::pepper::Pepper;
use devkit::runtime_api::run_function;
use serde_json::{json, Value};

// Letters and digits only: a search must not miss it because a log escaped a character.
const PEPPER: &str = "CreateApiKeyPepperNeverInALog0123456789";

async fn create_key_at(level: &[(&str, &str)]) {
    let mut t = TestApi::new().await;
    t.pepper = Pepper::new(PEPPER.as_bytes());
    let secret_id = create_secret(PEPPER).await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    // A real token, as the merchant sent it: API Gateway passes the header on in the event.
    let jwt = local_gateway::JwtSettings::new(
        "https://issuer.test",
        "applications-api",
        b"a signing secret for this test",
        "merchant_id",
    )
    .issue(MERCHANT, 3600);
    let mut event = Call::create_key(&app, json!({ "description": "checkout" }))
        .merchant(MERCHANT)
        .event_json();
    event["headers"]["authorization"] = json!(format!("Bearer {jwt}"));

    let mut envs = vec![
        ("TABLE_NAME", t.store().table()),
        ("API_KEY_PEPPER_SECRET_ID", secret_id.as_str()),
        // The AWS SDK redacts Secrets Manager's answer at TRACE unless this is set: the most
        // revealing debugging setting, so the test runs with it.
        ("LOG_SENSITIVE_BODIES", "true"),
    ];
    envs.extend_from_slice(level);
    let (answers, logs) = run_function(
        env!("CARGO_BIN_EXE_create-api-key").as_ref(),
        "create-api-key",
        vec![event.to_string()],
        &envs,
    )
    .await;
    delete_secret(&secret_id).await;

    assert!(answers[0].ok, "{}", answers[0].body);
    let response: Value = serde_json::from_str(&answers[0].body).unwrap();
    assert_eq!(response["statusCode"], 201, "{response}");
    let created: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    let full_key = created["fullKey"].as_str().unwrap().to_owned();
    // The run was at TRACE (our own debug line is there) and logged the creation, by prefix.
    assert!(logs.contains("logging configured"), "not at TRACE: {logs}");
    assert!(
        logs.contains(&format!("\"key_prefix\":\"{}\"", &full_key[..12])),
        "{logs}"
    );

    let signature = jwt.rsplit('.').next().unwrap().to_owned();
    let secrets = [
        ("the key", full_key[12..].to_owned()),
        ("the key's hash", t.pepper.hash(&full_key).to_hex()),
        ("the pepper", PEPPER.to_owned()),
        ("the JWT", jwt.clone()),
        ("the JWT's signature", signature),
    ];
    let leaked: Vec<&str> = secrets
        .iter()
        .filter(|(_, secret)| logs.contains(secret.as_str()))
        .map(|(what, _)| *what)
        .collect();
    assert!(leaked.is_empty(), "leaked: {leaked:?}\n{logs}");
}

#[tokio::test]
async fn no_secret_in_the_logs_at_rust_log_trace() {
    create_key_at(&[("RUST_LOG", "trace")]).await;
}

#[tokio::test]
async fn no_secret_in_the_logs_at_lambda_log_level_trace() {
    create_key_at(&[
        ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ])
    .await;
}

//! The real authorizer binary, run through the Lambda runtime loop at the most detailed log level
//! (`RUST_LOG=trace`, or Lambda's advanced logging controls at TRACE), logs no secret: not the
//! key (whose raw event `lambda_runtime` logs at TRACE), not its hash (in the DynamoDB request the
//! SDK logs at TRACE), not the pepper (in Secrets Manager's answer), not the header.

use api_tests::{
    authorizer_event, create_secret, delete_secret, with_wrong_checksum, TestApi, MERCHANT,
};
use appkeys::pepper::Pepper;
use devkit::runtime_api::run_function;

// Letters and digits only: a search must not miss it because a log escaped a character.
const PEPPER: &str = "AuthorizerPepperNeverInALog0123456789";

async fn decisions_at(level: &[(&str, &str)]) {
    let mut t = TestApi::new().await;
    t.pepper = Pepper::new(PEPPER.as_bytes());
    let secret_id = create_secret(PEPPER).await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let active = t.create_key(MERCHANT, &app, "active").await.text("fullKey");
    let revoked = t.create_key(MERCHANT, &app, "revoked").await;
    t.revoke_key(MERCHANT, &app, &revoked.text("id")).await;
    let revoked = revoked.text("fullKey");
    let tampered = with_wrong_checksum(&active);

    let headers = [
        format!("Bearer {active}"),
        format!("Bearer {revoked}"),
        format!("bearer {tampered}"),
    ];
    let events = headers
        .iter()
        .map(|header| serde_json::to_string(&authorizer_event(Some(header))).unwrap())
        .collect();
    let mut envs = vec![
        ("TABLE_NAME", t.store().table()),
        ("API_KEY_PEPPER_SECRET_ID", secret_id.as_str()),
        // The AWS SDK redacts Secrets Manager's answer at TRACE unless this is set: the most
        // revealing debugging setting, so the test runs with it.
        ("LOG_SENSITIVE_BODIES", "true"),
    ];
    envs.extend_from_slice(level);
    let (answers, logs) = run_function(
        env!("CARGO_BIN_EXE_authorizer").as_ref(),
        "authorizer",
        events,
        &envs,
    )
    .await;
    delete_secret(&secret_id).await;

    let allowed: Vec<bool> = answers
        .iter()
        .map(|answer| {
            assert!(answer.ok, "{}", answer.body);
            serde_json::from_str::<serde_json::Value>(&answer.body).unwrap()["isAuthorized"] == true
        })
        .collect();
    assert_eq!(allowed, [true, false, false], "{logs}");
    // The run was at TRACE (our own debug line is there) and logged its decisions, by prefix.
    assert!(logs.contains("logging configured"), "not at TRACE: {logs}");
    assert!(logs.contains("\"reason\":\"revoked_key\""), "{logs}");
    assert!(logs.contains("\"reason\":\"bad_checksum\""), "{logs}");
    assert!(
        logs.contains(&format!("\"key_prefix\":\"{}\"", &active[..12])),
        "{logs}"
    );

    let mut secrets = vec![("the pepper", PEPPER.to_owned())];
    for key in [&active, &revoked, &tampered] {
        secrets.push(("a key", key[12..].to_owned()));
        secrets.push(("a key's hash", t.pepper.hash(key).to_hex()));
    }
    for header in &headers {
        secrets.push(("an Authorization header", header.clone()));
    }
    let leaked: Vec<&str> = secrets
        .iter()
        .filter(|(_, secret)| logs.contains(secret.as_str()))
        .map(|(what, _)| *what)
        .collect();
    assert!(leaked.is_empty(), "leaked: {leaked:?}\n{logs}");
}

#[tokio::test]
async fn no_secret_in_the_logs_at_rust_log_trace() {
    decisions_at(&[("RUST_LOG", "trace")]).await;
}

#[tokio::test]
async fn no_secret_in_the_logs_at_lambda_log_level_trace() {
    // As Lambda's advanced logging controls set it (JSON format, application level TRACE).
    decisions_at(&[
        ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ])
    .await;
}

//! The optional edge protection (docs/security.md): with `ORIGIN_VERIFY_SECRET_ID` set, the
//! payment authorizer and the report function refuse every call that does not carry the edge's
//! secret header, before any read; without it, nothing changes.

use api_tests::{authorizer_event, Call, TestApi, MERCHANT};
use appkeys::domain::origin_lock::{OriginLock, HEADER};
use appkeys::lambda::sdk::{sdk_config, Budget};
use appkeys::lambda::secrets::ORIGIN_VERIFY;
use devkit::counter::RequestCounter;
use lambda_http::http::HeaderValue;
use local_gateway::signer::{keys_document, KeysServer, Signer};
use serde_json::json;

const SECRET: &str = "edge-secret-0123456789";

fn lock() -> Option<OriginLock> {
    Some(OriginLock::new(SECRET.to_owned().into()))
}

/// Whether the authorizer allows a payment call with `key` and the edge header `edge` (none when
/// `None`).
async fn decide(verifier: &appkeys::authorize::KeyVerifier, key: &str, edge: Option<&str>) -> bool {
    let mut event = authorizer_event(Some(&format!("Bearer {key}")));
    if let Some(value) = edge {
        event
            .headers
            .insert(HEADER, HeaderValue::from_str(value).unwrap());
    }
    authorizer::handler(
        verifier,
        lambda_runtime::LambdaEvent::new(event, Default::default()),
    )
    .await
    .expect("decided")
    .is_authorized
}

#[tokio::test]
async fn with_the_lock_a_payment_call_needs_the_edges_secret_and_costs_no_read_without_it() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let created = t.create_key(MERCHANT, &app, "checkout").await;
    let (key, key_id) = (created.text("fullKey"), created.text("id"));
    let counter = RequestCounter::default();
    let locked = t.verifier(&counter).await.with_origin_lock(lock());
    assert!(!decide(&locked, &key, None).await, "no header");
    assert!(!decide(&locked, &key, Some("edge-secret-0123456788")).await);
    assert!(!decide(&locked, &key, Some("")).await);
    assert_eq!(counter.count(), 0, "refused before any read");
    assert!(decide(&locked, &key, Some(SECRET)).await);
    // The lock adds a condition; it allows nothing the key would not.
    assert_eq!(t.revoke_key(MERCHANT, &app, &key_id).await.status, 204);
    assert!(!decide(&locked, &key, Some(SECRET)).await);

    let open = t.verifier(&RequestCounter::default()).await;
    let other = t.create_key(MERCHANT, &app, "other").await.text("fullKey");
    assert!(
        decide(&open, &other, None).await,
        "no lock: no header needed"
    );
}

#[tokio::test]
async fn with_the_lock_a_report_needs_the_edges_secret_and_is_read_no_further_without_it() {
    let t = TestApi::new().await;
    let signer = Signer::generate("test-key-1");
    let keys = KeysServer::start(keys_document(&[&signer])).await;
    let functions = t
        .functions()
        .with_signing_keys(appkeys::secret_scanning::PublicKeys::new(&keys.url))
        .with_origin_lock(lock());
    let body = json!([{"token": "x", "type": "t", "url": "u", "source": "s"}]).to_string();
    let refused = t
        .send_to(&functions, Call::leak_report(&body, &signer).into())
        .await;
    refused.assert_problem(401, "unauthorized");
    assert!(refused.text("detail").contains("edge"), "{}", refused.body);
    assert_eq!(keys.fetches(), 0, "refused before the signature is checked");
    let wrong = Call::leak_report(&body, &signer).header(HEADER, "nope");
    t.send_to(&functions, wrong.into())
        .await
        .assert_problem(401, "unauthorized");
    let through = Call::leak_report(&body, &signer).header(HEADER, SECRET);
    let answer = t.send_to(&functions, through.into()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn the_edges_secret_is_read_from_secrets_manager_at_start() {
    let sdk = sdk_config(Budget::MANAGEMENT).await;
    let id = api_tests::create_secret(SECRET).await;
    let read = ORIGIN_VERIFY
        .read(&sdk, |name: &str| {
            (name == ORIGIN_VERIFY.variable).then(|| id.clone())
        })
        .await
        .unwrap()
        .map(OriginLock::new)
        .expect("configured");
    assert!(read.admits(Some(SECRET)));
    api_tests::delete_secret(&id).await;
    let missing = ORIGIN_VERIFY
        .read(&sdk, |_: &str| {
            Some("appkeys-test-no-such-secret".to_owned())
        })
        .await
        .unwrap_err();
    assert_eq!(missing.error_type, "OriginSecretUnreadable");
    assert!(missing.message.contains(ORIGIN_VERIFY.variable));
}

//! The pepper from Secrets Manager (against the same local endpoint), and what reaches the logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use api_tests::{create_secret, delete_secret};
use api_tests::{with_wrong_checksum, TestApi, MERCHANT};
use appkeys::lambda::sdk::Budget;
use appkeys::pepper::PepperSource;
use appkeys::pepper::{load as load_pepper, PepperError};
use devkit::counter::RequestCounter;
use devkit::guard::sdk;

#[tokio::test]
async fn the_pepper_is_read_from_secrets_manager_and_keys_made_with_it_verify() {
    let secret = "a pepper kept in secrets manager, 32+ bytes";
    let id = create_secret(secret).await;
    let sdk = sdk(Budget::AUTHORIZER).await;
    let pepper = load_pepper(
        &sdk,
        &PepperSource::SecretsManager {
            secret_id: id.clone(),
        },
    )
    .await
    .unwrap();
    let inline = appkeys::pepper::Pepper::new(secret.as_bytes());
    assert_eq!(pepper.hash("ks_live_x"), inline.hash("ks_live_x"));

    // create-api-key and the authorizer each load it themselves: a key made by one verifies in the other.
    let mut t = TestApi::new().await;
    t.pepper = load_pepper(
        &sdk,
        &PepperSource::SecretsManager {
            secret_id: id.clone(),
        },
    )
    .await
    .unwrap();
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let full_key = t.create_key(MERCHANT, &app, "k").await.text("fullKey");
    t.pepper = pepper;
    let verifier = t.verifier(&RequestCounter::default()).await;
    assert_eq!(TestApi::allows(&verifier, &full_key).await, Some(true));
    // Under another pepper the same key is unknown.
    t.pepper = appkeys::pepper::Pepper::new(b"some other pepper of at least 32 bytes");
    let verifier = t.verifier(&RequestCounter::default()).await;
    assert_eq!(TestApi::allows(&verifier, &full_key).await, Some(false));
    delete_secret(&id).await;
}

#[tokio::test]
async fn a_missing_or_unusable_secret_fails_start_with_a_clear_message() {
    let sdk = sdk(Budget::AUTHORIZER).await;
    let missing = load_pepper(
        &sdk,
        &PepperSource::SecretsManager {
            secret_id: "appkeys-no-such-secret".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(missing, PepperError::Unreadable { .. }));
    let message = format!("{missing:?}");
    assert!(
        message.contains("appkeys-no-such-secret") && message.contains("API_KEY_PEPPER_SECRET_ID"),
        "{message}"
    );

    let id = create_secret("short").await;
    let short = load_pepper(
        &sdk,
        &PepperSource::SecretsManager {
            secret_id: id.clone(),
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(short, PepperError::TooShort { .. }), "{short:?}");
    assert!(
        !format!("{short:?}").contains("short\""),
        "the secret's value is not echoed"
    );
    delete_secret(&id).await;
}

/// A writer the subscriber logs into, so the test can read every line.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn secrets_never_reach_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    // The production format and level (see appkeys::lambda::telemetry), plus debug for our own crates.
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "info,appkeys=debug,authorizer=debug",
        ))
        .with_writer(move || writer.clone())
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (full_key, hash_hex, pepper_text) = tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let pepper_text = "the pepper that must stay secret!!";
            let mut t = TestApi::new().await;
            t.pepper = appkeys::pepper::Pepper::new(pepper_text.as_bytes());
            let app = t.create_application_named(MERCHANT, "Prod").await;
            let created = t.create_key(MERCHANT, &app, "k").await;
            let full_key = created.text("fullKey");
            let key_id = created.text("id");
            let verifier = t.verifier(&RequestCounter::default()).await;
            assert_eq!(TestApi::allows(&verifier, &full_key).await, Some(true));
            let tampered = with_wrong_checksum(&full_key);
            assert_eq!(TestApi::allows(&verifier, &tampered).await, Some(false));
            t.revoke_key(MERCHANT, &app, &key_id).await;
            assert_eq!(TestApi::allows(&verifier, &full_key).await, Some(false));
            t.revoke_key(MERCHANT, &app, &key_id).await;
            (
                full_key.clone(),
                t.pepper.hash(&full_key).to_hex(),
                pepper_text.to_owned(),
            )
        })
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // The decisions are logged, with the prefix and the reason…
    assert!(logs.contains("\"decision\":\"allow\""), "{logs}");
    assert!(logs.contains("\"reason\":\"revoked_key\""), "{logs}");
    assert!(logs.contains("\"reason\":\"bad_checksum\""), "{logs}");
    assert!(
        logs.contains(&format!("\"key_prefix\":\"{}\"", &full_key[..12])),
        "{logs}"
    );
    // …and nothing secret: not the key (nor its secret part), not its hash, not the pepper, not the header.
    assert!(!logs.contains(&full_key[12..]), "the key leaked");
    assert!(!logs.contains(&hash_hex), "the hash leaked");
    assert!(!logs.contains(&pepper_text), "the pepper leaked");
    assert!(!logs.contains("Bearer"), "the Authorization header leaked");
}

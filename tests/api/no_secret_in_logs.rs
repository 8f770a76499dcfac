//! No secret in any log line at `RUST_LOG=trace`, through the paths that handle
//! one: an idempotent replay (which decrypts the kept full key), a refusal kept under a key, and a
//! leaked-key report that revokes the key. The binaries'
//! own trace tests (`functions/*/tests/binary/trace_logs.rs`) cover the other paths.

use api_tests::{TestApi, MERCHANT};
use appkeys::domain::limits::Limits;

/// A writer the subscriber logs into, so the check can read every line.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The production subscriber at `RUST_LOG=trace`, through an idempotent key creation, its replay
/// (which decrypts the kept key), a refusal kept under a key, and a leaked-key report that
/// revokes it: no full key, hash, pepper or JWT in any line.
#[test]
fn no_secret_in_the_logs_of_idempotent_replays_kept_refusals_and_leak_reports_at_trace() {
    use api_tests::{Call, TestResponse};
    use local_gateway::signer::{keys_document, KeysServer, Signer};
    use serde_json::json;

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber =
        appkeys::lambda::telemetry::subscriber(move || writer.clone(), Some("trace"), None);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (full_key, hash_hex) = tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let t = TestApi::with_limits(Limits {
                max_keys_per_application: 1,
                ..Limits::default()
            })
            .await;
            let app = t.create_application_named(MERCHANT, "Prod").await;
            let create = |key: &str, description: &str| {
                Call::create_key(&app, json!({ "description": description }))
                    .idempotency_key(key)
                    .merchant(MERCHANT)
            };
            let first: TestResponse = t.send(create("k-1", "one").into()).await;
            assert_eq!(first.status, 201, "{}", first.body);
            let replay = t.send(create("k-1", "one").into()).await;
            assert_eq!(replay.header("idempotent-replayed"), Some("true"));
            let refused = t.send(create("k-2", "two").into()).await;
            refused.assert_problem(400, "key_limit_reached");
            let full_key = first.text("fullKey");

            let signer = Signer::generate("test-key");
            let keys = KeysServer::start(keys_document(&[&signer])).await;
            let functions = t
                .functions()
                .with_signing_keys(appkeys::secret_scanning::PublicKeys::new(&keys.url));
            let body = json!([{"token": full_key, "type": "t", "url": "u", "source": "content"}])
                .to_string();
            let report = t
                .send_to(&functions, Call::leak_report(&body, &signer).into())
                .await;
            assert_eq!(report.status, 200, "{}", report.body);
            (full_key.clone(), t.pepper.hash(&full_key).to_hex())
        })
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("leaked key revoked"), "{logs}");
    assert!(!logs.contains(&full_key[12..]), "the key leaked: {logs}");
    assert!(!logs.contains(&hash_hex), "the hash leaked");
    assert!(!logs.contains("test pepper"), "the pepper leaked");
    assert!(
        !logs.contains(api_tests::BEARER_TOKEN_HEADER),
        "a JWT leaked"
    );
}

//! Part 6: a leaked-key report of 1,000 tokens.

use std::collections::BTreeMap;
use std::time::Instant;

use api_tests::Call;
use appkeys::domain::key_format::{FullKey, KeyMode};
use appkeys::lambda::sdk::Budget;
use appkeys::secret_scanning::PublicKeys;
use appkeys::store::Store;
use devkit::counter::RequestCounter;
use devkit::guard::sdk;
use local_gateway::signer::{keys_document, KeysServer, Signer};
use serde_json::{json, Value};

use crate::*;

/// Part 6: a leaked-key report of 1,000 well-formed tokens, some of them keys of ours that still
/// work (in applications of 10 keys), the rest unknown, through the handler (signature check
/// included, GitHub's keys already cached as on a warm instance): time and DynamoDB requests.
pub async fn leak_report(sizes: &Sizes, report: &mut BTreeMap<&'static str, Value>) {
    const TOKENS: usize = 1000;
    let t = bench_table().await;
    let active = if sizes.smoke { 20 } else { 100 };
    let mut tokens = Vec::with_capacity(TOKENS);
    for application in 0..active / 10 {
        let app = t
            .create_application_named("m_leaks", &format!("leaky {application}"))
            .await;
        for _ in 0..10 {
            tokens.push(
                t.create_key("m_leaks", &app, "leaked")
                    .await
                    .text("fullKey"),
            );
        }
    }
    while tokens.len() < TOKENS {
        tokens.push(FullKey::generate(KeyMode::Live).expose_secret().to_owned());
    }
    let body = serde_json::Value::Array(
        tokens
            .iter()
            .map(|token| json!({"token": token, "type": "appkeys_api_key", "url": "https://github.com/o/r/blob/main/.env", "source": "content"}))
            .collect(),
    )
    .to_string();

    let signer = Signer::generate("bench-key");
    let keys = KeysServer::start(keys_document(&[&signer])).await;
    let requests = RequestCounter::default();
    let store = Store::new(
        requests.dynamodb_client(&sdk(Budget::MANAGEMENT).await),
        t.store().table(),
        t.state.config.limits,
    );
    let functions = local_gateway::Functions::new(
        appkeys::lambda::State {
            config: t.state.config.clone(),
            store,
        },
        t.pepper.clone(),
    )
    .with_signing_keys(PublicKeys::new(&keys.url));
    // A first report fetches GitHub's keys, as the first one of an instance does.
    let warm = Call::leak_report(
        r#"[{"token":"x","type":"t","url":"u","source":"s"}]"#,
        &signer,
    );
    let warmed = functions
        .invoke("report-leaked-keys", warm.into())
        .await
        .unwrap();
    assert_eq!(warmed.status(), 200);

    let before = requests.count();
    let started = Instant::now();
    let response = functions
        .invoke(
            "report-leaked-keys",
            Call::leak_report(&body, &signer).into(),
        )
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 200);
    let verdicts: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    let true_positives = verdicts
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["label"] == "true_positive")
        .count();
    assert_eq!(true_positives, active);
    report.insert(
        "leak_report_1000_ms",
        json!((elapsed.as_secs_f64() * 1000.0).round()),
    );
    report.insert(
        "leak_report_1000_requests",
        json!(requests.count() - before),
    );
    report.insert(
        "leak_report_1000",
        json!({
            "tokens": TOKENS,
            "keys_revoked": active,
            "batch_get_items": requests.count_of("BatchGetItem"),
            "transact_write_items": requests.count_of("TransactWriteItems"),
        }),
    );
}

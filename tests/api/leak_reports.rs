//! Leaked-key reports (the contract's "Leaked-key reports"): GitHub's secret-scanning
//! partner endpoint, driven with real signatures (an ECDSA P-256 key pair made here) whose public
//! keys a local HTTP server publishes as GitHub does.

use std::sync::Arc;

use api_tests::{with_wrong_checksum, Call, TestApi, TestResponse, MERCHANT, OTHER_MERCHANT};
use appkeys::domain::key_format::{FullKey, KeyMode};
use appkeys::secret_scanning::PublicKeys;
use devkit::counter::RequestCounter;
use local_gateway::signer::{keys_document, KeysServer, Signer};
use local_gateway::Functions;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

struct Reporting {
    t: TestApi,
    signer: Signer,
    keys: KeysServer,
    /// The functions of one instance: the report function's key cache lives across requests.
    functions: Functions,
}

async fn reporting() -> Reporting {
    let t = TestApi::new().await;
    let signer = Signer::generate("test-key-1");
    let keys = KeysServer::start(keys_document(&[&signer])).await;
    let functions = t.functions().with_signing_keys(PublicKeys::new(&keys.url));
    Reporting {
        t,
        signer,
        keys,
        functions,
    }
}

impl Reporting {
    async fn send(&self, call: Call) -> TestResponse {
        self.t.send_to(&self.functions, call.into()).await
    }

    async fn report(&self, tokens: &[&str]) -> TestResponse {
        self.send(Call::leak_report(&report_body(tokens), &self.signer))
            .await
    }

    /// A key of `MERCHANT`'s application `app`, created through the API: (id, full key).
    async fn key(&self, app: &str) -> (String, String) {
        let created = self.t.create_key(MERCHANT, app, "checkout").await;
        (created.text("id"), created.text("fullKey"))
    }

    async fn works(&self, full_key: &str) -> bool {
        let verifier = self.t.verifier(&Default::default()).await;
        TestApi::allows(&verifier, full_key).await == Some(true)
    }
}

/// A report as GitHub sends it: one entry per token, where it was found.
fn report_body(tokens: &[&str]) -> String {
    let entries: Vec<Value> = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            json!({
                "token": token,
                "type": "appkeys_api_key",
                "url": format!("https://github.com/octo/leaky/blob/main/config-{i}.env"),
                "source": "content",
            })
        })
        .collect();
    Value::Array(entries).to_string()
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn labels(response: &TestResponse) -> Vec<String> {
    assert_eq!(response.status, 200, "{}", response.body);
    response
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["label"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_active_key_is_revoked_and_every_token_labelled_in_order() {
    let r = reporting().await;
    let app = r.t.create_application_named(MERCHANT, "Prod").await;
    let (active_id, active) = r.key(&app).await;
    let (revoked_id, revoked) = r.key(&app).await;
    assert_eq!(
        r.t.revoke_key(MERCHANT, &app, &revoked_id).await.status,
        204
    );
    let other_mode = FullKey::generate(KeyMode::Test).expose_secret().to_owned();
    let unknown = FullKey::generate(KeyMode::Live).expose_secret().to_owned();
    let bad_checksum = with_wrong_checksum(&active);
    assert!(r.works(&active).await);

    let tokens = [
        active.as_str(),
        revoked.as_str(),
        &other_mode,
        "not a key at all",
        &bad_checksum,
        &unknown,
    ];
    let answer = r.report(&tokens).await;
    assert_eq!(
        labels(&answer),
        [
            "true_positive",
            "true_positive",
            "false_positive",
            "false_positive",
            "false_positive",
            "false_positive"
        ]
    );
    for (verdict, token) in answer.json.as_array().unwrap().iter().zip(tokens) {
        assert_eq!(
            verdict,
            &json!({"token_hash": token_hash(token), "token_type": "appkeys_api_key", "label": verdict["label"]})
        );
    }
    for token in tokens {
        assert!(!answer.body.contains(token), "a token in the answer");
    }

    // Refused on its very next call; listed revoked; nothing else changed.
    assert!(!r.works(&active).await);
    let listed = r.t.get_application(MERCHANT, &app).await;
    let status = |id: &str| {
        listed.json["apiKeys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status(&active_id), "revoked");
    assert_eq!(status(&revoked_id), "revoked");

    // The audit trail says who and why; the event reaches EventBridge like any other.
    let events = r.t.events(MERCHANT, &app, "").await.json["items"].clone();
    let newest = &events[0];
    assert_eq!(newest["type"], "api_key.revoked");
    assert_eq!(newest["keyId"], active_id);
    assert_eq!(
        newest["actor"],
        json!({"sub": "github-secret-scanning", "merchantId": MERCHANT})
    );
    assert_eq!(
        newest["report"],
        json!({"url": "https://github.com/octo/leaky/blob/main/config-0.env", "source": "content"})
    );
    assert_eq!(newest["userAgent"], "GitHub-Hookshot/044aadd");
    assert_eq!(
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "api_key.revoked")
            .count(),
        2
    );

    // The same report again (GitHub retries): the same labels, nothing more revoked.
    let before = r.t.snapshot().await;
    assert_eq!(labels(&r.report(&tokens).await), labels(&answer));
    assert_eq!(r.t.snapshot().await, before);
}

#[tokio::test]
async fn expired_keys_are_ours_untouched_and_a_disabled_applications_keys_are_revoked() {
    let r = reporting().await;
    let app = r.t.create_application_named(MERCHANT, "Prod").await;
    let expires = r.t.clock.now().plus_seconds(60).to_rfc3339();
    let expiring =
        r.t.send(
            Call::create_key(&app, json!({"description": "short", "expiresAt": expires}))
                .merchant(MERCHANT)
                .into(),
        )
        .await
        .text("fullKey");
    let (_, working) = r.key(&app).await;
    r.t.clock.advance(61);
    assert_eq!(r.t.set_enabled(MERCHANT, &app, false).await.status, 200);
    assert_eq!(
        labels(&r.report(&[&expiring, &working]).await),
        ["true_positive", "true_positive"]
    );
    let revocations: Vec<Value> = r.t.events(MERCHANT, &app, "").await.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "api_key.revoked")
        .cloned()
        .collect();
    assert_eq!(
        revocations.len(),
        1,
        "only the working key, though its application is disabled"
    );
    // Enabled again, the revoked key stays refused.
    assert_eq!(r.t.set_enabled(MERCHANT, &app, true).await.status, 200);
    assert!(!r.works(&working).await);
}

#[tokio::test]
async fn a_bad_or_missing_signature_is_401_and_revokes_nothing() {
    let r = reporting().await;
    let app = r.t.create_application_named(MERCHANT, "Prod").await;
    let (_, key) = r.key(&app).await;
    let body = report_body(&[&key]);
    let stranger = Signer::generate("test-key-1");
    let unknown = Signer::generate("not-published");
    let tampered = body.replace("config-0", "config-1");
    let before = r.t.snapshot().await;
    for (what, call) in [
        // First: the instance fetches the keys for it and does not find it (later, within the
        // minute, an unknown identifier is 503, see the test of rotation).
        (
            "an identifier GitHub does not publish",
            Call::leak_report(&body, &unknown),
        ),
        (
            "signed by another key under the published identifier",
            Call::leak_report(&body, &stranger),
        ),
        (
            "a body changed after signing",
            Call::unsigned_leak_report(&tampered)
                .header("github-public-key-identifier", &r.signer.identifier)
                .header(
                    "github-public-key-signature",
                    &r.signer.sign(body.as_bytes()),
                ),
        ),
        ("no headers", Call::unsigned_leak_report(&body)),
        (
            "no identifier",
            Call::unsigned_leak_report(&body).header(
                "github-public-key-signature",
                &r.signer.sign(body.as_bytes()),
            ),
        ),
        (
            "no signature",
            Call::unsigned_leak_report(&body)
                .header("github-public-key-identifier", &r.signer.identifier),
        ),
        (
            "a signature that is not base64",
            Call::unsigned_leak_report(&body)
                .header("github-public-key-identifier", &r.signer.identifier)
                .header("github-public-key-signature", "not base64!"),
        ),
    ] {
        let answer = r.send(call).await;
        answer.assert_problem(401, "unauthorized");
        assert!(!answer.body.contains(&key), "{what}");
        assert_eq!(r.t.snapshot().await, before, "{what} changed the table");
    }
    assert!(r.works(&key).await);
}

#[tokio::test]
async fn unreachable_keys_are_503_and_revoke_nothing() {
    let r = reporting().await;
    let app = r.t.create_application_named(MERCHANT, "Prod").await;
    let (_, key) = r.key(&app).await;
    r.keys.set_down(true);
    let answer = r.report(&[&key]).await;
    answer.assert_problem(503, "temporarily_unavailable");
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert!(r.works(&key).await);

    // A server that does not answer at all: the same.
    let gone =
        r.t.functions()
            .with_signing_keys(PublicKeys::new("http://127.0.0.1:9/keys"));
    let answer =
        r.t.send_to(
            &gone,
            Call::leak_report(&report_body(&[&key]), &r.signer).into(),
        )
        .await;
    answer.assert_problem(503, "temporarily_unavailable");
    assert!(r.works(&key).await);
}

#[tokio::test]
async fn keys_are_cached_refetched_for_an_unknown_identifier_at_most_once_a_minute_and_rotated() {
    let r = reporting().await;
    let app = r.t.create_application_named(MERCHANT, "Prod").await;
    let (_, first) = r.key(&app).await;
    assert_eq!(labels(&r.report(&[&first]).await), ["true_positive"]);
    assert_eq!(labels(&r.report(&[&first]).await), ["true_positive"]);
    assert_eq!(r.keys.fetches(), 1, "cached");
    // Unknown identifiers, again and again: one fetch per minute at most (none yet). Each is
    // refused (the contract: unknown identifier, 401), saying when the keys may be fetched again.
    let stranger = Signer::generate("random-identifier");
    for _ in 0..5 {
        let answer = r
            .send(Call::leak_report(&report_body(&[&first]), &stranger))
            .await;
        answer.assert_problem(401, "unauthorized");
        assert!(
            answer
                .text("detail")
                .contains("fetched again at most once a minute"),
            "{}",
            answer.body
        );
    }
    assert_eq!(r.keys.fetches(), 1);

    // GitHub rotates: a new identifier replaces the old one. An instance whose interval has
    // passed picks it up on the first report signed with it (1 s here instead of a minute).
    let instance = r.t.functions().with_signing_keys(
        PublicKeys::new(&r.keys.url).with_refetch_interval(std::time::Duration::from_secs(1)),
    );
    let send = |body: String, signer: &Signer| {
        r.t.send_to(&instance, Call::leak_report(&body, signer).into())
    };
    let (_, second) = r.key(&app).await;
    assert_eq!(
        labels(&send(report_body(&[&second]), &r.signer).await),
        ["true_positive"]
    );
    let fetched = r.keys.fetches();
    let rotated = Signer::generate("test-key-2");
    r.keys.publish(keys_document(&[&rotated]));
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (_, third) = r.key(&app).await;
    assert_eq!(
        labels(&send(report_body(&[&third]), &rotated).await),
        ["true_positive"]
    );
    assert_eq!(
        r.keys.fetches(),
        fetched + 1,
        "one fetch for the new identifier"
    );
    assert!(!r.works(&third).await);
    // Within the interval, the old identifier, no longer published, is refused without a fetch;
    // once the keys have been fetched again without it, too.
    send(report_body(&[&third]), &r.signer)
        .await
        .assert_problem(401, "unauthorized");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    send(report_body(&[&third]), &r.signer)
        .await
        .assert_problem(401, "unauthorized");
    assert_eq!(r.keys.fetches(), fetched + 2);
}

/// GitHub rotating its key within a minute of the instance's last fetch: the contract refuses an
/// unknown identifier (401), and the keys are fetched again at most once a minute, so the report
/// passes once that minute is over. A 503 here would let anyone cause 5xx answers with made-up
/// identifiers; the 401 says when to retry.
#[tokio::test]
async fn a_report_signed_with_a_key_published_within_the_minute_passes_once_the_keys_may_be_fetched(
) {
    let r = reporting().await;
    let instance = r.t.functions().with_signing_keys(
        PublicKeys::new(&r.keys.url).with_refetch_interval(std::time::Duration::from_millis(1_500)),
    );
    let send = |body: String, signer: &Signer| {
        r.t.send_to(&instance, Call::leak_report(&body, signer).into())
    };
    let app = r.t.create_application_named(MERCHANT, "Prod").await;
    let (_, first) = r.key(&app).await;
    assert_eq!(
        labels(&send(report_body(&[&first]), &r.signer).await),
        ["true_positive"]
    );
    let rotated = Signer::generate("test-key-2");
    r.keys.publish(keys_document(&[&rotated, &r.signer]));
    let (_, second) = r.key(&app).await;
    let body = report_body(&[&second]);
    send(body.clone(), &rotated)
        .await
        .assert_problem(401, "unauthorized");
    assert!(r.works(&second).await, "nothing revoked yet");
    tokio::time::sleep(std::time::Duration::from_millis(1_600)).await;
    assert_eq!(labels(&send(body, &rotated).await), ["true_positive"]);
    assert!(!r.works(&second).await);
}

/// An entry whose `url` is null or that has no `source` still counts: refusing the whole report
/// would leave every leaked key in it working.
#[tokio::test]
async fn entries_with_an_empty_missing_or_long_url_or_source_still_revoke() {
    let r = reporting().await;
    let app = r.t.create_application_named(MERCHANT, "Prod").await;
    let long_url = format!("https://github.com/octo/leaky/{}", "é".repeat(3000));
    let entries = [
        json!({"type": "appkeys_api_key", "url": null, "source": "npm"}),
        json!({"type": "appkeys_api_key", "url": "https://github.com/octo/leaky"}),
        json!({"url": long_url, "source": "content"}),
    ];
    let mut keys = Vec::new();
    let mut report = Vec::new();
    for mut entry in entries {
        let (_, key) = r.key(&app).await;
        entry["token"] = Value::String(key.clone());
        keys.push(key);
        report.push(entry);
    }
    let answer = r
        .send(Call::leak_report(
            &Value::Array(report).to_string(),
            &r.signer,
        ))
        .await;
    assert_eq!(labels(&answer), ["true_positive"; 3]);
    assert_eq!(answer.json[2]["token_type"], "", "no type: answered empty");
    for key in &keys {
        assert!(!r.works(key).await, "a leaked key still works");
    }
    let events = r.t.events(MERCHANT, &app, "").await.json["items"].clone();
    let reports: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "api_key.revoked")
        .map(|e| &e["report"])
        .collect();
    assert_eq!(reports.len(), 3);
    // Newest first; the order within one report's revocations is not fixed.
    let mut kept: Vec<(usize, String)> = reports
        .iter()
        .map(|report| {
            let url = report["url"].as_str().unwrap();
            (
                url.chars().count(),
                report["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    kept.sort();
    let cut = appkeys::secret_scanning::REPORT_TEXT_MAX_CHARS;
    assert_eq!(
        kept,
        [
            (0, "npm".to_owned()),
            ("https://github.com/octo/leaky".len(), String::new()),
            (cut, "content".to_owned()),
        ]
    );
}

#[tokio::test]
async fn bounds_one_to_a_thousand_tokens_and_one_mebibyte() {
    let r = reporting().await;
    let before = r.t.snapshot().await;
    let signed = |body: &str| Call::leak_report(body, &r.signer);
    let key = FullKey::generate(KeyMode::Live).expose_secret().to_owned();
    let thousand: Vec<&str> = vec![key.as_str(); 1000];
    assert_eq!(
        labels(&r.send(signed(&report_body(&thousand))).await).len(),
        1000
    );
    let too_many: Vec<&str> = vec![key.as_str(); 1001];
    for (what, body) in [
        ("1001 tokens", report_body(&too_many)),
        ("no token", "[]".to_owned()),
        ("an object", r#"{"token": "x"}"#.to_owned()),
        (
            "a token that is not a string",
            r#"[{"token": 1, "type": "t", "url": "u", "source": "s"}]"#.to_owned(),
        ),
        (
            "a url that is not a string",
            r#"[{"token": "x", "type": "t", "url": 7, "source": "s"}]"#.to_owned(),
        ),
        ("not JSON", "[{".to_owned()),
    ] {
        let answer = r.send(signed(&body)).await;
        answer.assert_problem(400, "validation_failed");
        assert!(
            answer.json["errors"]
                .as_array()
                .is_some_and(|e| !e.is_empty()),
            "{what}"
        );
    }
    // Members GitHub may add later are no reason to leave a key working.
    let extra =
        r#"[{"token": "x", "type": "t", "url": "u", "source": "s", "found_at": "2026-11-28"}]"#;
    assert_eq!(labels(&r.send(signed(extra)).await), ["false_positive"]);
    // Over 1 MiB: refused before the signature is even checked.
    let huge = format!("[{}]", " ".repeat(1024 * 1024));
    r.send(Call::unsigned_leak_report(&huge))
        .await
        .assert_problem(413, "payload_too_large");
    assert_eq!(r.t.snapshot().await, before);
}

#[tokio::test]
async fn garbage_costs_no_read_and_many_tokens_are_read_in_batches() {
    let r = reporting().await;
    let requests = RequestCounter::default();
    let counted = Functions::new(
        r.t.state_with([aws_sdk_dynamodb::config::SharedInterceptor::new(
            requests.clone(),
        )])
        .await,
        r.t.pepper.clone(),
    )
    .with_signing_keys(PublicKeys::new(&r.keys.url));
    let send = |tokens: Vec<String>| {
        let body = report_body(&tokens.iter().map(String::as_str).collect::<Vec<_>>());
        r.t.send_to(&counted, Call::leak_report(&body, &r.signer).into())
    };

    let garbage: Vec<String> = (0..300)
        .map(|i| match i % 3 {
            0 => format!("ks_live_{i}"),
            1 => FullKey::generate(KeyMode::Test).expose_secret().to_owned(),
            _ => "AKIAIOSFODNN7EXAMPLE".to_owned(),
        })
        .collect();
    assert!(labels(&send(garbage).await)
        .iter()
        .all(|l| l == "false_positive"));
    assert_eq!(requests.count(), 0, "garbage reached DynamoDB");

    let unknown: Vec<String> = (0..250)
        .map(|_| FullKey::generate(KeyMode::Live).expose_secret().to_owned())
        .collect();
    assert!(labels(&send(unknown).await)
        .iter()
        .all(|l| l == "false_positive"));
    assert_eq!(
        requests.count_of("BatchGetItem"),
        3,
        "250 lookups in batches of 100"
    );
    assert_eq!(requests.count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn simultaneous_reports_of_one_key_revoke_it_once() {
    let r = Arc::new(reporting().await);
    let app = r.t.create_application_named(MERCHANT, "Prod").await;
    let other_app = r.t.create_application_named(OTHER_MERCHANT, "Theirs").await;
    let (key_id, key) = r.key(&app).await;
    let theirs =
        r.t.create_key(OTHER_MERCHANT, &other_app, "theirs")
            .await
            .text("fullKey");
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let r = r.clone();
            let (key, theirs) = (key.clone(), theirs.clone());
            let merchant_revokes = i == 0;
            let app = app.clone();
            let key_id = key_id.clone();
            tokio::spawn(async move {
                if merchant_revokes {
                    // The merchant revokes it at the same moment.
                    r.t.revoke_key(MERCHANT, &app, &key_id).await.status
                } else {
                    let answer = r.report(&[&key, &theirs, &key]).await;
                    assert_eq!(labels(&answer), ["true_positive"; 3]);
                    answer.status
                }
            })
        })
        .collect();
    for task in tasks {
        assert!([200, 204].contains(&task.await.unwrap()));
    }
    let revocations = |events: Value| {
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "api_key.revoked")
            .count()
    };
    assert_eq!(
        revocations(r.t.events(MERCHANT, &app, "").await.json["items"].clone()),
        1
    );
    assert_eq!(
        revocations(r.t.events(OTHER_MERCHANT, &other_app, "").await.json["items"].clone()),
        1
    );
    assert!(!r.works(&key).await);
    assert!(!r.works(&theirs).await);
}

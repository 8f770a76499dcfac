//! The payment-route authorizer: decisions, immediacy, races and faults.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use api_tests::{TestApi, MERCHANT};
use appkeys::authorize::KeyVerifier;
use appkeys::domain::key_format::{FullKey, KeyMode};
use appkeys::domain::limits::Limits;
use appkeys::lambda::sdk::Budget;
use appkeys::store::Store;
use devkit::counter::RequestCounter;
use devkit::guard::sdk;
use serde_json::json;

async fn app_with_key(t: &TestApi, name: &str) -> (String, String, String) {
    let app = t.create_application_named(MERCHANT, name).await;
    let created = t.create_key(MERCHANT, &app, "checkout").await;
    assert_eq!(created.status, 201);
    (app, created.text("id"), created.text("fullKey"))
}

#[tokio::test]
async fn an_active_key_of_an_enabled_application_is_allowed_with_its_context() {
    let t = TestApi::new().await;
    let (app, key_id, full_key) = app_with_key(&t, "Prod").await;
    let counter = RequestCounter::default();
    let verifier = t.verifier(&counter).await;
    let response = TestApi::authorize(&verifier, Some(&format!("Bearer {full_key}")))
        .await
        .unwrap();
    assert!(response.is_authorized);
    assert_eq!(
        response.context,
        json!({"merchantId": MERCHANT, "applicationId": app, "keyId": key_id, "permissions": "*"})
    );
    assert_eq!(
        counter.count(),
        1,
        "exactly one DynamoDB request per verification"
    );
    // The wire shape API Gateway reads: a simple response.
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(wire["isAuthorized"], true);
    assert_eq!(wire["context"]["keyId"], key_id);
    // The scheme is case-insensitive, as HTTP auth schemes are.
    let lower_case_scheme = TestApi::authorize(&verifier, Some(&format!("bearer {full_key}")))
        .await
        .unwrap();
    assert!(lower_case_scheme.is_authorized);
}

#[tokio::test]
async fn malformed_headers_are_denied_without_any_database_request() {
    let t = TestApi::new().await;
    let (_, _, full_key) = app_with_key(&t, "Prod").await;
    let counter = RequestCounter::default();
    let verifier = t.verifier(&counter).await;
    let mut bad_checksum = full_key.clone().into_bytes();
    let last = bad_checksum.len() - 1;
    bad_checksum[last] = if bad_checksum[last] == b'a' {
        b'b'
    } else {
        b'a'
    };
    let bad_checksum = String::from_utf8(bad_checksum).unwrap();
    let test_mode_key = FullKey::generate(KeyMode::Test).expose_secret().to_owned();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("empty header", Some(String::new())),
        ("wrong scheme", Some(format!("Basic {full_key}"))),
        ("no scheme", Some(full_key.clone())),
        ("scheme only", Some("Bearer".into())),
        (
            "JWT instead of a key",
            Some("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtXzEyMyJ9.c2lnbmF0dXJl".into()),
        ),
        (
            "wrong prefix",
            Some(format!("Bearer sk_live_{}", &full_key[8..])),
        ),
        (
            "test key on a live service",
            Some(format!("Bearer {test_mode_key}")),
        ),
        (
            "too short",
            Some(format!("Bearer {}", &full_key[..full_key.len() - 1])),
        ),
        ("too long", Some(format!("Bearer {full_key}0"))),
        ("two spaces", Some(format!("Bearer  {full_key}"))),
        (
            "bad alphabet",
            Some(format!("Bearer {}-{}", &full_key[..20], &full_key[21..])),
        ),
        ("bad checksum", Some(format!("Bearer {bad_checksum}"))),
    ];
    for (what, header) in cases {
        let response = TestApi::authorize(&verifier, header.as_deref())
            .await
            .unwrap();
        assert!(!response.is_authorized, "{what} was allowed");
        assert_eq!(response.context, json!({}), "{what}");
    }
    assert_eq!(
        counter.count(),
        0,
        "format failures must not reach DynamoDB"
    );
    // And the same well-formed key still works, with exactly one request.
    assert_eq!(TestApi::allows(&verifier, &full_key).await, Some(true));
    assert_eq!(counter.count(), 1);
}

#[tokio::test]
async fn unknown_revoked_and_disabled_keys_are_denied_and_re_enabling_restores() {
    let t = TestApi::new().await;
    let (app, key_id, full_key) = app_with_key(&t, "Prod").await;
    let counter = RequestCounter::default();
    let verifier = t.verifier(&counter).await;

    let unknown = FullKey::generate(KeyMode::Live).expose_secret().to_owned();
    assert_eq!(
        TestApi::allows(&verifier, &unknown).await,
        Some(false),
        "unknown key"
    );
    assert_eq!(counter.count(), 1);

    // A key hashed under another pepper is unknown here: the hash is keyed.
    let other = TestApi::new().await;
    let (_, _, foreign_key) = app_with_key(&other, "Elsewhere").await;
    assert_eq!(TestApi::allows(&verifier, &foreign_key).await, Some(false));

    assert_eq!(t.set_enabled(MERCHANT, &app, false).await.status, 200);
    assert_eq!(
        TestApi::allows(&verifier, &full_key).await,
        Some(false),
        "disabled application"
    );
    assert_eq!(t.set_enabled(MERCHANT, &app, true).await.status, 200);
    assert_eq!(
        TestApi::allows(&verifier, &full_key).await,
        Some(true),
        "re-enabled application"
    );

    assert_eq!(t.revoke_key(MERCHANT, &app, &key_id).await.status, 204);
    assert_eq!(
        TestApi::allows(&verifier, &full_key).await,
        Some(false),
        "revoked key"
    );
    // Enabling never brings a revoked key back.
    t.set_enabled(MERCHANT, &app, false).await;
    t.set_enabled(MERCHANT, &app, true).await;
    assert_eq!(TestApi::allows(&verifier, &full_key).await, Some(false));
}

#[tokio::test]
async fn revocation_and_disabling_take_effect_on_the_very_next_verification() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let mut keys = Vec::new();
    for i in 0..5 {
        let created = t.create_key(MERCHANT, &app, &format!("key {i}")).await;
        keys.push((created.text("id"), created.text("fullKey")));
    }
    let verifier = t.verifier(&RequestCounter::default()).await;
    for (_, full_key) in &keys {
        assert_eq!(TestApi::allows(&verifier, full_key).await, Some(true));
    }
    // Revoke one: it is refused at once, the others keep working.
    assert_eq!(t.revoke_key(MERCHANT, &app, &keys[0].0).await.status, 204);
    assert_eq!(TestApi::allows(&verifier, &keys[0].1).await, Some(false));
    for (_, full_key) in &keys[1..] {
        assert_eq!(TestApi::allows(&verifier, full_key).await, Some(true));
    }
    // Disable: every key of the application is refused at once.
    assert_eq!(t.set_enabled(MERCHANT, &app, false).await.status, 200);
    for (_, full_key) in &keys {
        assert_eq!(TestApi::allows(&verifier, full_key).await, Some(false));
    }
    // A key created while disabled starts refused and works once enabled.
    let late = t.create_key(MERCHANT, &app, "late").await.text("fullKey");
    assert_eq!(TestApi::allows(&verifier, &late).await, Some(false));
    t.set_enabled(MERCHANT, &app, true).await;
    assert_eq!(TestApi::allows(&verifier, &late).await, Some(true));
    for (_, full_key) in &keys[1..] {
        assert_eq!(TestApi::allows(&verifier, full_key).await, Some(true));
    }
}

/// The invariant: the authorizer allows a key iff the management API reports it active and its
/// application enabled.
async fn assert_authorizer_agrees_with_management(
    t: &TestApi,
    verifier: &KeyVerifier,
    app: &str,
    keys: &HashMap<String, String>,
    round: &str,
) {
    let item = t.listed_application(MERCHANT, app).await;
    let enabled = item["isEnabled"].as_bool().unwrap();
    let statuses: HashMap<String, String> = item["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["id"].as_str().unwrap().to_owned(),
                k["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        statuses.len(),
        keys.len(),
        "{round}: every created key is listed"
    );
    for (id, full_key) in keys {
        let expected = enabled && statuses[id] == "active";
        assert_eq!(
            TestApi::allows(verifier, full_key).await,
            Some(expected),
            "{round}: key {id}"
        );
    }
}

async fn spawn_all(
    tasks: Vec<tokio::task::JoinHandle<api_tests::TestResponse>>,
) -> Vec<api_tests::TestResponse> {
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn disable_racing_key_creation_never_leaves_a_usable_key_on_a_disabled_application() {
    let t = Arc::new(
        TestApi::with_limits(Limits {
            max_keys_per_application: 99,
            ..Limits::default()
        })
        .await,
    );
    let verifier = t.verifier(&RequestCounter::default()).await;
    for round in 0..12 {
        let app = t
            .create_application_named(MERCHANT, &format!("race {round}"))
            .await;
        let mut keys = HashMap::new();
        let created = t.create_key(MERCHANT, &app, "existing").await;
        keys.insert(created.text("id"), created.text("fullKey"));
        let barrier = Arc::new(tokio::sync::Barrier::new(5));
        let mut tasks = Vec::new();
        // Odd rounds start disabled and race an enable instead.
        let target = round % 2 == 1;
        if target {
            t.set_enabled(MERCHANT, &app, false).await;
        }
        for i in 0..5 {
            let (t, app, barrier) = (t.clone(), app.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                if i == 2 {
                    t.set_enabled(MERCHANT, &app, target).await
                } else {
                    t.create_key(MERCHANT, &app, &format!("racing {i}")).await
                }
            }));
        }
        for r in spawn_all(tasks).await {
            assert!(
                r.status == 200 || r.status == 201,
                "round {round}: {}",
                r.body
            );
            if r.status == 201 {
                keys.insert(r.text("id"), r.text("fullKey"));
            }
        }
        assert_authorizer_agrees_with_management(
            &t,
            &verifier,
            &app,
            &keys,
            &format!("round {round}"),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn enable_racing_revoke_and_revoke_racing_revoke_keep_the_authorizer_exact() {
    let t = Arc::new(TestApi::new().await);
    let verifier = t.verifier(&RequestCounter::default()).await;
    for round in 0..12 {
        let app = t
            .create_application_named(MERCHANT, &format!("race {round}"))
            .await;
        let mut keys = HashMap::new();
        let mut ids = Vec::new();
        for i in 0..4 {
            let created = t.create_key(MERCHANT, &app, &format!("key {i}")).await;
            let id = created.text("id");
            keys.insert(id.clone(), created.text("fullKey"));
            ids.push(id);
        }
        t.set_enabled(MERCHANT, &app, false).await;
        // Enable races two revocations of key 0, one of key 1, and a disable-enable flip.
        let barrier = Arc::new(tokio::sync::Barrier::new(4));
        let mut tasks = Vec::new();
        for (i, target) in [
            ids[0].clone(),
            ids[0].clone(),
            ids[1].clone(),
            String::new(),
        ]
        .into_iter()
        .enumerate()
        {
            let (t, app, barrier) = (t.clone(), app.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                if i == 3 {
                    t.set_enabled(MERCHANT, &app, true).await
                } else {
                    t.revoke_key(MERCHANT, &app, &target).await
                }
            }));
        }
        let responses = spawn_all(tasks).await;
        let key0: Vec<u16> = responses[..2].iter().map(|r| r.status).collect();
        assert!(
            key0.contains(&204) && key0.contains(&400),
            "round {round}: revoke racing revoke gave {key0:?}"
        );
        assert_eq!(responses[2].status, 204);
        assert_eq!(responses[3].status, 200);
        assert_authorizer_agrees_with_management(
            &t,
            &verifier,
            &app,
            &keys,
            &format!("round {round}"),
        )
        .await;
    }
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn verifier_at(endpoint: &str, t: &TestApi) -> KeyVerifier {
    let sdk = sdk(Budget::AUTHORIZER).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .build();
    let store = Store::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        "any-table",
        Limits::default(),
    );
    KeyVerifier::new(store, t.pepper.clone(), KeyMode::Live, Default::default())
}

const FAIL_CLOSED_BOUND: Duration = Duration::from_millis(2500);

#[tokio::test]
async fn a_closed_dynamodb_endpoint_is_an_error_not_an_allow_within_the_bound() {
    let t = TestApi::new().await;
    let (_, _, full_key) = app_with_key(&t, "Prod").await;
    let verifier = verifier_at(&format!("http://127.0.0.1:{}", closed_port()), &t).await;
    let started = Instant::now();
    let result = TestApi::authorize(&verifier, Some(&format!("Bearer {full_key}"))).await;
    assert!(result.is_err(), "must fail closed, got {result:?}");
    assert!(
        started.elapsed() < FAIL_CLOSED_BOUND,
        "took {:?}",
        started.elapsed()
    );
    // Reported to Lambda with a stable type, which the dashboard and log queries group by.
    assert_eq!(result.unwrap_err().error_type, "DynamoDbUnavailable");
}

#[tokio::test]
async fn a_hanging_dynamodb_endpoint_is_an_error_within_the_bound() {
    let t = TestApi::new().await;
    let (_, _, full_key) = app_with_key(&t, "Prod").await;
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(8) {
            held.push(stream);
        }
        std::thread::sleep(Duration::from_secs(10));
    });
    let verifier = verifier_at(&format!("http://127.0.0.1:{port}"), &t).await;
    let started = Instant::now();
    let result = TestApi::authorize(&verifier, Some(&format!("Bearer {full_key}"))).await;
    assert!(result.is_err(), "must fail closed, got {result:?}");
    assert!(
        started.elapsed() < FAIL_CLOSED_BOUND,
        "took {:?}",
        started.elapsed()
    );
}

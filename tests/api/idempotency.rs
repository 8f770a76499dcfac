//! `Idempotency-Key` on every POST (the contract's "Idempotent creation"): a retry with
//! the same key and request replays the first response (a key creation's full key included), a
//! different request is 422, records last 24 hours, refusals the contract keeps are kept, 5xx are
//! not, and of simultaneous requests with one key exactly one runs.

use std::sync::Arc;

use api_tests::{Call, TestApi, TestResponse, MERCHANT, OTHER_MERCHANT};
use appkeys::domain::limits::Limits;
use serde_json::{json, Value};

fn create_app(name: &str, key: &str) -> Call {
    Call::post(
        "/api/v1/applications",
        "/api/v1/applications",
        json!({ "name": name }),
    )
    .idempotency_key(key)
}

async fn send(t: &TestApi, call: Call, merchant: &str) -> TestResponse {
    t.send(call.merchant(merchant).into()).await
}

fn assert_replay_of(replay: &TestResponse, first: &TestResponse) {
    assert_eq!(replay.status, first.status, "{}", replay.body);
    assert_eq!(replay.json, first.json);
    for header in ["location", "cache-control", "content-type"] {
        assert_eq!(replay.header(header), first.header(header), "{header}");
    }
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn the_same_key_and_request_replay_the_first_response_and_create_once() {
    let t = TestApi::new().await;
    let first = send(&t, create_app("Prod", "k-1"), MERCHANT).await;
    assert_eq!(first.status, 201);
    let replay = send(&t, create_app("Prod", "k-1"), MERCHANT).await;
    assert_replay_of(&replay, &first);
    assert_eq!(t.list(MERCHANT, "").await.json["totalItems"], 1);
    // The same request spelled differently (white space, member order) is the same request.
    let first = send(
        &t,
        Call::post(
            "/api/v1/applications",
            "/api/v1/applications",
            json!({"name": "Other", "description": null}),
        )
        .idempotency_key("k-3"),
        MERCHANT,
    )
    .await;
    assert_eq!(first.status, 201);
    let again = send(
        &t,
        Call::post("/api/v1/applications", "/api/v1/applications", json!(null))
            .body(r#"{"description":null, "name": "Other"}"#)
            .idempotency_key("k-3"),
        MERCHANT,
    )
    .await;
    assert_replay_of(&again, &first);
}

#[tokio::test]
async fn a_replayed_key_creation_returns_the_same_key_and_creates_no_second_key() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let create = || {
        Call::create_key(&app, json!({"description": "checkout"}))
            .idempotency_key("\"8e03978e-40d5-43e8\"")
    };
    let first = send(&t, create(), MERCHANT).await;
    assert_eq!(first.status, 201);
    let replay = send(&t, create(), MERCHANT).await;
    assert_replay_of(&replay, &first);
    assert_eq!(replay.text("fullKey"), first.text("fullKey"));
    let keys = t.get_application(MERCHANT, &app).await.json["apiKeys"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(keys, 1);
    let verifier = t.verifier(&Default::default()).await;
    assert_eq!(
        TestApi::allows(&verifier, &replay.text("fullKey")).await,
        Some(true)
    );
    // The record keeps the full key only encrypted.
    let full_key = first.text("fullKey");
    for item in t
        .snapshot()
        .await
        .iter()
        .filter(|item| item.contains("IDEMPOTENCY#"))
    {
        assert!(
            !item.contains(&full_key[12..]),
            "the full key is in the clear: {item}"
        );
        assert!(item.contains("secret=B("), "{item}");
    }
}

/// Another user of the same merchant who sends the same key and request gets 422 and nothing of
/// the recorded answer (no full key); the user who made the request still gets its replay.
#[tokio::test]
async fn a_replay_goes_only_to_the_caller_that_made_the_first_request() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let create = |sub: &str| {
        Call::create_key(&app, json!({"description": "checkout"}))
            .idempotency_key("k-shared")
            .merchant(MERCHANT)
            .claim("sub", sub)
    };
    let first = t.send(create("user-1").into()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let full_key = first.text("fullKey");

    let other = t.send(create("user-2").into()).await;
    assert_eq!(other.status, 422, "{}", other.body);
    assert_eq!(other.json["type"], "/errors/idempotency_key_reused");
    assert_eq!(other.header("idempotent-replayed"), None);
    assert!(!other.body.contains(&full_key[12..]), "{}", other.body);
    assert!(!other.body.contains(&first.text("id")), "{}", other.body);

    let mine = t.send(create("user-1").into()).await;
    assert_replay_of(&mine, &first);
    assert_eq!(mine.text("fullKey"), full_key);
    let keys = t.get_application(MERCHANT, &app).await.json["apiKeys"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(keys, 1, "the other caller created nothing");
}

#[tokio::test]
async fn a_replayed_roll_returns_the_same_new_key_and_rolls_once() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let old = t.create_key(MERCHANT, &app, "checkout").await.text("id");
    let roll =
        || Call::roll_key(&app, &old, json!({"expiresInSeconds": 3600})).idempotency_key("roll-1");
    let first = send(&t, roll(), MERCHANT).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let replay = send(&t, roll(), MERCHANT).await;
    assert_replay_of(&replay, &first);
    assert_eq!(
        t.get_application(MERCHANT, &app).await.json["apiKeys"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Without the key, rolling it again is refused as usual.
    t.roll_key(MERCHANT, &app, &old, 3600)
        .await
        .assert_problem(400, "key_already_rolled");
}

#[tokio::test]
async fn the_same_key_with_another_request_is_422_and_does_nothing() {
    let t = TestApi::new().await;
    assert_eq!(
        send(&t, create_app("Prod", "k"), MERCHANT).await.status,
        201
    );
    let before = t.snapshot().await;
    send(&t, create_app("Other", "k"), MERCHANT)
        .await
        .assert_problem(422, "idempotency_key_reused");
    assert_eq!(t.snapshot().await, before);
    // Path ids are part of the request.
    let (a, b) = (
        t.create_application_named(MERCHANT, "A").await,
        t.create_application_named(MERCHANT, "B").await,
    );
    let body = json!({"description": "d"});
    assert_eq!(
        send(
            &t,
            Call::create_key(&a, body.clone()).idempotency_key("p"),
            MERCHANT
        )
        .await
        .status,
        201
    );
    send(
        &t,
        Call::create_key(&b, body).idempotency_key("p"),
        MERCHANT,
    )
    .await
    .assert_problem(422, "idempotency_key_reused");
}

#[tokio::test]
async fn keys_are_scoped_to_the_merchant_and_the_route() {
    let t = TestApi::new().await;
    let mine = send(&t, create_app("Prod", "shared-key"), MERCHANT).await;
    let theirs = send(&t, create_app("Prod", "shared-key"), OTHER_MERCHANT).await;
    assert_eq!((mine.status, theirs.status), (201, 201));
    assert_ne!(mine.text("id"), theirs.text("id"));
    assert_eq!(theirs.header("idempotent-replayed"), None);
    let key = send(
        &t,
        Call::create_key(&mine.text("id"), json!({"description": "d"}))
            .idempotency_key("shared-key"),
        MERCHANT,
    )
    .await;
    assert_eq!((key.status, key.header("idempotent-replayed")), (201, None));
}

#[tokio::test]
async fn refusals_the_contract_keeps_are_replayed_too() {
    let t = TestApi::with_limits(Limits {
        max_keys_per_application: 1,
        ..Limits::default()
    })
    .await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let taken = send(&t, create_app("prod", "t-1"), MERCHANT).await;
    taken.assert_problem(409, "name_taken");
    let replay = send(&t, create_app("prod", "t-1"), MERCHANT).await;
    replay.assert_problem(409, "name_taken");
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.json, taken.json);

    assert_eq!(t.create_key(MERCHANT, &app, "one").await.status, 201);
    let full = || Call::create_key(&app, json!({"description": "two"})).idempotency_key("l-1");
    send(&t, full(), MERCHANT)
        .await
        .assert_problem(400, "key_limit_reached");
    // Even with room again, the key answers as it did.
    let first_key = t.get_application(MERCHANT, &app).await.json["apiKeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(t.revoke_key(MERCHANT, &app, &first_key).await.status, 204);
    let replay = send(&t, full(), MERCHANT).await;
    replay.assert_problem(400, "key_limit_reached");
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));

    let unknown = uuid::Uuid::now_v7().to_string();
    let missing = || Call::create_key(&unknown, json!({"description": "d"})).idempotency_key("n-1");
    send(&t, missing(), MERCHANT)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(
        send(&t, missing(), MERCHANT)
            .await
            .header("idempotent-replayed"),
        Some("true")
    );
}

#[tokio::test]
async fn a_server_error_is_not_kept_and_a_retry_runs_again() {
    let t = TestApi::new().await;
    // DynamoDB refuses every transaction for a while: 503, nothing recorded.
    let failing = local_gateway::Functions::new(
        t.state_with([aws_sdk_dynamodb::config::SharedInterceptor::new(
            FailTransactions,
        )])
        .await,
        t.pepper.clone(),
    );
    // Its deadline 200 ms away: the store retries until then.
    let request = api_tests::due_in(
        create_app("Prod", "retry-me").merchant(MERCHANT).into(),
        appkeys::lambda::deadline::ANSWER_MARGIN + std::time::Duration::from_millis(200),
    );
    let failed = TestResponse::from(failing.invoke("create-application", request).await.unwrap());
    assert!(failed.status >= 500, "{}", failed.body);
    let retried = send(&t, create_app("Prod", "retry-me"), MERCHANT).await;
    assert_eq!(
        (retried.status, retried.header("idempotent-replayed")),
        (201, None)
    );
}

#[derive(Debug)]
struct FailTransactions;

impl aws_sdk_dynamodb::config::Intercept for FailTransactions {
    fn name(&self) -> &'static str {
        "FailTransactions"
    }

    fn read_before_transmit(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_smithy_runtime_api::client::orchestrator::Metadata;
        match cfg.load::<Metadata>() {
            Some(m) if m.name() == "TransactWriteItems" => {
                Err("injected: DynamoDB is unavailable".into())
            }
            _ => Ok(()),
        }
    }
}

#[tokio::test]
async fn a_retry_whose_expiry_has_passed_since_replays_the_created_key() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let expires = t.clock.now().plus_seconds(60).to_rfc3339();
    let create = |key: &str| {
        Call::create_key(&app, json!({"description": "short", "expiresAt": expires}))
            .idempotency_key(key)
    };
    let first = send(&t, create("lost-response"), MERCHANT).await;
    assert_eq!(first.status, 201, "{}", first.body);
    // The response was lost; the client retries two minutes later, when the same body's
    // expiresAt is in the past: the key it created is the answer, not a 400.
    t.clock.advance(120);
    let retry = send(&t, create("lost-response"), MERCHANT).await;
    assert_replay_of(&retry, &first);
    assert_eq!(retry.text("fullKey"), first.text("fullKey"));
    // Without a record of this request, the body is what it is: 400.
    send(&t, create("never-sent"), MERCHANT)
        .await
        .assert_problem(400, "validation_failed");
}

/// `{"name":"Prod","name":"Prod"}` read leniently is `{"name":"Prod"}`, whose key's record would
/// replay the first 201: a member given twice is always 400.
#[tokio::test]
async fn a_member_given_twice_is_400_even_under_a_key_that_holds_a_record() {
    let t = TestApi::new().await;
    let create = |body: &str| {
        Call::post("/api/v1/applications", "/api/v1/applications", json!(null))
            .body(body.to_owned())
            .idempotency_key("dup-1")
    };
    let first = send(&t, create(r#"{"name":"Prod"}"#), MERCHANT).await;
    assert_eq!(first.status, 201, "{}", first.body);
    send(&t, create(r#"{"name":"Prod","name":"Prod"}"#), MERCHANT)
        .await
        .assert_problem(400, "validation_failed");
}

/// Requests are compared after parsing: a number spelled `3600`, `3600.0` or `3.6e3` is one
/// value (not a 422 for a retry spelled otherwise).
#[tokio::test]
async fn an_equal_number_spelled_differently_is_the_same_request() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let key = t.create_key(MERCHANT, &app, "checkout").await.text("id");
    let roll = |body: &str| {
        Call::roll_key(&app, &key, json!(null))
            .body(body.to_owned())
            .idempotency_key("roll-number")
    };
    let first = send(&t, roll(r#"{"expiresInSeconds": 3600}"#), MERCHANT).await;
    assert_eq!(first.status, 201, "{}", first.body);
    for spelling in ["3600.0", "3.6e3"] {
        let body = format!(r#"{{"expiresInSeconds": {spelling}}}"#);
        assert_replay_of(&send(&t, roll(&body), MERCHANT).await, &first);
    }
    send(&t, roll(r#"{"expiresInSeconds": 3601}"#), MERCHANT)
        .await
        .assert_problem(422, "idempotency_key_reused");
}

#[tokio::test]
async fn a_record_is_ignored_after_24_hours() {
    let t = TestApi::new().await;
    assert_eq!(
        send(&t, create_app("Prod", "daily"), MERCHANT).await.status,
        201
    );
    t.clock.advance(24 * 3600);
    // The key is free again: another request with it runs.
    let next_day = send(&t, create_app("Next day", "daily"), MERCHANT).await;
    assert_eq!(
        (next_day.status, next_day.header("idempotent-replayed")),
        (201, None)
    );
    let replay = send(&t, create_app("Next day", "daily"), MERCHANT).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
}

#[tokio::test]
async fn a_bad_idempotency_key_is_a_400() {
    let t = TestApi::new().await;
    for bad in ["", "\"\"", &"k".repeat(256)] {
        let r = send(&t, create_app("Prod", bad), MERCHANT).await;
        r.assert_problem(400, "validation_failed");
        assert_eq!(r.json["errors"][0]["field"], "Idempotency-Key", "{bad:?}");
    }
    assert_eq!(
        send(&t, create_app("Prod", &"k".repeat(255)), MERCHANT)
            .await
            .status,
        201
    );
}

/// Of simultaneous requests with one key, exactly one runs; every other gets its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn of_simultaneous_requests_with_one_key_exactly_one_runs() {
    let t = Arc::new(TestApi::contended(Limits::default()).await);
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (t, app, barrier) = (t.clone(), app.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                send(
                    &t,
                    Call::create_key(&app, json!({"description": "once"})).idempotency_key("burst"),
                    MERCHANT,
                )
                .await
            })
        })
        .collect();
    let mut responses = Vec::new();
    for task in tasks {
        responses.push(task.await.unwrap());
    }
    assert!(
        responses.iter().all(|r| r.status == 201),
        "{:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let fresh: Vec<&TestResponse> = responses
        .iter()
        .filter(|r| r.header("idempotent-replayed").is_none())
        .collect();
    assert_eq!(fresh.len(), 1, "exactly one ran");
    let key: Value = fresh[0].json["fullKey"].clone();
    assert!(
        responses.iter().all(|r| r.json["fullKey"] == key),
        "every answer is the one key"
    );
    assert_eq!(
        t.get_application(MERCHANT, &app).await.json["apiKeys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Simultaneous requests with one key and different bodies: exactly one runs, the others are
/// told the key was used for another request.
#[tokio::test]
async fn of_simultaneous_different_requests_with_one_key_one_runs_and_the_others_are_422() {
    let t = Arc::new(TestApi::contended(Limits::default()).await);
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let barrier = Arc::new(tokio::sync::Barrier::new(6));
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (t, app, barrier) = (t.clone(), app.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                send(
                    &t,
                    Call::create_key(&app, json!({"description": format!("attempt {i}")}))
                        .idempotency_key("shared"),
                    MERCHANT,
                )
                .await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        let response = task.await.unwrap();
        if response.status == 422 {
            response.assert_problem(422, "idempotency_key_reused");
        }
        statuses.push(response.status);
    }
    statuses.sort();
    assert_eq!(statuses, [201, 422, 422, 422, 422, 422]);
    assert_eq!(
        t.get_application(MERCHANT, &app).await.json["apiKeys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

//! The key lifecycle (the contract's "One application", "Key lifecycle" and the key
//! fields of the list): expiry on creation, rolling with a grace window, one application, and
//! the listed key fields. Time moves with the test's clock, never by sleeping.

use api_tests::{Call, TestApi, TestResponse, MERCHANT, OTHER_MERCHANT};
use appkeys::domain::limits::Limits;
use serde_json::{json, Value};

const HOUR: i64 = 3600;

fn limits(max_keys: u32) -> Limits {
    Limits {
        max_keys_per_application: max_keys,
        ..Limits::default()
    }
}

async fn create_key_with(t: &TestApi, app: &str, body: Value) -> TestResponse {
    t.send(Call::create_key(app, body).merchant(MERCHANT).into())
        .await
}

fn at(t: &TestApi, seconds_from_now: i64) -> String {
    t.clock.now().plus_seconds(seconds_from_now).to_rfc3339()
}

/// The listed key `id` of `app`.
async fn listed_key(t: &TestApi, app: &str, id: &str) -> Value {
    let application = t.get_application(MERCHANT, app).await;
    assert_eq!(application.status, 200, "{}", application.body);
    application.json["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} is not listed: {}", application.body))
}

async fn allows(t: &TestApi, key: &str) -> Option<bool> {
    TestApi::allows(&t.verifier(&Default::default()).await, key).await
}

// ---------------------------------------------------------------- one application

#[tokio::test]
async fn one_application_is_its_create_shape_plus_its_keys_and_only_its_owner_sees_it() {
    let t = TestApi::new().await;
    let created = t
        .create_application(MERCHANT, json!({"name": "Prod", "description": "the shop"}))
        .await;
    let app = created.text("id");
    let key = t.create_key(MERCHANT, &app, "checkout").await;

    let found = t.get_application(MERCHANT, &app).await;
    assert_eq!(found.status, 200);
    let mut expected = created.json.clone();
    expected["apiKeys"] = json!([{
        "id": key.json["id"], "keyPrefix": key.json["keyPrefix"], "description": "checkout",
        "status": "active", "createdAt": key.json["createdAt"], "expiresAt": null,
        "lastUsedAt": null, "revokedAt": null, "permissions": null,
    }]);
    assert_eq!(found.json, expected);
    assert!(!found.body.contains("fullKey") && !found.body.contains(&key.text("fullKey")));

    t.get_application(OTHER_MERCHANT, &app)
        .await
        .assert_problem(404, "not_found");
    let unknown = uuid::Uuid::now_v7().to_string();
    t.get_application(MERCHANT, &unknown)
        .await
        .assert_problem(404, "not_found");
    t.get_application(MERCHANT, "not-a-uuid")
        .await
        .assert_problem(404, "not_found");
    t.get_application(MERCHANT, &app.to_uppercase())
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn one_application_is_strongly_consistent() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    for i in 0..3 {
        let key = t
            .create_key(MERCHANT, &app, &format!("k{i}"))
            .await
            .text("id");
        assert_eq!(listed_key(&t, &app, &key).await["status"], "active");
        let now = t.clock.now().to_rfc3339();
        assert_eq!(t.revoke_key(MERCHANT, &app, &key).await.status, 204);
        let revoked = listed_key(&t, &app, &key).await;
        assert_eq!(revoked["status"], "revoked");
        assert_eq!(revoked["revokedAt"], now);
    }
}

// ---------------------------------------------------------------- expiry on creation

#[tokio::test]
async fn a_key_may_be_created_to_expire_and_is_refused_from_that_moment() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let expires = at(&t, HOUR);
    // An offset other than Z and fractions of a second are accepted, and shown as UTC seconds.
    let offset = t
        .clock
        .now()
        .plus_seconds(HOUR + 2 * HOUR)
        .to_rfc3339()
        .replace('Z', ".250+02:00");
    let created = create_key_with(
        &t,
        &app,
        json!({"description": "temp", "expiresAt": offset}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.json["expiresAt"], expires);
    let key = created.text("fullKey");
    let never = create_key_with(&t, &app, json!({"description": "kept", "expiresAt": null})).await;
    assert_eq!(never.json["expiresAt"], Value::Null);
    assert_eq!(
        listed_key(&t, &app, &created.text("id")).await["expiresAt"],
        expires
    );

    t.clock.advance(HOUR - 1);
    assert_eq!(allows(&t, &key).await, Some(true));
    t.clock.advance(1);
    assert_eq!(
        allows(&t, &key).await,
        Some(false),
        "refused at expiresAt, by the same one read"
    );
    assert_eq!(allows(&t, &never.text("fullKey")).await, Some(true));
    assert_eq!(
        listed_key(&t, &app, &created.text("id")).await["status"],
        "expired"
    );
    t.revoke_key(MERCHANT, &app, &created.text("id"))
        .await
        .assert_problem(400, "key_expired");
}

#[tokio::test]
async fn a_bad_expiry_is_a_400_naming_expires_at_and_writes_nothing() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let before = t.snapshot().await;
    let now = t.clock.now();
    for bad in [
        json!(now.to_rfc3339()),
        json!(now.plus_seconds(-1).to_rfc3339()),
        json!(now.plus_seconds(3653 * 24 * HOUR + 1).to_rfc3339()),
        json!("2030-01-01"),
        json!("2030-01-01T00:00:00"),
        json!("tomorrow"),
        // RFC 3339 has no surrounding white space.
        json!(format!(" {} ", now.plus_seconds(HOUR).to_rfc3339())),
        json!(1_900_000_000),
        json!(true),
    ] {
        let r = create_key_with(&t, &app, json!({"description": "d", "expiresAt": bad})).await;
        r.assert_problem(400, "validation_failed");
        assert_eq!(
            r.json["errors"][0]["field"], "expiresAt",
            "{bad}: {}",
            r.body
        );
    }
    assert_eq!(t.snapshot().await, before);
    // The bound itself is accepted.
    let ten_years = now.plus_seconds(3653 * 24 * HOUR).to_rfc3339();
    assert_eq!(
        create_key_with(
            &t,
            &app,
            json!({"description": "d", "expiresAt": ten_years})
        )
        .await
        .status,
        201
    );
}

#[tokio::test]
async fn an_expired_key_no_longer_counts_toward_the_limit() {
    let t = TestApi::with_limits(limits(2)).await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let short = create_key_with(
        &t,
        &app,
        json!({"description": "short", "expiresAt": at(&t, 60)}),
    )
    .await;
    assert_eq!(short.status, 201);
    assert_eq!(t.create_key(MERCHANT, &app, "long").await.status, 201);
    t.create_key(MERCHANT, &app, "third")
        .await
        .assert_problem(400, "key_limit_reached");
    t.clock.advance(60);
    assert_eq!(t.create_key(MERCHANT, &app, "third").await.status, 201);
    t.create_key(MERCHANT, &app, "fourth")
        .await
        .assert_problem(400, "key_limit_reached");
}

/// Keys that expired within the last minute wait among the rolled keys (an authorizer whose
/// clock is behind may still allow them, so disabling rewrites them); a burst of short-lived keys
/// must not push them past what one disabling transaction can rewrite (100 items), so creation
/// waits instead, for that minute at most.
#[tokio::test]
async fn disabling_stays_possible_after_bursts_of_short_lived_keys() {
    let t = TestApi::new().await; // 10 active keys per application
    let app = t.create_application_named(MERCHANT, "Ephemeral").await;
    let mut refused = Vec::new();
    for batch in 0..10 {
        for i in 0..10 {
            let created = create_key_with(
                &t,
                &app,
                json!({"description": format!("job {batch}-{i}"), "expiresAt": at(&t, 1)}),
            )
            .await;
            match created.status {
                201 => {}
                _ => {
                    created.assert_problem(400, "key_limit_reached");
                    refused.push(created.text("detail"));
                }
            }
        }
        t.clock.advance(2);
    }
    assert!(!refused.is_empty(), "some creations wait for the minute");
    assert!(refused[0].contains("within the last minute"), "{refused:?}");
    let disabled = t.set_enabled(MERCHANT, &app, false).await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert_eq!(t.set_enabled(MERCHANT, &app, true).await.status, 200);
    // A minute later the expired keys have left; creation works again.
    t.clock
        .advance(appkeys::domain::limits::CLOCK_SKEW_MARGIN_SECONDS);
    assert_eq!(t.create_key(MERCHANT, &app, "after").await.status, 201);
}

// ---------------------------------------------------------------- roll

#[tokio::test]
async fn a_roll_issues_a_new_key_and_lets_the_old_one_work_until_the_window_ends() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let old = t.create_key(MERCHANT, &app, "checkout").await;
    let (old_id, old_key) = (old.text("id"), old.text("fullKey"));
    let window_end = at(&t, HOUR);

    let rolled = t.roll_key(MERCHANT, &app, &old_id, HOUR).await;
    assert_eq!(rolled.status, 201, "{}", rolled.body);
    assert_eq!(rolled.header("cache-control"), Some("no-store"));
    let new_key = rolled.text("fullKey");
    assert_ne!(rolled.text("id"), old_id);
    assert_ne!(new_key, old_key);
    assert_eq!(rolled.json["applicationId"], app);
    assert_eq!(
        rolled.json["description"], "checkout",
        "the old key's description"
    );
    assert_eq!(
        rolled.json["expiresAt"],
        Value::Null,
        "the old key's expiry"
    );
    assert_eq!(rolled.json["keyPrefix"].as_str().unwrap(), &new_key[..12]);
    assert_eq!(
        rolled.json["rolledKey"],
        json!({"id": old_id, "expiresAt": window_end})
    );

    // Both work during the window; the old one is listed active with its new end.
    assert_eq!(allows(&t, &old_key).await, Some(true));
    assert_eq!(allows(&t, &new_key).await, Some(true));
    let listed_old = listed_key(&t, &app, &old_id).await;
    assert_eq!(
        (
            listed_old["status"].clone(),
            listed_old["expiresAt"].clone()
        ),
        (json!("active"), json!(window_end))
    );
    t.clock.advance(HOUR);
    assert_eq!(allows(&t, &old_key).await, Some(false));
    assert_eq!(allows(&t, &new_key).await, Some(true));
    assert_eq!(listed_key(&t, &app, &old_id).await["status"], "expired");
}

#[tokio::test]
async fn a_roll_with_no_window_revokes_the_old_key_at_once() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let old = t.create_key(MERCHANT, &app, "checkout").await;
    let now = t.clock.now().to_rfc3339();
    let rolled = t.roll_key(MERCHANT, &app, &old.text("id"), 0).await;
    assert_eq!(rolled.status, 201, "{}", rolled.body);
    assert_eq!(rolled.json["rolledKey"]["expiresAt"], now);
    assert_eq!(allows(&t, &old.text("fullKey")).await, Some(false));
    assert_eq!(allows(&t, &rolled.text("fullKey")).await, Some(true));
    let listed = listed_key(&t, &app, &old.text("id")).await;
    assert_eq!(
        (listed["status"].clone(), listed["revokedAt"].clone()),
        (json!("revoked"), json!(now))
    );
}

#[tokio::test]
async fn a_roll_never_extends_a_key_and_the_new_key_keeps_the_old_expiry() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let expires = at(&t, 600);
    let old = create_key_with(
        &t,
        &app,
        json!({"description": "short", "expiresAt": expires}),
    )
    .await;
    let rolled = t.roll_key(MERCHANT, &app, &old.text("id"), HOUR).await;
    assert_eq!(rolled.status, 201, "{}", rolled.body);
    assert_eq!(
        rolled.json["rolledKey"]["expiresAt"], expires,
        "the earlier of its end and the window"
    );
    assert_eq!(
        rolled.json["expiresAt"], expires,
        "the new key keeps the old key's expiry"
    );
    t.clock.advance(600);
    assert_eq!(allows(&t, &old.text("fullKey")).await, Some(false));
    assert_eq!(allows(&t, &rolled.text("fullKey")).await, Some(false));
}

#[tokio::test]
async fn a_roll_window_is_a_whole_number_of_seconds_up_to_seven_days() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let key = t.create_key(MERCHANT, &app, "checkout").await.text("id");
    let before = t.snapshot().await;
    for bad in [
        json!({}),
        json!({"expiresInSeconds": -1}),
        json!({"expiresInSeconds": 604_801}),
        json!({"expiresInSeconds": 1.5}),
        json!({"expiresInSeconds": "3600"}),
        json!({"expiresInSeconds": null}),
        json!({"expiresInSeconds": 60, "extra": 1}),
    ] {
        let r = t
            .send(
                Call::roll_key(&app, &key, bad.clone())
                    .merchant(MERCHANT)
                    .into(),
            )
            .await;
        r.assert_problem(400, "validation_failed");
        assert!(
            r.body.contains("expiresInSeconds") || r.body.contains("extra"),
            "{bad}: {}",
            r.body
        );
    }
    assert_eq!(t.snapshot().await, before);
    // 3600.0 is the whole number 3600 (JSON Schema's `integer` too).
    let whole = t
        .send(
            Call::roll_key(&app, &key, json!({"expiresInSeconds": 3600.0}))
                .merchant(MERCHANT)
                .into(),
        )
        .await;
    assert_eq!(whole.status, 201, "{}", whole.body);
    let next = whole.text("id");
    assert_eq!(t.roll_key(MERCHANT, &app, &next, 604_800).await.status, 201);
}

#[tokio::test]
async fn a_key_is_rolled_once_and_a_stopped_key_is_not_rolled() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let key = t.create_key(MERCHANT, &app, "a").await.text("id");
    assert_eq!(t.roll_key(MERCHANT, &app, &key, HOUR).await.status, 201);
    t.roll_key(MERCHANT, &app, &key, HOUR)
        .await
        .assert_problem(400, "key_already_rolled");

    let revoked = t.create_key(MERCHANT, &app, "b").await.text("id");
    assert_eq!(t.revoke_key(MERCHANT, &app, &revoked).await.status, 204);
    t.roll_key(MERCHANT, &app, &revoked, HOUR)
        .await
        .assert_problem(400, "key_already_revoked");

    let expiring = create_key_with(
        &t,
        &app,
        json!({"description": "c", "expiresAt": at(&t, 60)}),
    )
    .await
    .text("id");
    t.clock.advance(60);
    t.roll_key(MERCHANT, &app, &expiring, HOUR)
        .await
        .assert_problem(400, "key_expired");

    let unknown = uuid::Uuid::now_v7().to_string();
    t.roll_key(MERCHANT, &app, &unknown, HOUR)
        .await
        .assert_problem(404, "not_found");
    t.send(
        Call::roll_key(&app, &key, json!({"expiresInSeconds": 60}))
            .merchant(OTHER_MERCHANT)
            .into(),
    )
    .await
    .assert_problem(404, "not_found");
}

#[tokio::test]
async fn a_key_in_its_grace_window_can_still_be_revoked_and_is_refused_at_once() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let old = t.create_key(MERCHANT, &app, "checkout").await;
    let rolled = t.roll_key(MERCHANT, &app, &old.text("id"), HOUR).await;
    assert_eq!(
        t.revoke_key(MERCHANT, &app, &old.text("id")).await.status,
        204
    );
    assert_eq!(allows(&t, &old.text("fullKey")).await, Some(false));
    assert_eq!(allows(&t, &rolled.text("fullKey")).await, Some(true));
}

#[tokio::test]
async fn a_roll_neither_frees_nor_takes_a_place_and_works_at_the_limit() {
    let t = TestApi::with_limits(limits(2)).await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let first = t.create_key(MERCHANT, &app, "one").await.text("id");
    assert_eq!(t.create_key(MERCHANT, &app, "two").await.status, 201);
    let rolled = t.roll_key(MERCHANT, &app, &first, HOUR).await;
    assert_eq!(rolled.status, 201, "allowed at the limit: {}", rolled.body);
    // The old key stopped counting, the new one counts: still full.
    t.create_key(MERCHANT, &app, "three")
        .await
        .assert_problem(400, "key_limit_reached");
    // The new key may be rolled in turn; revoking it frees a place.
    assert_eq!(
        t.roll_key(MERCHANT, &app, &rolled.text("id"), HOUR)
            .await
            .status,
        201
    );
    t.create_key(MERCHANT, &app, "three")
        .await
        .assert_problem(400, "key_limit_reached");
}

#[tokio::test]
async fn while_disabled_neither_key_works_and_enabled_again_the_old_one_works_until_its_end() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let old = t.create_key(MERCHANT, &app, "checkout").await;
    assert_eq!(t.set_enabled(MERCHANT, &app, false).await.status, 200);
    let rolled = t.roll_key(MERCHANT, &app, &old.text("id"), HOUR).await;
    assert_eq!(
        rolled.status, 201,
        "allowed on a disabled application: {}",
        rolled.body
    );
    assert_eq!(allows(&t, &old.text("fullKey")).await, Some(false));
    assert_eq!(allows(&t, &rolled.text("fullKey")).await, Some(false));
    assert_eq!(t.set_enabled(MERCHANT, &app, true).await.status, 200);
    assert_eq!(allows(&t, &old.text("fullKey")).await, Some(true));
    assert_eq!(allows(&t, &rolled.text("fullKey")).await, Some(true));
    // Disabled again within the window: the rolled key is disabled too.
    assert_eq!(t.set_enabled(MERCHANT, &app, false).await.status, 200);
    assert_eq!(allows(&t, &old.text("fullKey")).await, Some(false));
    assert_eq!(t.set_enabled(MERCHANT, &app, true).await.status, 200);
    t.clock.advance(HOUR);
    assert_eq!(allows(&t, &old.text("fullKey")).await, Some(false));
    assert_eq!(allows(&t, &rolled.text("fullKey")).await, Some(true));
}

#[tokio::test]
async fn every_listed_key_shows_when_it_expires_was_last_used_and_was_revoked() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let key = t.create_key(MERCHANT, &app, "checkout").await;
    let listed = t.listed_application(MERCHANT, &app).await;
    let mut fields: Vec<&String> = listed["apiKeys"][0].as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "createdAt",
            "description",
            "expiresAt",
            "id",
            "keyPrefix",
            "lastUsedAt",
            "permissions",
            "revokedAt",
            "status"
        ]
        .iter()
        .collect::<Vec<_>>()
    );
    assert_eq!(listed["apiKeys"][0]["lastUsedAt"], Value::Null);
    let _ = key;
}

// ---------------------------------------------------------------- last use

/// What the next `TransactWriteItems` of a client meets: an injected failure, or a gate that
/// holds it until the test opens it.
#[derive(Debug, Clone)]
enum WriteHook {
    Fail,
    Hold(std::sync::Arc<Gate>),
}

/// Holds writes until opened (or for 5 s at most), and tells whether one went through.
#[derive(Debug, Default)]
struct Gate {
    open: std::sync::Mutex<bool>,
    opened: std::sync::Condvar,
    passed: std::sync::atomic::AtomicBool,
}

impl Gate {
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }

    fn passed(&self) -> bool {
        self.passed.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl aws_sdk_dynamodb::config::Intercept for WriteHook {
    fn name(&self) -> &'static str {
        "WriteHook"
    }

    fn modify_before_transmit(
        &self,
        _: &mut aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextMut<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_smithy_runtime_api::client::orchestrator::Metadata;
        if cfg
            .load::<Metadata>()
            .is_none_or(|m| m.name() != "TransactWriteItems")
        {
            return Ok(());
        }
        match self {
            Self::Fail => Err("injected: DynamoDB refused the write".into()),
            Self::Hold(gate) => {
                // Interceptors are synchronous: this holds the writing task's thread.
                let open = gate.open.lock().unwrap();
                let _ = gate
                    .opened
                    .wait_timeout_while(open, std::time::Duration::from_secs(5), |open| !*open)
                    .unwrap();
                gate.passed.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }
        }
    }
}

/// The authorizer's verifier over `t`'s table, with `hook` on its writes.
async fn verifier_with(t: &TestApi, hook: WriteHook) -> appkeys::authorize::KeyVerifier {
    let store = t
        .store_with(
            appkeys::lambda::sdk::Budget::AUTHORIZER,
            [aws_sdk_dynamodb::config::SharedInterceptor::new(hook)],
        )
        .await;
    t.verifier_over(store)
}

/// Waits (a little, for the background write) until the key's `lastUsedAt` is `expected`.
async fn wait_for_last_use(t: &TestApi, app: &str, id: &str, expected: &Value) -> Value {
    for _ in 0..100 {
        let seen = listed_key(t, app, id).await["lastUsedAt"].clone();
        if &seen == expected {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    listed_key(t, app, id).await["lastUsedAt"].clone()
}

#[tokio::test]
async fn last_use_is_recorded_by_the_first_allowed_call_then_at_most_every_fifteen_minutes() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let created = t.create_key(MERCHANT, &app, "checkout").await;
    let (id, key) = (created.text("id"), created.text("fullKey"));
    let counter = devkit::counter::RequestCounter::default();
    let verifier = t.verifier(&counter).await;
    let writes = |_verifications: usize| counter.count_of("TransactWriteItems");

    // Denied calls are not uses.
    assert_eq!(
        t.revoke_key(
            MERCHANT,
            &app,
            &t.create_key(MERCHANT, &app, "x").await.text("id")
        )
        .await
        .status,
        204
    );
    assert_eq!(listed_key(&t, &app, &id).await["lastUsedAt"], Value::Null);

    let first_use = json!(t.clock.now().to_rfc3339());
    for _ in 0..5 {
        assert_eq!(TestApi::allows(&verifier, &key).await, Some(true));
    }
    assert_eq!(
        wait_for_last_use(&t, &app, &id, &first_use).await,
        first_use
    );
    assert_eq!(writes(5), 1, "five allowed calls in a moment: one write");

    t.clock.advance(14 * 60);
    assert_eq!(TestApi::allows(&verifier, &key).await, Some(true));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(writes(6), 1, "within 15 minutes of the last: no write");
    assert_eq!(listed_key(&t, &app, &id).await["lastUsedAt"], first_use);

    t.clock.advance(60);
    let later_use = json!(t.clock.now().to_rfc3339());
    assert_eq!(TestApi::allows(&verifier, &key).await, Some(true));
    assert_eq!(
        wait_for_last_use(&t, &app, &id, &later_use).await,
        later_use
    );
    assert_eq!(writes(7), 2);
}

#[tokio::test]
async fn a_failed_last_use_write_is_logged_and_the_call_is_still_allowed() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let created = t.create_key(MERCHANT, &app, "checkout").await;
    let verifier = verifier_with(&t, WriteHook::Fail).await;
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let writer = {
        let logs = logs.clone();
        move || LogWriter(logs.clone())
    };
    // This test's runtime has one thread: the background write runs on it, under this subscriber.
    let _logging = tracing::subscriber::set_default(appkeys::lambda::telemetry::subscriber(
        writer,
        Some("info"),
        None,
    ));

    assert_eq!(
        TestApi::allows(&verifier, &created.text("fullKey")).await,
        Some(true)
    );
    for _ in 0..100 {
        if String::from_utf8_lossy(&logs.lock().unwrap()).contains("last use not recorded") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let line = logged
        .lines()
        .find(|l| l.contains("last use not recorded"))
        .unwrap_or_else(|| panic!("{logged}"));
    assert!(
        line.contains("\"level\":\"WARN\"") && line.contains(&created.text("id")),
        "{line}"
    );
    assert!(
        !logged.contains(&created.text("fullKey")[12..]),
        "no key in the log"
    );
    assert_eq!(
        listed_key(&t, &app, &created.text("id")).await["lastUsedAt"],
        Value::Null
    );
}

#[derive(Clone)]
struct LogWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decision_never_waits_for_the_last_use_write() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let created = t.create_key(MERCHANT, &app, "checkout").await;
    // The write is held until the decision is back: a decision that waited for it would come
    // back only after the gate's 5 s, with the write through. The gate opens at once after, so
    // that the held write stays inside the SDK's 800 ms attempt timeout.
    let gate = std::sync::Arc::new(Gate::default());
    let verifier = verifier_with(&t, WriteHook::Hold(gate.clone())).await;
    assert_eq!(
        TestApi::allows(&verifier, &created.text("fullKey")).await,
        Some(true)
    );
    assert!(!gate.passed(), "the decision waited for the last-use write");
    // Let go, the write still lands.
    gate.open();
    let used = json!(t.clock.now().to_rfc3339());
    assert_eq!(
        wait_for_last_use(&t, &app, &created.text("id"), &used).await,
        used
    );
    assert!(gate.passed());
}

//! Restricted keys (the contract's "Restricted keys"): permissions on create, roll and PATCH,
//! the authorizer's decision from the lookup record in the same single read, paths that try to
//! pass for another resource, the audit event, and changes under concurrency (truly concurrent,
//! and forced interleavings).

use std::sync::Arc;

use api_tests::{
    authorizer_event, caller_of, fresh_store, Call, Interleave, TestApi, TestResponse, MERCHANT,
};
use appkeys::authorize::KeyVerifier;
use appkeys::domain::audit::Origin;
use appkeys::domain::key::KeyChange;
use appkeys::domain::permissions::{PaymentResources, Permissions};
use appkeys::domain::{ApplicationId, KeyId, MerchantId};
use appkeys::store::items::{key, lookup_record};
use aws_sdk_dynamodb::types::AttributeValue;
use devkit::counter::RequestCounter;
use serde_json::{json, Value};

fn merchant() -> MerchantId {
    MerchantId::from_claim(MERCHANT).unwrap()
}

async fn create(t: &TestApi, app: &str, body: Value) -> TestResponse {
    t.send(Call::create_key(app, body).merchant(MERCHANT).into())
        .await
}

async fn update(t: &TestApi, app: &str, key: &str, body: Value) -> TestResponse {
    t.send(Call::update_key(app, key, body).merchant(MERCHANT).into())
        .await
}

/// The authorizer's decision, through its handler, for `method path` with `full_key`:
/// `Some(allowed)`, with the context's permissions when allowed.
async fn call(
    verifier: &KeyVerifier,
    full_key: &str,
    method: &str,
    path: &str,
) -> (bool, Option<String>) {
    let mut event = authorizer_event(Some(&format!("Bearer {full_key}")));
    event.raw_path = Some(path.to_owned());
    event.request_context.http.method = method.parse().unwrap();
    let response = authorizer::handler(
        verifier,
        lambda_runtime::LambdaEvent::new(event, Default::default()),
    )
    .await
    .expect("decided");
    let permissions = response.context["permissions"].as_str().map(str::to_owned);
    (response.is_authorized, permissions)
}

async fn allows(t: &TestApi, full_key: &str, method: &str, path: &str) -> bool {
    call(
        &t.verifier(&Default::default()).await,
        full_key,
        method,
        path,
    )
    .await
    .0
}

/// The `permissions` attribute of the key item and of its lookup record, as stored.
async fn stored(t: &TestApi, app: &str, key_id: &str, full_key: &str) -> (Value, Value) {
    let get = |pk: String, sk: String| {
        let client = t.client.clone();
        let table = t.table_name();
        async move {
            let item = client
                .get_item()
                .table_name(table)
                .key("PK", AttributeValue::S(pk))
                .key("SK", AttributeValue::S(sk))
                .consistent_read(true)
                .send()
                .await
                .unwrap()
                .item
                .expect("the item");
            match item.get(key::PERMISSIONS) {
                Some(AttributeValue::S(joined)) => json!(joined),
                None => Value::Null,
                Some(other) => panic!("{other:?}"),
            }
        }
    };
    let hash = t.pepper.hash(full_key);
    let [(_, pk), (_, sk)] = lookup_record::key(&hash);
    let on_lookup = get(pk.as_s().unwrap().to_owned(), sk.as_s().unwrap().to_owned()).await;
    let on_key = get(
        format!("MERCHANT#{MERCHANT}"),
        key::sk(
            ApplicationId::parse(app).unwrap(),
            KeyId::parse(key_id).unwrap(),
        ),
    )
    .await;
    (on_key, on_lookup)
}

async fn assert_lookup_matches_key(t: &TestApi, app: &str, key_id: &str, full_key: &str) -> Value {
    let (on_key, on_lookup) = stored(t, app, key_id, full_key).await;
    assert_eq!(on_key, on_lookup, "the lookup record must match the key");
    on_key
}

#[tokio::test]
async fn a_restricted_key_reads_or_writes_only_what_it_names_in_one_read() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let created = create(
        &t,
        &app,
        json!({"description": "reporting", "permissions": ["refunds:write", "charges:read"]}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        created.json["permissions"],
        json!(["charges:read", "refunds:write"])
    );
    let full_key = created.text("fullKey");
    let key_id = created.text("id");
    let listed = t.get_application(MERCHANT, &app).await;
    assert_eq!(
        listed.json["apiKeys"][0]["permissions"],
        json!(["charges:read", "refunds:write"])
    );
    assert_eq!(
        assert_lookup_matches_key(&t, &app, &key_id, &full_key).await,
        json!("charges:read refunds:write")
    );

    let counter = RequestCounter::default();
    let verifier = t.verifier(&counter).await;
    for (method, path, allowed) in [
        ("GET", "/api/v1/payments/charges/ch_1", true),
        ("HEAD", "/api/v1/payments/charges", true),
        ("POST", "/api/v1/payments/charges", false),
        ("DELETE", "/api/v1/payments/charges/ch_1", false),
        ("GET", "/api/v1/payments/refunds/re_1", true),
        ("POST", "/api/v1/payments/refunds", true),
        ("GET", "/api/v1/payments/customers", false),
        ("POST", "/api/v1/payments/payouts", false),
    ] {
        let before = counter.count_of("GetItem");
        let (decided, context) = call(&verifier, &full_key, method, path).await;
        assert_eq!(decided, allowed, "{method} {path}");
        assert_eq!(
            counter.count_of("GetItem") - before,
            1,
            "one read for {method} {path}"
        );
        if allowed {
            assert_eq!(context.as_deref(), Some("charges:read refunds:write"));
        }
    }

    // Unrestricted keys pay anywhere, and say so.
    let open = t.create_key(MERCHANT, &app, "checkout").await;
    let (allowed, context) = call(
        &verifier,
        &open.text("fullKey"),
        "POST",
        "/api/v1/payments/x",
    )
    .await;
    assert!(allowed);
    assert_eq!(context.as_deref(), Some("*"));
    assert_eq!(open.json["permissions"], Value::Null);
}

/// Each path that could reach `charges` in a backend that decodes or normalises it denies a key
/// restricted to another resource, and the key's own resource denies it too when disguised.
#[tokio::test]
async fn paths_that_could_mean_another_resource_are_denied() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let refunds = create(
        &t,
        &app,
        json!({"description": "refunds", "permissions": ["refunds:write"]}),
    )
    .await
    .text("fullKey");
    let verifier = t.verifier(&Default::default()).await;
    for path in [
        "/api/v1/payments/refunds%2F..%2Fcharges",
        "/api/v1/payments/refunds%2f..%2fcharges",
        "/api/v1/payments/refunds/../charges",
        "/api/v1/payments/refunds/%2E%2E/charges",
        "/api/v1/payments/./refunds",
        "/api/v1/payments//refunds",
        "/api/v1/payments/refunds//x",
        "/api/v1/payments/REFUNDS",
        "/api/v1/payments/refund",
        "/api/v1/payments/refundsx",
        "/api/v1/payments/refunds?x=1",
        "/api/v1/payments/",
        "/api/v1/payments/%72efunds",
        "/api/v1/payments/refunds\\..\\charges",
        "/api/v1/payments/charges",
    ] {
        assert!(
            !call(&verifier, &refunds, "POST", path).await.0,
            "POST {path} was allowed"
        );
    }
    assert!(
        call(&verifier, &refunds, "POST", "/api/v1/payments/refunds/")
            .await
            .0
    );
    assert!(
        call(&verifier, &refunds, "POST", "/api/v1/payments/refunds")
            .await
            .0
    );
}

#[tokio::test]
async fn patch_changes_permissions_for_the_next_call_and_records_the_change_once() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let created = create(
        &t,
        &app,
        json!({"description": "reporting", "permissions": ["charges:read"]}),
    )
    .await;
    let (key_id, full_key) = (created.text("id"), created.text("fullKey"));
    assert!(!allows(&t, &full_key, "GET", "/api/v1/payments/refunds").await);

    let widened = update(
        &t,
        &app,
        &key_id,
        json!({"permissions": ["refunds:read", "charges:read"]}),
    )
    .await;
    assert_eq!(widened.status, 200, "{}", widened.body);
    assert_eq!(
        widened.json["permissions"],
        json!(["charges:read", "refunds:read"])
    );
    assert_eq!(widened.json["id"], key_id);
    assert_eq!(widened.json["status"], "active");
    assert_lookup_matches_key(&t, &app, &key_id, &full_key).await;

    // The same again: 200, nothing written. (Before any allowed call, whose last-use write
    // would change the table on its own.)
    let before = t.snapshot().await;
    let again = update(
        &t,
        &app,
        &key_id,
        json!({"permissions": ["charges:read", "refunds:read"]}),
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json, widened.json);
    assert_eq!(t.snapshot().await, before, "no write, no event");
    assert!(allows(&t, &full_key, "GET", "/api/v1/payments/refunds").await);

    // The description alone; then lifting every restriction.
    let renamed = update(&t, &app, &key_id, json!({"description": "nightly"})).await;
    assert_eq!(renamed.json["description"], "nightly");
    assert_eq!(
        renamed.json["permissions"],
        json!(["charges:read", "refunds:read"])
    );
    let open = update(&t, &app, &key_id, json!({"permissions": null})).await;
    assert_eq!(open.json["permissions"], Value::Null);
    assert!(allows(&t, &full_key, "POST", "/api/v1/payments/customers").await);
    assert_eq!(
        assert_lookup_matches_key(&t, &app, &key_id, &full_key).await,
        Value::Null
    );

    let events = t.events(MERCHANT, &app, "").await.json["items"].clone();
    let updates: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "api_key.updated")
        .collect();
    assert_eq!(updates.len(), 3, "{events}");
    assert_eq!(
        updates[2]["permissions"],
        json!({"old": ["charges:read"], "new": ["charges:read", "refunds:read"]})
    );
    assert!(updates[2].get("description").is_none());
    assert_eq!(
        updates[1]["description"],
        json!({"old": "reporting", "new": "nightly"})
    );
    assert_eq!(
        updates[0]["permissions"],
        json!({"old": ["charges:read", "refunds:read"], "new": null})
    );
    assert_eq!(updates[0]["keyId"], key_id);
    assert_eq!(updates[0]["actor"]["sub"], "user-1");
}

#[tokio::test]
async fn a_revoked_or_expired_key_cannot_be_changed_and_an_unknown_one_is_404() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let revoked = t.create_key(MERCHANT, &app, "revoked").await.text("id");
    assert_eq!(t.revoke_key(MERCHANT, &app, &revoked).await.status, 204);
    update(&t, &app, &revoked, json!({"permissions": ["charges:read"]}))
        .await
        .assert_problem(400, "key_already_revoked");
    let expiring = create(
        &t,
        &app,
        json!({"description": "soon", "expiresAt": t.clock.clock().now().plus_seconds(60).to_rfc3339()}),
    )
    .await
    .text("id");
    t.clock.advance(61);
    update(&t, &app, &expiring, json!({"description": "later"}))
        .await
        .assert_problem(400, "key_expired");
    update(
        &t,
        &app,
        &uuid::Uuid::now_v7().to_string(),
        json!({"description": "x"}),
    )
    .await
    .assert_problem(404, "not_found");
    let theirs = t
        .create_application_named(api_tests::OTHER_MERCHANT, "Theirs")
        .await;
    let their_key = t
        .create_key(api_tests::OTHER_MERCHANT, &theirs, "theirs")
        .await
        .text("id");
    update(&t, &theirs, &their_key, json!({"description": "mine now"}))
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn a_roll_keeps_the_old_keys_permissions_unless_it_names_others() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let old = create(
        &t,
        &app,
        json!({"description": "reporting", "permissions": ["charges:read"]}),
    )
    .await
    .text("id");
    let kept = t
        .send(
            Call::roll_key(&app, &old, json!({"expiresInSeconds": 0}))
                .merchant(MERCHANT)
                .into(),
        )
        .await;
    assert_eq!(kept.status, 201, "{}", kept.body);
    assert_eq!(kept.json["permissions"], json!(["charges:read"]));
    assert!(
        !allows(
            &t,
            &kept.text("fullKey"),
            "POST",
            "/api/v1/payments/charges"
        )
        .await
    );
    let named = t
        .send(
            Call::roll_key(
                &app,
                &kept.text("id"),
                json!({"expiresInSeconds": 0, "permissions": ["charges:write"]}),
            )
            .merchant(MERCHANT)
            .into(),
        )
        .await;
    assert_eq!(named.json["permissions"], json!(["charges:write"]));
    assert!(
        allows(
            &t,
            &named.text("fullKey"),
            "POST",
            "/api/v1/payments/charges"
        )
        .await
    );
    let opened = t
        .send(
            Call::roll_key(
                &app,
                &named.text("id"),
                json!({"expiresInSeconds": 0, "permissions": null}),
            )
            .merchant(MERCHANT)
            .into(),
        )
        .await;
    assert_eq!(opened.json["permissions"], Value::Null);
    assert_lookup_matches_key(&t, &app, &opened.text("id"), &opened.text("fullKey")).await;
}

/// Simultaneous PATCHes of one key, each to another set: one of them is the key's state at the
/// end, the lookup record matches it, and the events chain exactly (each one's old is the
/// previous one's new).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_changes_end_in_one_requested_state_never_a_mix() {
    let t = Arc::new(TestApi::new().await);
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let created = create(
        &t,
        &app,
        json!({"description": "k", "permissions": ["charges:read"]}),
    )
    .await;
    let (key_id, full_key) = (created.text("id"), created.text("fullKey"));
    let sets = [
        json!(["charges:write"]),
        json!(["refunds:read", "customers:read"]),
        json!(null),
        json!(["customers:write"]),
        json!(["charges:read", "refunds:write"]),
        json!(["refunds:read"]),
    ];
    let tasks: Vec<_> = sets
        .iter()
        .cloned()
        .map(|set| {
            let (t, app, key_id) = (t.clone(), app.clone(), key_id.clone());
            tokio::spawn(
                async move { update(&t, &app, &key_id, json!({ "permissions": set })).await },
            )
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().status, 200);
    }
    let last = assert_lookup_matches_key(&t, &app, &key_id, &full_key).await;
    let as_list = |v: &Value| match v {
        Value::Null => Value::Null,
        Value::String(joined) => json!(joined.split(' ').collect::<Vec<_>>()),
        other => other.clone(),
    };
    let sorted = |v: &Value| match v {
        Value::Array(items) => {
            let mut items: Vec<String> = items
                .iter()
                .map(|i| i.as_str().unwrap().to_owned())
                .collect();
            items.sort();
            json!(items)
        }
        other => other.clone(),
    };
    assert!(
        sets.iter().any(|set| sorted(set) == as_list(&last)),
        "{last} is none of the requested states"
    );
    let events = t.events(MERCHANT, &app, "").await.json["items"].clone();
    let mut chain: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "api_key.updated")
        .collect();
    chain.reverse();
    assert_eq!(chain.len(), sets.len(), "every change is a change here");
    assert_eq!(chain[0]["permissions"]["old"], json!(["charges:read"]));
    for pair in chain.windows(2) {
        assert_eq!(pair[1]["permissions"]["old"], pair[0]["permissions"]["new"]);
    }
    assert_eq!(chain.last().unwrap()["permissions"]["new"], as_list(&last));
}

fn caller() -> &'static appkeys::store::Caller<'static> {
    Box::leak(Box::new(caller_of(&merchant(), &Origin::system("test"))))
}

fn change(permissions: Permissions) -> KeyChange {
    KeyChange {
        permissions: Some(permissions),
        description: None,
    }
}

fn restricted(list: &[&str]) -> Permissions {
    Permissions::parse(list, &PaymentResources::default()).unwrap()
}

struct Keyed {
    t: TestApi,
    app: String,
    key_id: String,
    full_key: String,
}

async fn keyed() -> Keyed {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let created = create(
        &t,
        &app,
        json!({"description": "k", "permissions": ["charges:read"]}),
    )
    .await;
    Keyed {
        key_id: created.text("id"),
        full_key: created.text("fullKey"),
        t,
        app,
    }
}

impl Keyed {
    fn ids(&self) -> (ApplicationId, KeyId) {
        (
            ApplicationId::parse(&self.app).unwrap(),
            KeyId::parse(&self.key_id).unwrap(),
        )
    }
}

/// A revocation lands between a PATCH's read and its transaction: the PATCH reads again and is
/// told the key is revoked; the key stays revoked with its permissions as they were.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_racing_a_revocation_is_refused_and_changes_nothing() {
    let k = keyed().await;
    let (table, limits, clock) = (k.t.table_name(), k.t.state.config.limits, k.t.clock.clock());
    let (app, key) = k.ids();
    let interleave = Interleave::before_first_transaction(move || async move {
        fresh_store(&table, limits, clock)
            .await
            .revoke_api_key(caller(), app, key)
            .await
            .expect("the competing revocation");
    });
    let store = interleave.store(&k.t).await;
    let refused = store
        .change_api_key(caller(), app, key, &change(restricted(&["charges:write"])))
        .await
        .unwrap_err();
    assert!(interleave.competed());
    assert!(
        matches!(
            refused,
            appkeys::domain::Error::Refused(appkeys::domain::Refusal::KeyAlreadyRevoked)
        ),
        "{refused:?}"
    );
    assert_eq!(
        assert_lookup_matches_key(&k.t, &k.app, &k.key_id, &k.full_key).await,
        json!("charges:read")
    );
    assert!(!allows(&k.t, &k.full_key, "GET", "/api/v1/payments/charges").await);
}

/// Another PATCH lands between a PATCH's read and its transaction: this one applies after it,
/// and its event's old value is what the other one set.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_racing_a_change_applies_after_it() {
    let k = keyed().await;
    let (table, limits, clock) = (k.t.table_name(), k.t.state.config.limits, k.t.clock.clock());
    let (app, key) = k.ids();
    let interleave = Interleave::before_first_transaction(move || async move {
        fresh_store(&table, limits, clock)
            .await
            .change_api_key(caller(), app, key, &change(restricted(&["refunds:read"])))
            .await
            .expect("the competing change");
    });
    let store = interleave.store(&k.t).await;
    let changed = store
        .change_api_key(caller(), app, key, &change(restricted(&["customers:read"])))
        .await
        .unwrap();
    assert_eq!(
        interleave.transactions(),
        2,
        "read again after the other change"
    );
    assert_eq!(changed.permissions, restricted(&["customers:read"]));
    assert_eq!(
        assert_lookup_matches_key(&k.t, &k.app, &k.key_id, &k.full_key).await,
        json!("customers:read")
    );
    let events = k.t.events(MERCHANT, &k.app, "").await.json["items"].clone();
    assert_eq!(
        events[0]["permissions"],
        json!({"old": ["refunds:read"], "new": ["customers:read"]})
    );
    assert_eq!(
        events[1]["permissions"],
        json!({"old": ["charges:read"], "new": ["refunds:read"]})
    );
}

/// A PATCH lands between a roll's read and its transaction: the roll reads again, and the new
/// key takes the permissions the PATCH set, not those the roll first read.
#[tokio::test(flavor = "multi_thread")]
async fn a_roll_racing_a_change_gives_the_new_key_the_changed_permissions() {
    let k = keyed().await;
    let (table, limits, clock) = (k.t.table_name(), k.t.state.config.limits, k.t.clock.clock());
    let (app, key) = k.ids();
    let interleave = Interleave::before_first_transaction(move || async move {
        fresh_store(&table, limits, clock)
            .await
            .change_api_key(caller(), app, key, &change(restricted(&["refunds:write"])))
            .await
            .expect("the competing change");
    });
    let store = interleave.store(&k.t).await;
    let (full_key, new) = api_tests::generated_key(&k.t.pepper, "unused");
    let rolled = store
        .roll_api_key(
            caller(),
            app,
            key,
            appkeys::domain::key::Roll {
                grace_seconds: 3600,
                key_prefix: new.key_prefix,
                hash: new.hash,
                permissions: None,
            },
            None,
        )
        .await
        .map(api_tests::fresh)
        .unwrap();
    assert_eq!(interleave.transactions(), 2, "read again after the change");
    assert_eq!(rolled.new_key.permissions, restricted(&["refunds:write"]));
    assert_lookup_matches_key(
        &k.t,
        &k.app,
        &rolled.new_key.id.to_string(),
        full_key.expose_secret(),
    )
    .await;
    assert!(
        allows(
            &k.t,
            full_key.expose_secret(),
            "POST",
            "/api/v1/payments/refunds"
        )
        .await
    );
    assert!(
        !allows(
            &k.t,
            full_key.expose_secret(),
            "GET",
            "/api/v1/payments/charges"
        )
        .await
    );
}

/// A roll lands between a PATCH's read and its transaction: the rolled key still works in its
/// window, so the PATCH applies to it; the new key keeps what it was given.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_racing_a_roll_applies_to_the_rolled_key_only() {
    let k = keyed().await;
    let (table, limits, clock, pepper) = (
        k.t.table_name(),
        k.t.state.config.limits,
        k.t.clock.clock(),
        k.t.pepper.clone(),
    );
    let (app, key) = k.ids();
    let new_key = Arc::new(std::sync::Mutex::new(None));
    let slot = new_key.clone();
    let interleave = Interleave::before_first_transaction(move || async move {
        let (full_key, new) = api_tests::generated_key(&pepper, "unused");
        let rolled = fresh_store(&table, limits, clock)
            .await
            .roll_api_key(
                caller(),
                app,
                key,
                appkeys::domain::key::Roll {
                    grace_seconds: 3600,
                    key_prefix: new.key_prefix,
                    hash: new.hash,
                    permissions: None,
                },
                None,
            )
            .await
            .map(api_tests::fresh)
            .expect("the competing roll");
        *slot.lock().unwrap() = Some((
            rolled.new_key.id.to_string(),
            full_key.expose_secret().to_owned(),
        ));
    });
    let store = interleave.store(&k.t).await;
    store
        .change_api_key(caller(), app, key, &change(restricted(&["customers:read"])))
        .await
        .unwrap();
    assert!(interleave.competed());
    let (new_id, new_full) = new_key.lock().unwrap().clone().unwrap();
    assert_eq!(
        assert_lookup_matches_key(&k.t, &k.app, &k.key_id, &k.full_key).await,
        json!("customers:read")
    );
    assert_eq!(
        assert_lookup_matches_key(&k.t, &k.app, &new_id, &new_full).await,
        json!("charges:read")
    );
}

/// A disable lands between a PATCH's read and its transaction: they touch different attributes
/// of the lookup record, so both hold: the key is refused while disabled and has its new
/// permissions once enabled.
#[tokio::test(flavor = "multi_thread")]
async fn a_change_racing_a_disable_leaves_both_in_force() {
    let k = keyed().await;
    let (table, limits, clock) = (k.t.table_name(), k.t.state.config.limits, k.t.clock.clock());
    let (app, key) = k.ids();
    let interleave = Interleave::before_first_transaction(move || async move {
        fresh_store(&table, limits, clock)
            .await
            .set_application_enabled(caller(), app, false)
            .await
            .expect("the competing disable");
    });
    let store = interleave.store(&k.t).await;
    store
        .change_api_key(caller(), app, key, &change(restricted(&["refunds:read"])))
        .await
        .unwrap();
    assert!(interleave.competed());
    assert!(!allows(&k.t, &k.full_key, "GET", "/api/v1/payments/refunds").await);
    assert_eq!(k.t.set_enabled(MERCHANT, &k.app, true).await.status, 200);
    assert!(allows(&k.t, &k.full_key, "GET", "/api/v1/payments/refunds").await);
    assert!(!allows(&k.t, &k.full_key, "GET", "/api/v1/payments/charges").await);
    assert_lookup_matches_key(&k.t, &k.app, &k.key_id, &k.full_key).await;
}

//! The audit trail (the contract's "Audit trail and events"): every change writes its
//! event in its own transaction (no change without its event, no event without its change),
//! listed newest first per application with cursor pagination, never carrying a secret.

use api_tests::{Call, TestApi, TestResponse, MERCHANT, OTHER_MERCHANT};
use appkeys::domain::limits::Limits;
use serde_json::{json, Value};

fn events(r: &TestResponse) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json["items"].as_array().unwrap().clone()
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

/// Every EVENT# item of the table (what the stream would publish).
async fn event_items(t: &TestApi) -> usize {
    t.snapshot()
        .await
        .iter()
        .filter(|item| item.contains("SK=S(\"EVENT#"))
        .count()
}

#[tokio::test]
async fn every_change_writes_one_event_with_who_and_where() {
    let t = TestApi::new().await;
    let created = t
        .create_application(MERCHANT, json!({"name": "Prod"}))
        .await;
    let app = created.text("id");
    let key = t.create_key(MERCHANT, &app, "checkout").await;
    let rolled = t.roll_key(MERCHANT, &app, &key.text("id"), 3600).await;
    assert_eq!(
        t.revoke_key(MERCHANT, &app, &rolled.text("id"))
            .await
            .status,
        204
    );
    assert_eq!(t.set_enabled(MERCHANT, &app, false).await.status, 200);
    assert_eq!(
        t.set_enabled(MERCHANT, &app, false).await.status,
        200,
        "no change: no event"
    );
    assert_eq!(t.set_enabled(MERCHANT, &app, true).await.status, 200);

    let listed = events(&t.events(MERCHANT, &app, "").await);
    assert_eq!(
        kinds(&listed),
        [
            "application.enabled",
            "application.disabled",
            "api_key.revoked",
            "api_key.rolled",
            "api_key.created",
            "application.created"
        ]
    );
    let [enabled, _, revoked, rolled_event, created_key, created_app] = listed.as_slice() else {
        unreachable!()
    };
    for event in &listed {
        assert_eq!(event["applicationId"], app);
        assert_eq!(
            event["actor"],
            json!({"sub": "user-1", "merchantId": MERCHANT})
        );
        assert_eq!(event["sourceIp"], "203.0.113.7");
        assert_eq!(event["userAgent"], "curl/8.5.0");
        assert!(event["requestId"].as_str().is_some_and(|id| !id.is_empty()));
        assert!(uuid::Uuid::parse_str(event["id"].as_str().unwrap()).is_ok());
    }
    assert_eq!(
        (
            created_app["keyId"].clone(),
            created_app["keyPrefix"].clone()
        ),
        (Value::Null, Value::Null)
    );
    assert_eq!(enabled["keyId"], Value::Null);
    assert_eq!(created_app["createdAt"], created.json["createdAt"]);
    assert_eq!(created_key["keyId"], key.json["id"]);
    assert_eq!(created_key["keyPrefix"], key.json["keyPrefix"]);
    assert_eq!(rolled_event["keyId"], key.json["id"], "the rolled key");
    assert_eq!(
        rolled_event["newKey"],
        json!({"id": rolled.json["id"], "keyPrefix": rolled.json["keyPrefix"]})
    );
    assert_eq!(revoked["keyId"], rolled.json["id"]);
    // Never a secret.
    let body = t.events(MERCHANT, &app, "").await.body;
    for secret in [
        key.text("fullKey"),
        rolled.text("fullKey"),
        t.pepper.hash(&key.text("fullKey")).to_hex(),
    ] {
        assert!(!body.contains(&secret[12..]));
    }
    assert!(!body.contains(api_tests::BEARER_TOKEN_HEADER), "no token");
}

#[tokio::test]
async fn a_refused_change_writes_no_event() {
    let t = TestApi::with_limits(Limits {
        max_keys_per_application: 1,
        max_applications_per_merchant: 1,
    })
    .await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    assert_eq!(t.create_key(MERCHANT, &app, "one").await.status, 201);
    let before = event_items(&t).await;
    t.create_application(MERCHANT, json!({"name": "prod"}))
        .await
        .assert_problem(409, "name_taken");
    t.create_application(MERCHANT, json!({"name": "Other"}))
        .await
        .assert_problem(400, "application_limit_reached");
    t.create_key(MERCHANT, &app, "two")
        .await
        .assert_problem(400, "key_limit_reached");
    let unknown = uuid::Uuid::now_v7().to_string();
    t.revoke_key(MERCHANT, &app, &unknown)
        .await
        .assert_problem(404, "not_found");
    t.roll_key(MERCHANT, &app, &unknown, 60)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(event_items(&t).await, before);
}

#[tokio::test]
async fn events_are_paged_newest_first_with_a_cursor() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    for i in 0..6 {
        assert_eq!(t.set_enabled(MERCHANT, &app, i % 2 == 1).await.status, 200);
    }
    let all = events(&t.events(MERCHANT, &app, "limit=100").await);
    assert_eq!(all.len(), 7);
    let first = t.events(MERCHANT, &app, "limit=3").await;
    assert_eq!(
        (events(&first).len(), first.json["hasMore"].clone()),
        (3, json!(true))
    );
    assert_eq!(events(&first), all[..3]);
    let after = events(&first)[2]["id"].as_str().unwrap().to_owned();
    let second = t
        .events(MERCHANT, &app, &format!("limit=3&startingAfter={after}"))
        .await;
    assert_eq!(events(&second), all[3..6]);
    let after = events(&second)[2]["id"].as_str().unwrap().to_owned();
    let last = t
        .events(MERCHANT, &app, &format!("limit=3&startingAfter={after}"))
        .await;
    assert_eq!(
        (events(&last), last.json["hasMore"].clone()),
        (all[6..].to_vec(), json!(false))
    );
    // The default page is 20.
    assert_eq!(events(&t.events(MERCHANT, &app, "").await).len(), 7);
}

#[tokio::test]
async fn events_of_an_unknown_or_anothers_application_are_404_and_bad_queries_400() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    t.events(OTHER_MERCHANT, &app, "")
        .await
        .assert_problem(404, "not_found");
    t.events(MERCHANT, &uuid::Uuid::now_v7().to_string(), "")
        .await
        .assert_problem(404, "not_found");
    for bad in [
        "limit=0",
        "limit=101",
        "limit=x",
        "startingAfter=nope",
        "page=1",
        "limit=5&limit=6",
    ] {
        let r = t.events(MERCHANT, &app, bad).await;
        r.assert_problem(400, "validation_failed");
    }
}

#[tokio::test]
async fn events_are_kept_four_hundred_days() {
    let t = TestApi::new().await;
    let now = t.clock.now().epoch_seconds();
    t.create_application_named(MERCHANT, "Prod").await;
    let ttl: Vec<i64> = t
        .snapshot()
        .await
        .iter()
        .filter(|item| item.contains("SK=S(\"EVENT#"))
        .filter_map(|item| {
            item.split("ttl=N(\"")
                .nth(1)?
                .split('"')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(ttl.len(), 1);
    assert!(
        (now + 400 * 86_400..=now + 400 * 86_400 + 5).contains(&ttl[0]),
        "{ttl:?}"
    );
}

/// The largest transaction a writer sends: disabling an application with every key it may have
/// working (the key limit's maximum of active keys, and the most rolled keys in their window),
/// its audit event included, is within DynamoDB's 100 items.
/// Events past their 400 days are not listed, though DynamoDB has not deleted them yet, and a
/// page never says `hasMore` without an item to continue from (not an empty page of expired
/// events with `hasMore: true`).
#[tokio::test]
async fn pages_end_at_the_first_event_past_its_four_hundred_days() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    for enabled in [false, true, false] {
        assert_eq!(t.set_enabled(MERCHANT, &app, enabled).await.status, 200);
    }
    t.clock.advance(401 * 24 * 60 * 60);
    assert_eq!(t.set_enabled(MERCHANT, &app, true).await.status, 200);
    assert_eq!(event_items(&t).await, 5, "none deleted yet");
    let first = t.events(MERCHANT, &app, "limit=1").await;
    assert_eq!(first.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(first.json["items"][0]["type"], "application.enabled");
    assert_eq!(first.json["hasMore"], false, "{}", first.body);
    let after = first.json["items"][0]["id"].as_str().unwrap();
    let rest = t
        .events(MERCHANT, &app, &format!("startingAfter={after}"))
        .await;
    assert_eq!(
        rest.json,
        serde_json::json!({"items": [], "hasMore": false})
    );
}

#[tokio::test]
async fn disabling_the_application_with_the_most_working_keys_fits_in_one_transaction() {
    let max = appkeys::domain::limits::MAX_KEYS_CEILING;
    let t = TestApi::with_limits(Limits {
        max_keys_per_application: max,
        ..Limits::default()
    })
    .await;
    let app = t.create_application_named(MERCHANT, "Busy").await;
    let mut keys = Vec::new();
    for i in 0..max {
        keys.push(t.create_key(MERCHANT, &app, &format!("k{i}")).await);
    }
    // Roll each, and one of the new keys again: the most rolled keys that may be in their window.
    let most_rolled = appkeys::domain::limits::LIVE_KEYS_MAX - max as usize;
    let mut working: Vec<String> = keys.iter().map(|k| k.text("fullKey")).collect();
    let mut to_roll: Vec<String> = keys.iter().map(|k| k.text("id")).collect();
    for _ in 0..most_rolled {
        let id = to_roll.remove(0);
        let rolled = t.roll_key(MERCHANT, &app, &id, 3600).await;
        assert_eq!(rolled.status, 201, "{}", rolled.body);
        working.push(rolled.text("fullKey"));
        to_roll.push(rolled.text("id"));
    }
    assert_eq!(working.len(), appkeys::domain::limits::LIVE_KEYS_MAX);
    t.roll_key(MERCHANT, &app, &to_roll[0], 3600)
        .await
        .assert_problem(400, "key_limit_reached");

    assert_eq!(t.set_enabled(MERCHANT, &app, false).await.status, 200);
    let verifier = t.verifier(&Default::default()).await;
    for key in &working {
        assert_eq!(TestApi::allows(&verifier, key).await, Some(false));
    }
    assert_eq!(
        kinds(&events(&t.events(MERCHANT, &app, "limit=1").await)),
        ["application.disabled"]
    );
    let _ = Call::list("");
}

//! Bounded history: revoked and expired keys are listed for at least 90 days (DynamoDB's TTL
//! then deletes them), never more than 100 per application (the oldest key items are deleted in
//! the retiring transaction), and expired keys stop counting toward the limit without a write.

use api_tests::{generated_key, TestApi, MERCHANT};
use appkeys::domain::limits::Limits;
use appkeys::domain::limits::{HISTORY_RETENTION_SECONDS, RETIRED_KEYS_KEPT};
use appkeys::domain::{ApplicationId, MerchantId};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

const DAY: i64 = 24 * 60 * 60;

fn merchant() -> MerchantId {
    MerchantId::from_claim(MERCHANT).unwrap()
}

fn limits(max_keys: u32) -> Limits {
    Limits {
        max_keys_per_application: max_keys,
        ..Limits::default()
    }
}

/// The application's key items as a query of its key range reads them (what the listing reads).
async fn key_items(
    t: &TestApi,
    app: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    t.client
        .query()
        .table_name(t.store().table())
        .key_condition_expression("PK = :pk AND begins_with(SK, :keys)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("MERCHANT#{MERCHANT}")))
        .expression_attribute_values(":keys", AttributeValue::S(format!("KEY#{app}#")))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

fn listed_keys(application: &Value) -> Vec<(String, String)> {
    application["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["id"].as_str().unwrap().to_owned(),
                k["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn number(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

#[tokio::test]
async fn a_revoked_key_and_its_lookup_record_are_forgotten_ninety_days_later() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let created = t.create_key(MERCHANT, &app, "old").await;
    let (key, full_key) = (created.text("id"), created.text("fullKey"));
    let now = t.clock.now().epoch_seconds();
    assert_eq!(t.revoke_key(MERCHANT, &app, &key).await.status, 204);

    let items = key_items(&t, &app).await;
    let ttl = number(&items[0], "ttl").expect("the revoked key item has a TTL");
    assert!(
        (now + 90 * DAY..=now + 90 * DAY + 5).contains(&ttl),
        "{ttl} vs {now}"
    );
    let lookup = t
        .client
        .get_item()
        .table_name(t.store().table())
        .key(
            "PK",
            AttributeValue::S(format!("KEYHASH#{}", t.pepper.hash(&full_key).to_hex())),
        )
        .key("SK", AttributeValue::S("KEYHASH".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(
        number(&lookup, "ttl"),
        Some(ttl),
        "the lookup record leaves with the key"
    );
    assert_eq!(HISTORY_RETENTION_SECONDS, 90 * DAY);

    // Listed until then; after, hidden even though DynamoDB's TTL deletes within days, not at once.
    t.clock.advance(89 * DAY);
    assert_eq!(
        listed_keys(&t.listed_application(MERCHANT, &app).await),
        vec![(key.clone(), "revoked".into())]
    );
    t.clock.advance(DAY + 10);
    assert!(listed_keys(&t.listed_application(MERCHANT, &app).await).is_empty());
}

#[tokio::test]
async fn an_application_lists_at_most_a_hundred_stopped_keys_and_keeps_no_more_items() {
    let t = TestApi::with_limits(limits(2)).await;
    let app = t.create_application_named(MERCHANT, "Rotating").await;
    let active = t.create_key(MERCHANT, &app, "stays").await.text("id");
    let mut revoked = Vec::new();
    for i in 0..RETIRED_KEYS_KEPT + 5 {
        let key = t
            .create_key(MERCHANT, &app, &format!("daily {i}"))
            .await
            .text("id");
        assert_eq!(t.revoke_key(MERCHANT, &app, &key).await.status, 204);
        revoked.push(key);
    }
    let listed = listed_keys(&t.listed_application(MERCHANT, &app).await);
    assert_eq!(listed.len(), 1 + RETIRED_KEYS_KEPT);
    assert!(listed.contains(&(active.clone(), "active".into())));
    // The oldest five left, newest first as always.
    let mut expected: Vec<String> = revoked[5..].to_vec();
    expected.push(active);
    expected.sort();
    expected.reverse();
    assert_eq!(
        listed.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        expected
    );
    // Their items are gone too: what a listing reads does not grow with the history.
    assert_eq!(key_items(&t, &app).await.len(), 1 + RETIRED_KEYS_KEPT);
    // And the dropped keys cannot be revoked again: they are unknown now.
    t.revoke_key(MERCHANT, &app, &revoked[0])
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn an_expired_key_is_refused_at_once_listed_expired_and_frees_its_place_on_the_next_creation()
{
    let t = TestApi::with_limits(limits(2)).await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let app_id = ApplicationId::parse(&app).unwrap();
    let (short_lived, mut new) = generated_key(&t.pepper, "one hour");
    new.expires_at = Some(t.clock.now().plus_seconds(3600));
    let expiring = t
        .store()
        .create_api_key(
            &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
            app_id,
            new,
            None,
        )
        .await
        .map(api_tests::fresh)
        .unwrap();
    let lasting = t
        .create_key(MERCHANT, &app, "lasting")
        .await
        .text("fullKey");
    let verifier = t.verifier(&Default::default()).await;
    assert_eq!(
        TestApi::allows(&verifier, short_lived.expose_secret()).await,
        Some(true)
    );
    t.create_key(MERCHANT, &app, "third")
        .await
        .assert_problem(400, "key_limit_reached");

    t.clock.advance(3600);
    assert_eq!(
        TestApi::allows(&verifier, short_lived.expose_secret()).await,
        Some(false)
    );
    assert_eq!(TestApi::allows(&verifier, &lasting).await, Some(true));
    let listed = listed_keys(&t.listed_application(MERCHANT, &app).await);
    assert!(
        listed.contains(&(expiring.id.to_string(), "expired".into())),
        "{listed:?}"
    );

    // No write happened at expiry; the next creation reclaims the place in its own transaction.
    let third = t.create_key(MERCHANT, &app, "third").await;
    assert_eq!(third.status, 201, "{}", third.body);
    t.create_key(MERCHANT, &app, "fourth")
        .await
        .assert_problem(400, "key_limit_reached");
    // An expired key cannot be revoked; it stays listed as expired.
    t.revoke_key(MERCHANT, &app, &expiring.id.to_string())
        .await
        .assert_problem(400, "key_expired");
    let listed = listed_keys(&t.listed_application(MERCHANT, &app).await);
    assert_eq!(listed.len(), 3);
    assert!(listed.contains(&(expiring.id.to_string(), "expired".into())));
}

#[tokio::test]
async fn expired_keys_are_not_touched_when_their_application_is_disabled_or_enabled() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let (_, mut new) = generated_key(&t.pepper, "one hour");
    new.expires_at = Some(t.clock.now().plus_seconds(3600));
    let lookup_pk = format!("KEYHASH#{}", new.hash.to_hex());
    t.store()
        .create_api_key(
            &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
            ApplicationId::parse(&app).unwrap(),
            new,
            None,
        )
        .await
        .map(api_tests::fresh)
        .unwrap();
    t.clock.advance(3600 + 90 * DAY + 1);
    // DynamoDB's TTL may have deleted the expired key's lookup record by now: do as it does.
    let deleted = t
        .client
        .delete_item()
        .table_name(t.store().table())
        .key("PK", AttributeValue::S(lookup_pk))
        .key("SK", AttributeValue::S("KEYHASH".into()))
        .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert!(deleted.attributes.is_some(), "the lookup record existed");
    assert_eq!(t.set_enabled(MERCHANT, &app, false).await.status, 200);
    assert_eq!(t.set_enabled(MERCHANT, &app, true).await.status, 200);
}

//! The rules that must hold under concurrency, tested with truly concurrent requests: tasks on a
//! multi-threaded runtime released together by a barrier, on a table where the local endpoint
//! stands in for AWS under contention (it cancels every second overlapping transaction with
//! `TransactionConflict`, as DynamoDB does; `scripts/moto_server.py`). The counts the contract
//! names must come out exact all the same: the store retries conflicts until its deadline.

use std::sync::Arc;

use api_tests::concurrent::{all_at_once, assert_conflicts_were_simulated, count_status, statuses};
use api_tests::{TestApi, MERCHANT};
use appkeys::domain::limits::Limits;
use serde_json::json;

async fn contended() -> Arc<TestApi> {
    Arc::new(TestApi::contended(Limits::default()).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn of_twenty_simultaneous_creates_of_one_name_exactly_one_succeeds() {
    let t = contended().await;
    let responses = all_at_once(&t, 20, |t, i| async move {
        // The same name in different spellings: they collide after trimming and folding.
        let name = if i % 2 == 0 {
            "Checkout".to_owned()
        } else {
            format!(" CHECKOUT{}", " ".repeat(i % 3))
        };
        t.create_application(MERCHANT, json!({ "name": name }))
            .await
    })
    .await;
    assert_eq!(
        count_status(&responses, 201),
        1,
        "{:?}",
        statuses(&responses)
    );
    for r in responses.iter().filter(|r| r.status != 201) {
        r.assert_problem(409, "name_taken");
    }
    let listed = t.list(MERCHANT, "").await;
    assert_eq!(listed.json["totalItems"], 1);
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);
    assert_conflicts_were_simulated(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn of_max_plus_eight_simultaneous_key_creates_exactly_max_succeed() {
    let t = contended().await;
    let max = Limits::default().max_keys_per_application as usize;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let responses = all_at_once(&t, max + 8, |t, i| {
        let app = app.clone();
        async move { t.create_key(MERCHANT, &app, &format!("key {i}")).await }
    })
    .await;
    assert_eq!(
        count_status(&responses, 201),
        max,
        "{:?}",
        statuses(&responses)
    );
    for r in responses.iter().filter(|r| r.status != 201) {
        r.assert_problem(400, "key_limit_reached");
    }
    let listed = t.list(MERCHANT, "include=apiKeys").await;
    assert_eq!(
        listed.json["items"][0]["apiKeys"].as_array().unwrap().len(),
        max
    );
    // Every created key works: each one's lookup record was written with its key.
    let verifier = t.verifier(&Default::default()).await;
    for created in responses.iter().filter(|r| r.status == 201) {
        assert_eq!(
            TestApi::allows(&verifier, &created.text("fullKey")).await,
            Some(true)
        );
    }
    // The limit's bookkeeping is exact: revoking one makes room for exactly one.
    let one = listed.json["items"][0]["apiKeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(t.revoke_key(MERCHANT, &app, &one).await.status, 204);
    t.assert_key_room(MERCHANT, &app, 1).await;
    assert_conflicts_were_simulated(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn of_eight_simultaneous_revocations_exactly_one_succeeds() {
    let t = contended().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let verifier = t.verifier(&Default::default()).await;
    for round in 0..3 {
        let created = t
            .create_key(MERCHANT, &app, &format!("round {round}"))
            .await;
        let (key, full_key) = (created.text("id"), created.text("fullKey"));
        let responses = all_at_once(&t, 8, |t, _| {
            let (app, key) = (app.clone(), key.clone());
            async move { t.revoke_key(MERCHANT, &app, &key).await }
        })
        .await;
        assert_eq!(
            count_status(&responses, 204),
            1,
            "round {round}: {:?}",
            statuses(&responses)
        );
        for r in responses.iter().filter(|r| r.status != 204) {
            r.assert_problem(400, "key_already_revoked");
        }
        assert_eq!(TestApi::allows(&verifier, &full_key).await, Some(false));
    }
    // Each revocation freed exactly one place: the active count is back to zero.
    t.assert_key_room(
        MERCHANT,
        &app,
        Limits::default().max_keys_per_application as usize,
    )
    .await;
    assert_conflicts_were_simulated(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn the_application_limit_holds_under_concurrency() {
    let t = Arc::new(
        TestApi::contended(Limits {
            max_applications_per_merchant: 3,
            ..Limits::default()
        })
        .await,
    );
    let responses = all_at_once(&t, 12, |t, i| async move {
        t.create_application(MERCHANT, json!({ "name": format!("app {i}") }))
            .await
    })
    .await;
    assert_eq!(
        count_status(&responses, 201),
        3,
        "{:?}",
        statuses(&responses)
    );
    for r in responses.iter().filter(|r| r.status != 201) {
        r.assert_problem(400, "application_limit_reached");
    }
    assert_eq!(t.list(MERCHANT, "").await.json["totalItems"], 3);
    assert_conflicts_were_simulated(&t).await;
}

/// Disabling while keys are being created: whatever the interleaving, once the disable has
/// answered, no key of the application is allowed, including those created concurrently; and
/// enabling again allows every one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_disable_racing_key_creations_leaves_no_key_allowed() {
    let t = contended().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let responses = all_at_once(&t, 9, |t, i| {
        let app = app.clone();
        async move {
            if i == 4 {
                t.set_enabled(MERCHANT, &app, false).await
            } else {
                t.create_key(MERCHANT, &app, &format!("key {i}")).await
            }
        }
    })
    .await;
    assert!(
        responses.iter().all(|r| r.status == 200 || r.status == 201),
        "{:?}",
        statuses(&responses)
    );
    let keys: Vec<String> = responses
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.text("fullKey"))
        .collect();
    assert_eq!(keys.len(), 8);
    let verifier = t.verifier(&Default::default()).await;
    for key in &keys {
        assert_eq!(
            TestApi::allows(&verifier, key).await,
            Some(false),
            "a key of a disabled application was allowed"
        );
    }
    assert_eq!(t.set_enabled(MERCHANT, &app, true).await.status, 200);
    for key in &keys {
        assert_eq!(TestApi::allows(&verifier, key).await, Some(true));
    }
    assert_conflicts_were_simulated(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn of_eight_simultaneous_rolls_of_one_key_exactly_one_succeeds() {
    let t = contended().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let old = t.create_key(MERCHANT, &app, "checkout").await;
    let old_id = old.text("id");
    let responses = all_at_once(&t, 8, |t, _| {
        let (app, key) = (app.clone(), old_id.clone());
        async move { t.roll_key(MERCHANT, &app, &key, 3600).await }
    })
    .await;
    assert_eq!(
        count_status(&responses, 201),
        1,
        "{:?}",
        statuses(&responses)
    );
    for r in responses.iter().filter(|r| r.status != 201) {
        r.assert_problem(400, "key_already_rolled");
    }
    let new_key = responses
        .iter()
        .find(|r| r.status == 201)
        .unwrap()
        .text("fullKey");
    let verifier = t.verifier(&Default::default()).await;
    assert_eq!(TestApi::allows(&verifier, &new_key).await, Some(true));
    assert_eq!(
        TestApi::allows(&verifier, &old.text("fullKey")).await,
        Some(true),
        "in its window"
    );
    // Exactly one new key was written, and it took the old one's place: one more fits.
    let max = Limits::default().max_keys_per_application as usize;
    t.assert_key_room(MERCHANT, &app, max - 1).await;
    assert_conflicts_were_simulated(&t).await;
}

/// A roll and a revocation of one key at once: whichever wins, the old key is refused
/// afterwards, and a new key exists and works exactly when the roll succeeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_roll_racing_a_revocation_leaves_the_old_key_refused() {
    let t = contended().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let verifier = t.verifier(&Default::default()).await;
    for round in 0..4 {
        let old = t
            .create_key(MERCHANT, &app, &format!("round {round}"))
            .await;
        let old_id = old.text("id");
        let responses = all_at_once(&t, 2, |t, i| {
            let (app, key) = (app.clone(), old_id.clone());
            async move {
                if i == 0 {
                    t.roll_key(MERCHANT, &app, &key, 3600).await
                } else {
                    t.revoke_key(MERCHANT, &app, &key).await
                }
            }
        })
        .await;
        let (roll, revoke) = (&responses[0], &responses[1]);
        assert_eq!(
            revoke.status, 204,
            "a key in its window can be revoked: {}",
            revoke.body
        );
        assert_eq!(
            TestApi::allows(&verifier, &old.text("fullKey")).await,
            Some(false)
        );
        match roll.status {
            201 => assert_eq!(
                TestApi::allows(&verifier, &roll.text("fullKey")).await,
                Some(true)
            ),
            _ => roll.assert_problem(400, "key_already_revoked"),
        }
    }
    assert_conflicts_were_simulated(&t).await;
}

/// A roll and a disable at once: afterwards neither key works; enabled again, both do (the old
/// one within its window).
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_roll_racing_a_disable_leaves_neither_key_working() {
    let t = contended().await;
    let verifier = t.verifier(&Default::default()).await;
    for round in 0..3 {
        let app = t
            .create_application_named(MERCHANT, &format!("Prod {round}"))
            .await;
        let old = t.create_key(MERCHANT, &app, "checkout").await;
        let old_id = old.text("id");
        let responses = all_at_once(&t, 2, |t, i| {
            let (app, key) = (app.clone(), old_id.clone());
            async move {
                if i == 0 {
                    t.roll_key(MERCHANT, &app, &key, 3600).await
                } else {
                    t.set_enabled(MERCHANT, &app, false).await
                }
            }
        })
        .await;
        let (roll, disable) = (&responses[0], &responses[1]);
        assert_eq!(
            (roll.status, disable.status),
            (201, 200),
            "{} / {}",
            roll.body,
            disable.body
        );
        let new_key = roll.text("fullKey");
        for key in [old.text("fullKey"), new_key.clone()] {
            assert_eq!(
                TestApi::allows(&verifier, &key).await,
                Some(false),
                "round {round}"
            );
        }
        assert_eq!(t.set_enabled(MERCHANT, &app, true).await.status, 200);
        for key in [old.text("fullKey"), new_key] {
            assert_eq!(
                TestApi::allows(&verifier, &key).await,
                Some(true),
                "round {round}"
            );
        }
    }
    assert_conflicts_were_simulated(&t).await;
}

/// At the limit with an expired key, simultaneous creations: exactly one takes the expired key's
/// place (reclaimed in its own transaction), the others are at the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn creations_at_the_limit_racing_for_an_expired_keys_place_exactly_one_wins() {
    let t = Arc::new(
        TestApi::contended(Limits {
            max_keys_per_application: 2,
            ..Limits::default()
        })
        .await,
    );
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let expires = t.clock.now().plus_seconds(60).to_rfc3339();
    let short = t
        .send(
            api_tests::Call::create_key(
                &app,
                json!({"description": "short", "expiresAt": expires}),
            )
            .merchant(MERCHANT)
            .into(),
        )
        .await;
    assert_eq!(short.status, 201);
    let kept = t.create_key(MERCHANT, &app, "kept").await.text("fullKey");
    t.clock
        .advance(61 + appkeys::domain::limits::CLOCK_SKEW_MARGIN_SECONDS);
    let responses = all_at_once(&t, 6, |t, i| {
        let app = app.clone();
        async move { t.create_key(MERCHANT, &app, &format!("new {i}")).await }
    })
    .await;
    assert_eq!(
        count_status(&responses, 201),
        1,
        "{:?}",
        statuses(&responses)
    );
    for r in responses.iter().filter(|r| r.status != 201) {
        r.assert_problem(400, "key_limit_reached");
    }
    let verifier = t.verifier(&Default::default()).await;
    let winner = responses
        .iter()
        .find(|r| r.status == 201)
        .unwrap()
        .text("fullKey");
    assert_eq!(TestApi::allows(&verifier, &winner).await, Some(true));
    assert_eq!(TestApi::allows(&verifier, &kept).await, Some(true));
    assert_eq!(
        TestApi::allows(&verifier, &short.text("fullKey")).await,
        Some(false)
    );
    assert_conflicts_were_simulated(&t).await;
}

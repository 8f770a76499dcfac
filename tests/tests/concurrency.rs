//! The rules that must hold under concurrency, tested with truly concurrent requests: tasks on a
//! multi-threaded runtime released together by a barrier.

use std::future::Future;
use std::sync::Arc;

use api_tests::{TestApi, TestResponse, MERCHANT};
use appkeys::config::Limits;
use serde_json::json;
use tokio::sync::Barrier;

/// Runs `count` copies of `request` at once and returns every response.
async fn all_at_once<F, Fut>(t: &Arc<TestApi>, count: usize, request: F) -> Vec<TestResponse>
where
    F: Fn(Arc<TestApi>, usize) -> Fut,
    Fut: Future<Output = TestResponse> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(count));
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let barrier = barrier.clone();
            let work = request(t.clone(), i);
            tokio::spawn(async move {
                barrier.wait().await;
                work.await
            })
        })
        .collect();
    let mut responses = Vec::with_capacity(count);
    for task in tasks {
        responses.push(task.await.expect("request task"));
    }
    responses
}

fn count_status(responses: &[TestResponse], status: u16) -> usize {
    responses.iter().filter(|r| r.status == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn of_twenty_simultaneous_creates_of_one_name_exactly_one_succeeds() {
    let t = Arc::new(TestApi::new().await);
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
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in responses.iter().filter(|r| r.status != 201) {
        r.assert_problem(409, "name_taken");
    }
    let listed = t.list(MERCHANT, "").await;
    assert_eq!(listed.json["totalItems"], 1);
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn of_max_plus_eight_simultaneous_key_creates_exactly_max_succeed() {
    let t = Arc::new(TestApi::new().await);
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
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in responses.iter().filter(|r| r.status != 201) {
        r.assert_problem(400, "key_limit_reached");
    }
    let listed = t.list(MERCHANT, "include=apiKeys").await;
    assert_eq!(
        listed.json["items"][0]["apiKeys"].as_array().unwrap().len(),
        max
    );
    // The counter the limit relies on is exact: revoking one makes room for exactly one.
    let one = listed.json["items"][0]["apiKeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(t.revoke_key(MERCHANT, &app, &one).await.status, 204);
    assert_eq!(
        t.create_key(MERCHANT, &app, "replacement").await.status,
        201
    );
    t.create_key(MERCHANT, &app, "one too many")
        .await
        .assert_problem(400, "key_limit_reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn of_eight_simultaneous_revocations_exactly_one_succeeds() {
    let t = Arc::new(TestApi::new().await);
    let app = t.create_application_named(MERCHANT, "Prod").await;
    for round in 0..3 {
        let key = t
            .create_key(MERCHANT, &app, &format!("round {round}"))
            .await
            .text("id");
        let responses = all_at_once(&t, 8, |t, _| {
            let (app, key) = (app.clone(), key.clone());
            async move { t.revoke_key(MERCHANT, &app, &key).await }
        })
        .await;
        assert_eq!(count_status(&responses, 204), 1, "round {round}");
        for r in responses.iter().filter(|r| r.status != 204) {
            r.assert_problem(400, "key_already_revoked");
        }
    }
    // Each revocation freed exactly one place: the active count is back to zero.
    let limit = Limits::default().max_keys_per_application;
    for i in 0..limit {
        assert_eq!(
            t.create_key(MERCHANT, &app, &format!("fill {i}"))
                .await
                .status,
            201
        );
    }
    t.create_key(MERCHANT, &app, "over")
        .await
        .assert_problem(400, "key_limit_reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn the_application_limit_holds_under_concurrency() {
    let t = Arc::new(
        TestApi::with_limits(Limits {
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
    assert_eq!(count_status(&responses, 201), 3);
    for r in responses.iter().filter(|r| r.status != 201) {
        r.assert_problem(400, "application_limit_reached");
    }
    assert_eq!(t.list(MERCHANT, "").await.json["totalItems"], 3);
}

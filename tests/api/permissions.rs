//! Least privilege, checked against behaviour, one test per function: each is run through its
//! paths, common and rare (a creation that reclaims an expired key's place and trims the history,
//! a revocation and a roll past the history bound, the authorizer's last-use write, every POST
//! with an `Idempotency-Key`: first run, replay, another request with the key, a kept refusal and
//! its replay; the event publisher on the stream's records), against the local endpoint, with a
//! client that records every AWS action it takes (`api_tests::recorder`). Every recorded action
//! must be in `api_tests::permissions::PERMISSIONS`, and every DynamoDB request must fit one of
//! the function's narrowed grants in `api_tests::permissions::NARROWED` (its partitions, and
//! where the grant names attributes, every attribute it names, reading nothing else), which the
//! deployment test holds the template to: a permission the code needs and the template lacks
//! would be an `AccessDenied` in production that no local test could show otherwise.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use api_tests::permissions::{
    narrowed, PublisherResource, EVENT_PUBLISHER_GRANTS, LOOKUP_PUT, LOOKUP_READS, PERMISSIONS,
};
use api_tests::recorder::Recorder;
use api_tests::{caller_of, fresh, generated_key, Call, TestApi, TestResponse, MERCHANT};
use appkeys::domain::audit::Origin;
use appkeys::domain::limits::{Limits, CLOCK_SKEW_MARGIN_SECONDS, RETIRED_KEYS_KEPT};
use appkeys::domain::{ApplicationId, MerchantId};
use appkeys::lambda::sdk::{sdk_config, Budget};
use appkeys::lambda::State;
use appkeys::store::Store;
use aws_sdk_dynamodb::config::SharedInterceptor;
use local_gateway::Functions;
use serde_json::json;

/// A test's API where one active key fills an application, so the limit is quick to reach.
async fn api() -> TestApi {
    TestApi::with_limits(Limits {
        max_keys_per_application: 1,
        ..Limits::default()
    })
    .await
}

/// The management functions' state over `t`'s table, its client recorded by `recorder`.
async fn recorded(t: &TestApi, recorder: &Recorder) -> State {
    t.state_with([SharedInterceptor::new(recorder.clone())])
        .await
}

async fn send(state: &State, t: &TestApi, function: &str, call: Call) -> TestResponse {
    let functions = Functions::new(state.clone(), t.pepper.clone());
    Box::pin(functions.invoke(function, call.merchant(MERCHANT).into()))
        .await
        .unwrap()
        .into()
}

/// Sends `call` twice, then once more with another body under the same key: the second is the
/// first's replay (read from the key's record), the third is 422.
async fn twice_then_reused(
    state: &State,
    t: &TestApi,
    function: &str,
    call: impl Fn(&str) -> Call,
    other: Call,
    key: &str,
) -> TestResponse {
    let first = send(state, t, function, call(key)).await;
    let replay = send(state, t, function, call(key)).await;
    assert_eq!(
        (replay.status, replay.header("idempotent-replayed")),
        (first.status, Some("true")),
        "{function}: {}",
        replay.body
    );
    assert_eq!(replay.json, first.json);
    send(state, t, function, other.idempotency_key(key))
        .await
        .assert_problem(422, "idempotency_key_reused");
    first
}

/// An application with as many keys revoked as its history keeps: the next write that retires a
/// key also deletes the longest-stopped key item. Through the unrecorded functions.
async fn at_the_history_bound(t: &TestApi) -> String {
    let app = t.create_application_named(MERCHANT, "Prod").await;
    for i in 0..RETIRED_KEYS_KEPT {
        let key = t.create_key(MERCHANT, &app, &format!("k{i}")).await;
        assert_eq!(key.status, 201, "{}", key.body);
        let revoked = t.revoke_key(MERCHANT, &app, &key.text("id")).await;
        assert_eq!(revoked.status, 204, "{}", revoked.body);
    }
    app
}

fn roll(app: &str, key: &str, seconds: i64) -> Call {
    Call::roll_key(app, key, json!({ "expiresInSeconds": seconds }))
}

/// Every action `recorder` saw is in `function`'s role, every action of the role was seen, and
/// every DynamoDB request fits one of the role's narrowed grants.
fn assert_allowed(function: &str, recorder: &Recorder) {
    let allowed: BTreeSet<String> = PERMISSIONS
        .iter()
        .find(|(f, _)| *f == function)
        .map(|(_, actions)| actions.iter().map(|a| a.to_string()).collect())
        .unwrap_or_else(|| panic!("{function} has no entry in PERMISSIONS"));
    let seen = recorder.actions();
    assert!(!seen.is_empty(), "{function} was not exercised");
    let missing: Vec<&String> = seen.difference(&allowed).collect();
    assert!(
        missing.is_empty(),
        "{function} does {missing:?}, which its role may not"
    );
    // Nor may it do more than its code does (the stream and dead-letter actions of the
    // publisher's role are its event source mapping's).
    let by_mapping: BTreeSet<String> = EVENT_PUBLISHER_GRANTS
        .iter()
        .filter(|(_, on)| *on != PublisherResource::EventBus)
        .flat_map(|(actions, _)| actions.iter().map(|a| a.to_string()))
        .collect();
    let unused: Vec<&String> = allowed
        .iter()
        .filter(|a| a.starts_with("dynamodb:") || a.starts_with("events:"))
        .filter(|a| !by_mapping.contains(*a) && !seen.contains(*a))
        .collect();
    assert!(
        unused.is_empty(),
        "{function} may do {unused:?}, which it was never seen to do"
    );
    // One grant must allow the whole request: its action, every partition it touches
    // (ForAllValues), and where the grant names attributes, every attribute the request names,
    // with nothing selected or returned beyond them.
    let grants = narrowed(function);
    for seen in recorder.seen() {
        if !seen.action.starts_with("dynamodb:") {
            continue;
        }
        let fits = grants.iter().any(|grant| {
            grant.actions.contains(&seen.action.as_str())
                && seen
                    .partitions
                    .iter()
                    .all(|partition| grant.partitions.contains(&partition.as_str()))
                && grant.attributes.is_none_or(|allowed| {
                    seen.reads_only_what_it_names()
                        && seen
                            .attributes
                            .iter()
                            .all(|name| allowed.contains(&name.as_str()))
                })
        });
        assert!(
            fits,
            "{function} does {seen:?}, which no grant of its role allows"
        );
    }
}

/// The grants on lookup records name what the store names: a decision's reads, and a new key's
/// record, which carries every attribute of a lookup record but its last use.
#[test]
fn lookup_record_grants_are_what_the_store_names() {
    use appkeys::store::items::lookup_record;
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        set(LOOKUP_READS),
        set(&[&["PK", "SK"][..], Store::LOOKUP_READS].concat())
    );
    let put: Vec<&str> = lookup_record::ATTRIBUTES
        .iter()
        .copied()
        .filter(|name| *name != lookup_record::LAST_USED_AT)
        .collect();
    assert_eq!(set(LOOKUP_PUT), set(&[&["PK", "SK"][..], &put].concat()));
}

fn trims_history(function: &str, recorder: &Recorder) {
    assert!(
        recorder.actions().contains("dynamodb:DeleteItem"),
        "{function} did not trim the history"
    );
}

#[tokio::test]
async fn create_application() {
    let t = api().await;
    let recorder = Recorder::default();
    let state = recorded(&t, &recorder).await;
    let create = |name: &str| Call::post(APPS, APPS, json!({ "name": name }));
    let created = send(&state, &t, "create-application", create("Prod")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    send(&state, &t, "create-application", create("prod"))
        .await
        .assert_problem(409, "name_taken");
    // With an Idempotency-Key: created, replayed, reused with another body; a kept refusal (the
    // name is taken), replayed.
    let keyed = |name: &'static str| move |key: &str| create(name).idempotency_key(key);
    let created = twice_then_reused(
        &state,
        &t,
        "create-application",
        keyed("Staging"),
        create("Other"),
        "app-1",
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    twice_then_reused(
        &state,
        &t,
        "create-application",
        keyed("PROD"),
        create("Other"),
        "app-2",
    )
    .await
    .assert_problem(409, "name_taken");
    assert_allowed("create-application", &recorder);
}

const APPS: &str = "/api/v1/applications";

#[tokio::test]
async fn create_api_key() {
    let t = api().await;
    let app = at_the_history_bound(&t).await;
    let recorder = Recorder::default();
    let state = recorded(&t, &recorder).await;
    // With an expired key in the way: the creation reclaims its place, which retires it past the
    // history bound, and trims the history.
    let (_, mut expiring) = generated_key(&t.pepper, "expiring");
    expiring.expires_at = Some(t.clock.now().plus_seconds(60));
    let caller = caller_of(
        &MerchantId::from_claim(MERCHANT).unwrap(),
        &Origin::system("test"),
    );
    let app_id = ApplicationId::parse(&app).unwrap();
    t.store()
        .create_api_key(&caller, app_id, expiring, None)
        .await
        .map(fresh)
        .unwrap();
    t.clock.advance(61 + CLOCK_SKEW_MARGIN_SECONDS);
    let key = |description: &str| Call::create_key(&app, json!({ "description": description }));
    let reclaims = send(&state, &t, "create-api-key", key("reclaims")).await;
    assert_eq!(reclaims.status, 201, "{}", reclaims.body);
    send(&state, &t, "create-api-key", key("over"))
        .await
        .assert_problem(400, "key_limit_reached");
    // With an Idempotency-Key, at the limit: a kept refusal, replayed.
    twice_then_reused(
        &state,
        &t,
        "create-api-key",
        |k| key("over").idempotency_key(k),
        key("other"),
        "key-1",
    )
    .await
    .assert_problem(400, "key_limit_reached");
    // And with room: created (its full key sealed in the record), replayed; then a restricted,
    // expiring key, whose lookup record carries every attribute a new one can.
    let other = t.create_application_named(MERCHANT, "Other").await;
    let created = twice_then_reused(
        &state,
        &t,
        "create-api-key",
        |k| Call::create_key(&other, json!({"description": "keyed"})).idempotency_key(k),
        Call::create_key(&other, json!({"description": "another"})),
        "key-2",
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let expires_at = t.clock.now().plus_seconds(3600).to_rfc3339();
    let third = t.create_application_named(MERCHANT, "Third").await;
    let restricted = Call::create_key(
        &third,
        json!({"description": "restricted", "expiresAt": expires_at, "permissions": ["charges:read"]}),
    );
    let restricted = send(&state, &t, "create-api-key", restricted).await;
    assert_eq!(restricted.status, 201, "{}", restricted.body);
    let put: BTreeSet<String> = recorder
        .seen()
        .into_iter()
        .filter(|seen| seen.action == "dynamodb:PutItem" && seen.partitions.contains("KEYHASH#*"))
        .flat_map(|seen| seen.attributes)
        .collect();
    assert_eq!(
        put,
        LOOKUP_PUT.iter().map(|n| n.to_string()).collect(),
        "a new key's lookup record"
    );
    assert_allowed("create-api-key", &recorder);
    trims_history("create-api-key", &recorder);
}

#[tokio::test]
async fn revoke_api_key() {
    let t = api().await;
    let app = at_the_history_bound(&t).await;
    let key = t.create_key(MERCHANT, &app, "last").await.text("id");
    let recorder = Recorder::default();
    let state = recorded(&t, &recorder).await;
    let revoke = || Call::revoke_key(&app, &key);
    assert_eq!(
        send(&state, &t, "revoke-api-key", revoke()).await.status,
        204
    );
    send(&state, &t, "revoke-api-key", revoke())
        .await
        .assert_problem(400, "key_already_revoked");
    assert_allowed("revoke-api-key", &recorder);
    trims_history("revoke-api-key", &recorder);
}

#[tokio::test]
async fn update_api_key() {
    let t = api().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let key = t.create_key(MERCHANT, &app, "reporting").await.text("id");
    let recorder = Recorder::default();
    let state = recorded(&t, &recorder).await;
    let change = |body: serde_json::Value| Call::update_key(&app, &key, body);
    // Restricted, unchanged (no write), renamed, unrestricted again; then refused once revoked.
    for body in [
        json!({"permissions": ["charges:read"]}),
        json!({"permissions": ["charges:read"]}),
        json!({"description": "nightly"}),
        json!({"permissions": null, "description": "open"}),
    ] {
        let changed = send(&state, &t, "update-api-key", change(body)).await;
        assert_eq!(changed.status, 200, "{}", changed.body);
    }
    assert_eq!(t.revoke_key(MERCHANT, &app, &key).await.status, 204);
    send(
        &state,
        &t,
        "update-api-key",
        change(json!({"description": "x"})),
    )
    .await
    .assert_problem(400, "key_already_revoked");
    assert_allowed("update-api-key", &recorder);
}

#[tokio::test]
async fn roll_api_key() {
    let t = api().await;
    let app = at_the_history_bound(&t).await;
    let key = t.create_key(MERCHANT, &app, "rolled").await.text("id");
    let recorder = Recorder::default();
    let state = recorded(&t, &recorder).await;
    // At the limit: at once (which retires the old key and trims the history), then with a grace
    // window, then again (refused).
    let at_once = send(&state, &t, "roll-api-key", roll(&app, &key, 0)).await;
    assert_eq!(at_once.status, 201, "{}", at_once.body);
    let at_once = at_once.text("id");
    let rolled = send(&state, &t, "roll-api-key", roll(&app, &at_once, 3600)).await;
    assert_eq!(rolled.status, 201, "{}", rolled.body);
    send(&state, &t, "roll-api-key", roll(&app, &at_once, 3600))
        .await
        .assert_problem(400, "key_already_rolled");
    // With an Idempotency-Key: rolled, replayed, reused; a kept refusal, replayed.
    let newest = rolled.text("id");
    let rolled = twice_then_reused(
        &state,
        &t,
        "roll-api-key",
        |k| roll(&app, &newest, 3600).idempotency_key(k),
        roll(&app, &newest, 60),
        "roll-1",
    )
    .await;
    assert_eq!(rolled.status, 201, "{}", rolled.body);
    twice_then_reused(
        &state,
        &t,
        "roll-api-key",
        |k| roll(&app, &at_once, 3600).idempotency_key(k),
        roll(&app, &at_once, 60),
        "roll-2",
    )
    .await
    .assert_problem(400, "key_already_rolled");
    assert_allowed("roll-api-key", &recorder);
    trims_history("roll-api-key", &recorder);
}

#[tokio::test]
async fn authorizer() {
    let t = api().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let created = t.create_key(MERCHANT, &app, "used").await;
    let recorder = Recorder::default();
    let store = t
        .store_with(
            Budget::AUTHORIZER,
            [SharedInterceptor::new(recorder.clone())],
        )
        .await;
    // An allowed call with a key never used records its last use, on its own task.
    let verifier = t.verifier_over(store);
    assert_eq!(
        TestApi::allows(&verifier, &created.text("fullKey")).await,
        Some(true)
    );
    let waited = Instant::now();
    while !recorder.actions().contains("dynamodb:UpdateItem") {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "the authorizer never wrote the key's last use"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_allowed("authorizer", &recorder);
    // Its read names what a decision reads; its write, its key and `lastUsedAt`, nothing else.
    let named: BTreeSet<(String, BTreeSet<String>)> = recorder
        .seen()
        .into_iter()
        .map(|seen| (seen.action, seen.attributes))
        .collect();
    assert_eq!(
        named,
        BTreeSet::from([
            (
                "dynamodb:GetItem".to_owned(),
                LOOKUP_READS.iter().map(|n| n.to_string()).collect()
            ),
            (
                "dynamodb:UpdateItem".to_owned(),
                ["PK", "SK", "lastUsedAt"].map(String::from).into()
            ),
        ])
    );
}

/// A function that only reads or flips a status, run once on an application with a key.
async fn on_an_application_with_a_key(function: &str, call: impl FnOnce(&str) -> Call) {
    let t = api().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    assert_eq!(t.create_key(MERCHANT, &app, "k").await.status, 201);
    let recorder = Recorder::default();
    let state = recorded(&t, &recorder).await;
    let answered = send(&state, &t, function, call(&app)).await;
    assert_eq!(answered.status, 200, "{function}: {}", answered.body);
    assert_allowed(function, &recorder);
}

#[tokio::test]
async fn set_application_status() {
    on_an_application_with_a_key("set-application-status", |app| {
        Call::set_status(app, json!({"isEnabled": false}))
    })
    .await;
}

#[tokio::test]
async fn list_applications() {
    on_an_application_with_a_key("list-applications", |_| Call::list("include=apiKeys")).await;
}

#[tokio::test]
async fn get_application() {
    on_an_application_with_a_key("get-application", Call::get_application).await;
}

#[tokio::test]
async fn list_events() {
    let t = api().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    assert_eq!(t.create_key(MERCHANT, &app, "k").await.status, 201);
    let recorder = Recorder::default();
    let state = recorded(&t, &recorder).await;
    let page = send(&state, &t, "list-events", Call::events(&app, "limit=1")).await;
    assert_eq!(page.json["hasMore"], true, "{}", page.body);
    let after = page.json["items"][0]["id"].as_str().unwrap().to_owned();
    let next = Call::events(&app, &format!("limit=1&startingAfter={after}"));
    assert_eq!(send(&state, &t, "list-events", next).await.status, 200);
    assert_allowed("list-events", &recorder);
}

#[tokio::test]
async fn report_leaked_keys() {
    let t = api().await;
    let app = at_the_history_bound(&t).await;
    // A key revoked before the report (its revocation keeps the history at the bound), and the
    // application's active key, which the report revokes past the bound.
    let revoked = t.create_key(MERCHANT, &app, "revoked").await;
    assert_eq!(
        t.revoke_key(MERCHANT, &app, &revoked.text("id"))
            .await
            .status,
        204
    );
    let active = t.create_key(MERCHANT, &app, "active").await;
    let recorder = Recorder::default();
    let signer = local_gateway::signer::Signer::generate("permissions-key");
    let keys =
        local_gateway::signer::KeysServer::start(local_gateway::signer::keys_document(&[&signer]))
            .await;
    let reporting = Functions::new(recorded(&t, &recorder).await, t.pepper.clone())
        .with_signing_keys(appkeys::secret_scanning::PublicKeys::new(&keys.url));
    let unknown = appkeys::domain::key_format::FullKey::generate(t.state.config.key_mode)
        .expose_secret()
        .to_owned();
    let tokens = [
        active.text("fullKey"),
        active.text("fullKey"),
        revoked.text("fullKey"),
        unknown,
        "ks_live_garbage".to_owned(),
    ];
    let body = serde_json::Value::Array(
        tokens
            .iter()
            .map(|token| json!({"token": token, "type": "appkeys_api_key", "url": "https://github.com/octo/leaky", "source": "content"}))
            .collect(),
    )
    .to_string();
    let report = TestResponse::from(
        Box::pin(reporting.invoke(
            "report-leaked-keys",
            Call::leak_report(&body, &signer).into(),
        ))
        .await
        .unwrap(),
    );
    assert_eq!(report.status, 200, "{}", report.body);
    let labels: Vec<&str> = report
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|verdict| verdict["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "true_positive",
            "true_positive",
            "true_positive",
            "false_positive",
            "false_positive"
        ]
    );
    assert_allowed("report-leaked-keys", &recorder);
    trims_history("report-leaked-keys", &recorder);
    // Its attribute-narrowed read is the store's projection, with the item's key.
    assert_eq!(
        api_tests::permissions::REPORT_REVOCATION_READS,
        [&["PK", "SK"][..], Store::REVOCATION_READS].concat()
    );
    // Its writes to lookup records name the revocation's attributes only.
    let on_lookups: BTreeSet<BTreeSet<String>> = recorder
        .seen()
        .into_iter()
        .filter(|seen| {
            seen.partitions.contains("KEYHASH#*") && seen.action != "dynamodb:BatchGetItem"
        })
        .map(|seen| seen.attributes)
        .collect();
    assert_eq!(
        on_lookups,
        BTreeSet::from([["PK", "SK", "keyStatus", "ttl"].map(String::from).into()])
    );
}

#[tokio::test]
async fn event_publisher() {
    let t = api().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let key = t.create_key(MERCHANT, &app, "k").await.text("id");
    assert_eq!(t.revoke_key(MERCHANT, &app, &key).await.status, 204);
    // Every record of the table's stream, through the handler, as the event source mapping hands
    // them over (the local stand-in reads the stream with the actions the mapping needs).
    let recorder = Recorder::default();
    let sdk = sdk_config(Budget::MANAGEMENT).await;
    let bus = format!("appkeys-permissions-{}", uuid::Uuid::new_v4());
    aws_sdk_eventbridge::Client::new(&sdk)
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("a bus on the local endpoint");
    let publisher = event_publisher::Publisher {
        events: aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::config::Builder::from(&sdk)
                .interceptor(recorder.clone())
                .build(),
        ),
        bus,
    };
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("the local endpoint");
    let mut stream = local_gateway::stream::LocalStream::new(&endpoint, &t.table_name());
    while local_gateway::stream::publish_once(&mut stream, &publisher)
        .await
        .unwrap()
        > 0
    {}
    let buses: BTreeSet<String> = recorder
        .seen()
        .into_iter()
        .flat_map(|seen| seen.partitions)
        .collect();
    assert_eq!(
        buses,
        BTreeSet::from([publisher.bus.clone()]),
        "it puts on its own bus only"
    );
    assert_allowed("event-publisher", &recorder);
}

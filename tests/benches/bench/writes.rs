//! Part 2: management writes against the raw transactions of the same changes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use api_tests::{caller_of, generated_key, Call, TestApi};
use appkeys::domain::audit::Origin;
use appkeys::domain::{ApplicationId, ApplicationName, MerchantId, NewApplication};
use appkeys::store::applications::create_application_items;
use appkeys::store::items::audit_event;
use appkeys::store::keys::create_key_items;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde_json::{json, Value};

use crate::*;

/// One write's timings, interleaved: the raw transaction of the change alone (its items without
/// the audit event), the raw transaction as the store writes it (with the event), the handler
/// without and with an `Idempotency-Key` (whose record joins the same transaction).
#[derive(Default)]
pub struct WriteTimes {
    pub change_alone: Vec<Duration>,
    pub with_event: Vec<Duration>,
    pub handler: Vec<Duration>,
    pub handler_idempotent: Vec<Duration>,
}

impl WriteTimes {
    /// `<name>_ratio` and `<name>_ratio_idempotent` (against the change alone), and the raw
    /// figures.
    fn report(self, name: &'static str, report: &mut BTreeMap<&'static str, Value>) -> Value {
        let (change_alone, with_event, handler, idempotent) = (
            stats(self.change_alone),
            stats(self.with_event),
            stats(self.handler),
            stats(self.handler_idempotent),
        );
        let (plain, keyed): (&'static str, &'static str) = match name {
            "create_app" => ("create_app_ratio", "create_app_ratio_idempotent"),
            _ => ("create_key_ratio", "create_key_ratio_idempotent"),
        };
        report.insert(plain, json!(ratio(handler.p50, change_alone.p50)));
        report.insert(keyed, json!(ratio(idempotent.p50, change_alone.p50)));
        json!({
            "transaction_change_alone": stats_json(change_alone),
            "transaction_with_event": stats_json(with_event),
            "handler": stats_json(handler),
            "handler_with_idempotency_key": stats_json(idempotent),
        })
    }
}

/// Part 2: create-application and create-api-key through their handlers, without and with an
/// `Idempotency-Key`, against the raw TransactWriteItems of the change (same items, fresh names
/// and ids), interleaved.
pub async fn writes_vs_floor(sizes: &Sizes, report: &mut BTreeMap<&'static str, Value>) {
    let (mut apps, mut keys) = (WriteTimes::default(), WriteTimes::default());
    // moto deep-copies the whole table in every transaction: a fresh table every few writes keeps
    // that cost flat, for the handler and the floor alike.
    for chunk in 0..sizes.writes.div_ceil(25) {
        let t = bench_table().await;
        let count = 25.min(sizes.writes - chunk * 25);
        write_chunk(&t, chunk, count, &mut apps, &mut keys).await;
    }
    let apps = apps.report("create_app", report);
    let keys = keys.report("create_key", report);
    report.insert(
        "writes",
        json!({"create_application": apps, "create_api_key": keys}),
    );
}

/// The items of a transaction without its audit event.
pub fn without_event(items: &[TransactWriteItem]) -> Vec<TransactWriteItem> {
    items
        .iter()
        .filter(|item| {
            let sk = item.put().and_then(|put| put.item().get("SK"));
            !matches!(sk, Some(AttributeValue::S(sk)) if audit_event::is_event_sk(sk))
        })
        .cloned()
        .collect()
}

pub async fn write_chunk(
    t: &TestApi,
    chunk: usize,
    count: usize,
    apps: &mut WriteTimes,
    keys: &mut WriteTimes,
) {
    let merchant = MerchantId::from_claim("m_writes").unwrap();
    let store = t.store();
    let caller = caller_of(&merchant, &Origin::system("benchmark"));
    let transact = |items: Vec<TransactWriteItem>| async move {
        let started = Instant::now();
        if let Err(err) = t
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            panic!(
                "raw TransactWriteItems failed after {:?}: {}",
                started.elapsed(),
                aws_sdk_dynamodb::error::DisplayErrorContext(err)
            );
        }
        started.elapsed()
    };
    let handler = |function: &'static str, call: Call| async move {
        let started = Instant::now();
        let response = t.functions().invoke(function, call.into()).await.unwrap();
        let elapsed = started.elapsed();
        assert_eq!(response.status(), 201);
        elapsed
    };
    let idempotency_key = |i: usize, what: &str| format!("bench-{what}-{chunk}-{i}");

    for i in 0..count {
        let new = |label: &str| NewApplication {
            name: ApplicationName::parse(&format!("{label} {i}")).unwrap(),
            description: None,
        };
        let items = create_application_items(store, &caller, &new("alone")).unwrap();
        apps.change_alone
            .push(transact(without_event(&items)).await);
        let items = create_application_items(store, &caller, &new("floor")).unwrap();
        apps.with_event.push(transact(items).await);
        let call = |label: &str| {
            Call::post(
                "/api/v1/applications",
                "/api/v1/applications",
                json!({"name": format!("{label} {i}")}),
            )
            .merchant(merchant.as_str())
        };
        apps.handler
            .push(handler("create-application", call("handler")).await);
        let keyed = call("keyed").idempotency_key(&idempotency_key(i, "app"));
        apps.handler_idempotent
            .push(handler("create-application", keyed).await);
    }

    for i in 0..count {
        // Four keys per iteration: an application each keeps every write under the key limit.
        let app = t
            .create_application_named(merchant.as_str(), &format!("keys {i}"))
            .await;
        let app_id = ApplicationId::parse(&app).unwrap();
        let (_, key) = generated_key(&t.pepper, "alone");
        let items = create_key_items(store, &caller, app_id, &key).unwrap();
        keys.change_alone
            .push(transact(without_event(&items)).await);
        let (_, key) = generated_key(&t.pepper, "floor");
        let items = create_key_items(store, &caller, app_id, &key).unwrap();
        keys.with_event.push(transact(items).await);
        let call = || {
            Call::create_key(&app, json!({"description": "handler"})).merchant(merchant.as_str())
        };
        keys.handler.push(handler("create-api-key", call()).await);
        let keyed = call().idempotency_key(&idempotency_key(i, "key"));
        keys.handler_idempotent
            .push(handler("create-api-key", keyed).await);
    }
}

//! Part 3: listing at scale, and with long key histories.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use api_tests::{caller_of, generated_key, Call, TestApi};
use appkeys::domain::audit::Origin;
use appkeys::domain::limits::{Limits, RETIRED_KEYS_KEPT};
use appkeys::domain::{ApplicationId, ApplicationName, Deadline, MerchantId, NewApplication};
use appkeys::lambda::sdk::Budget;
use appkeys::store::items::audit_event;
use appkeys::store::{Caller, Store};
use devkit::counter::RequestCounter;
use devkit::guard::sdk;
use serde_json::{json, Value};

use crate::*;

/// Part 3: a merchant with many applications and keys: list pages through the handler, counting
/// requests and items read.
pub async fn list_at_scale(t: &TestApi, sizes: &Sizes, report: &mut BTreeMap<&'static str, Value>) {
    let merchant = MerchantId::from_claim("m_scale").unwrap();
    let small = MerchantId::from_claim("m_small").unwrap();
    let seeding = Instant::now();
    // The small merchant first: once the big one is in, moto's transactions slow down.
    seed(t, &small, 20, sizes.keys_per_app).await;
    seed(t, &merchant, sizes.list_apps, sizes.keys_per_app).await;
    eprintln!(
        "seeded {} applications × {} keys in {:.1?}",
        sizes.list_apps + 20,
        sizes.keys_per_app,
        seeding.elapsed()
    );

    let requests = RequestCounter::default();
    let items = ItemsRead::default();
    let functions = patient_functions(t, &requests, &items).await;

    let last_page = sizes.list_apps.div_ceil(20);
    let mut cases = Vec::new();
    let mut max_requests = 0.0f64;
    for (who, page, include) in [
        (&small, 1, false),
        (&small, 1, true),
        (&merchant, 1, false),
        (&merchant, 1, true),
        (&merchant, last_page, false),
        (&merchant, last_page, true),
    ] {
        let query = format!(
            "page={page}&limit=20{}",
            if include { "&include=apiKeys" } else { "" }
        );
        let (requests_before, items_before) = (requests.count(), *items.0.lock().unwrap());
        let mut times = Vec::new();
        for _ in 0..sizes.list_runs {
            let request = patient(Call::list(&query).merchant(who.as_str()));
            let started = Instant::now();
            let response = functions
                .invoke("list-applications", request)
                .await
                .unwrap();
            times.push(started.elapsed());
            assert_eq!(response.status(), 200);
        }
        let per_page_requests =
            (requests.count() - requests_before) as f64 / sizes.list_runs as f64;
        let per_page_items =
            (*items.0.lock().unwrap() - items_before) as f64 / sizes.list_runs as f64;
        max_requests = max_requests.max(per_page_requests);
        let s = stats(times);
        cases.push(json!({
            "merchant_applications": if who == &small { 20 } else { sizes.list_apps },
            "page": page, "limit": 20, "include_api_keys": include,
            "p50_us": us(s.p50), "requests_per_page": per_page_requests, "items_read_per_page": per_page_items,
        }));
    }
    report.insert("list_requests_per_page", json!(max_requests));
    report.insert("list", json!(cases));
}

/// The functions, counting requests and items read, with time enough for moto: moto answers a
/// query by going through the whole partition, which here holds thousands of applications, keys
/// and their audit events, so a page can take longer on moto than a function's budget (SDK
/// timeouts, the store's retry budget), though DynamoDB reads only each query's range. The
/// list figures that matter are the counts; their latencies are moto's.
pub async fn patient_functions(
    t: &TestApi,
    requests: &RequestCounter,
    items: &ItemsRead,
) -> local_gateway::Functions {
    let mut api = t.state.clone();
    api.store = patient_store(
        t,
        &[
            aws_sdk_dynamodb::config::SharedInterceptor::new(requests.clone()),
            aws_sdk_dynamodb::config::SharedInterceptor::new(items.clone()),
        ],
    )
    .await;
    local_gateway::Functions::new(api, t.pepper.clone())
}

/// `t`'s store with time enough for moto (see [`patient_functions`]), and these interceptors.
pub async fn patient_store(
    t: &TestApi,
    interceptors: &[aws_sdk_dynamodb::config::SharedInterceptor],
) -> Store {
    let sdk = sdk(Budget {
        attempt: Duration::from_secs(120),
        operation: Duration::from_secs(300),
        ..Budget::MANAGEMENT
    })
    .await;
    let mut config = aws_sdk_dynamodb::config::Builder::from(&sdk);
    for interceptor in interceptors {
        config.push_interceptor(interceptor.clone());
    }
    Store::new(
        aws_sdk_dynamodb::Client::from_conf(config.build()),
        t.store().table(),
        t.state.config.limits,
    )
}

/// A caller for `merchant` whose deadline leaves time enough for moto (see [`patient_functions`]).
pub fn patient_caller(merchant: &MerchantId) -> Caller<'static> {
    Caller {
        deadline: Deadline::after(Duration::from_secs(300)),
        ..caller_of(merchant, &Origin::system("benchmark"))
    }
}

/// A request whose handler deadline (from its Lambda context) is ten minutes away.
pub fn patient(call: Call) -> lambda_http::Request {
    let mut context = lambda_http::Context::default();
    context.deadline = (std::time::SystemTime::now() + Duration::from_secs(600))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    lambda_http::RequestExt::with_lambda_context(call.into(), context)
}

/// Part 3b: a page of `history_apps` applications whose keys were rotated `history` times each
/// (revoked through the store, so the bound on stopped keys is what the writers enforce), listed
/// with their keys: items read and response bytes must stop growing past the bound.
pub async fn list_with_history(sizes: &Sizes, report: &mut BTreeMap<&'static str, Value>) {
    let mut by_history = serde_json::Map::new();
    for history in sizes.histories {
        let t = bench_table().await;
        let merchant = MerchantId::from_claim(&format!("m_history_{history}")).unwrap();
        let seeding = Instant::now();
        seed_history(&t, &merchant, sizes.history_apps, history).await;
        eprintln!(
            "seeded {} applications with {history} revocations each in {:.1?}",
            sizes.history_apps,
            seeding.elapsed()
        );

        let requests = RequestCounter::default();
        let items = ItemsRead::default();
        let functions = patient_functions(&t, &requests, &items).await;
        let query = format!("page=1&limit={}&include=apiKeys", sizes.history_apps);
        let started = Instant::now();
        let request = patient(Call::list(&query).merchant(merchant.as_str()));
        let response = functions
            .invoke("list-applications", request)
            .await
            .unwrap();
        let elapsed = started.elapsed();
        assert_eq!(
            response.status(),
            200,
            "after {elapsed:?}: {:?}",
            response.body()
        );
        let bytes = match response.body() {
            lambda_http::Body::Text(text) => text.len(),
            other => panic!("unexpected body {other:?}"),
        };
        let page: Value = match response.body() {
            lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap(),
            _ => unreachable!(),
        };
        let listed: usize = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["apiKeys"].as_array().unwrap().len())
            .sum();
        let read = *items.0.lock().unwrap();
        by_history.insert(
            history.to_string(),
            json!({"items_read": read, "requests": requests.count(), "response_bytes": bytes,
                   "keys_listed": listed, "p50_us": us(elapsed)}),
        );
    }
    let long = &by_history[&sizes.histories[1].to_string()];
    report.insert("list_history_items_read", long["items_read"].clone());
    report.insert(
        "list_history_response_bytes",
        long["response_bytes"].clone(),
    );
    report.insert("list_history_requests", long["requests"].clone());
    report.insert("list_history", Value::Object(by_history));
}

/// One application rotated `history` times through the store (create a key, revoke it), next to
/// its active keys; then its items copied to `apps` applications with ids of their own.
pub async fn seed_history(t: &TestApi, merchant: &MerchantId, apps: usize, history: usize) {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    let scratch = bench_table().await;
    // Every change writes its audit event into this one partition, which moto then deep-copies
    // in every transaction: patient, as the list parts are.
    let store = patient_store(&scratch, &[]).await;
    let template = MerchantId::from_claim("m_template").unwrap();
    let new = NewApplication {
        name: ApplicationName::parse("rotated daily").unwrap(),
        description: None,
    };
    let app = store
        .create_application(&patient_caller(&template), new, None)
        .await
        .map(api_tests::fresh)
        .unwrap();
    let app_id = app.id;
    let active = Limits::default().max_keys_per_application as usize - 1;
    for i in 0..active {
        let (_, key) = generated_key(&t.pepper, &format!("service {i}"));
        store
            .create_api_key(&patient_caller(&template), app_id, key, None)
            .await
            .map(api_tests::fresh)
            .unwrap();
    }
    for day in 0..history {
        let (_, key) = generated_key(&t.pepper, &format!("daily rotation {day}"));
        let issued = store
            .create_api_key(&patient_caller(&template), app_id, key, None)
            .await
            .map(api_tests::fresh)
            .unwrap();
        store
            .revoke_api_key(&patient_caller(&template), app_id, issued.id)
            .await
            .unwrap();
    }
    let items = scratch
        .client
        .scan()
        .table_name(scratch.store().table())
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let kept_keys = items
        .iter()
        .filter(|i| matches!(i.get("SK"), Some(AttributeValue::S(sk)) if sk.starts_with("KEY#")))
        .count();
    assert_eq!(
        kept_keys,
        active + RETIRED_KEYS_KEPT.min(history),
        "the bound on stopped keys held"
    );

    let (template_pk, merchant_pk) = (
        format!("MERCHANT#{}", template.as_str()),
        format!("MERCHANT#{}", merchant.as_str()),
    );
    let old_id = app.id.to_string();
    let mut copies = Vec::new();
    for _ in 0..apps {
        let new_id = ApplicationId::new().to_string();
        for item in &items {
            let Some(AttributeValue::S(pk)) = item.get("PK") else {
                continue;
            };
            if pk != &template_pk || item.contains_key("applicationCount") {
                continue; // lookup records (not read by a listing), and the counter (below)
            }
            if matches!(item.get("SK"), Some(AttributeValue::S(sk)) if audit_event::is_event_sk(sk))
            {
                // Nor are audit events (a listing's queries stop at the application's keys), and
                // moto, going through the whole partition per query, would take minutes over
                // 100 applications' thousand events each.
                continue;
            }
            let mut copy = item.clone();
            for value in copy.values_mut() {
                if let AttributeValue::S(text) = value {
                    *text = text
                        .replace(&old_id, &new_id)
                        .replace(&template_pk, &merchant_pk);
                }
            }
            copies.push(copy);
        }
    }
    copies.push(std::collections::HashMap::from([
        ("PK".to_owned(), AttributeValue::S(merchant_pk.clone())),
        ("SK".to_owned(), AttributeValue::S("MERCHANT".into())),
        (
            "applicationCount".to_owned(),
            AttributeValue::N(apps.to_string()),
        ),
    ]));
    for chunk in copies.chunks(25) {
        let puts = chunk.iter().map(|item| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .unwrap(),
                )
                .build()
        });
        t.client
            .batch_write_item()
            .request_items(t.store().table(), puts.collect())
            .send()
            .await
            .unwrap();
    }
    // The name reservations were copied once per application with the same hash: harmless here.
}

/// Gives `merchant` `apps` applications with `keys_per_app` keys each in `t`'s table, exactly as
/// the store writes them. moto deep-copies a table on every transaction, so transactions slow
/// down as a table grows: the store writes each batch of 10 applications into a fresh scratch
/// table, the items are collected, and all are put into the target table at the end with plain
/// batch writes (the merchant's counter set to the total).
pub async fn seed(t: &TestApi, merchant: &MerchantId, apps: usize, keys_per_app: usize) {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    let mut seeded = Vec::new();
    let mut counter = None;
    for batch in (0..apps).step_by(10) {
        let scratch = bench_table().await;
        for i in batch..apps.min(batch + 10) {
            let new = NewApplication {
                name: ApplicationName::parse(&format!("app {i}")).unwrap(),
                description: None,
            };
            let app = scratch
                .store()
                .create_application(&patient_caller(merchant), new, None)
                .await
                .map(api_tests::fresh)
                .unwrap();
            let app_id = app.id;
            for _ in 0..keys_per_app {
                let (_, key) = generated_key(&t.pepper, "key");
                scratch
                    .store()
                    .create_api_key(&patient_caller(merchant), app_id, key, None)
                    .await
                    .map(api_tests::fresh)
                    .unwrap();
            }
        }
        let items = scratch
            .client
            .scan()
            .table_name(scratch.store().table())
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default();
        for item in items {
            if item.contains_key("applicationCount") {
                counter = Some(item);
            } else {
                seeded.push(item);
            }
        }
    }
    let mut counter = counter.expect("the store keeps a per-merchant counter");
    counter.insert(
        "applicationCount".into(),
        AttributeValue::N(apps.to_string()),
    );
    seeded.push(counter);
    for chunk in seeded.chunks(25) {
        let puts = chunk.iter().map(|item| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .unwrap(),
                )
                .build()
        });
        t.client
            .batch_write_item()
            .request_items(t.store().table(), puts.collect())
            .send()
            .await
            .unwrap();
    }
}

//! `scripts/bench`: the authorizer against the DynamoDB floor, management writes against theirs,
//! listing at scale, and the functions' cold start, size and memory. Prints a table and writes
//! `target/bench/report.json`.
//!
//! Each comparison is measured side by side in one run (interleaved), so machine noise hits both.
//! `cargo test` runs it too, in the debug profile with a few iterations (a smoke run whose
//! figures mean nothing), so that it cannot rot.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_tests::{caller_of, generated_key, Call, TestApi};
use appkeys::domain::audit::Origin;
use appkeys::domain::key_format::{FullKey, KeyMode};
use appkeys::domain::limits::{Limits, RETIRED_KEYS_KEPT};
use appkeys::domain::{ApplicationId, ApplicationName, Deadline, MerchantId, NewApplication};
use appkeys::lambda::sdk::Budget;
use appkeys::secret_scanning::PublicKeys;
use appkeys::store::applications::create_application_items;
use appkeys::store::items::{audit_event, lookup_record};
use appkeys::store::keys::create_key_items;
use appkeys::store::{Caller, Store};
use aws_sdk_dynamodb::config::interceptors::FinalizerInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use devkit::counter::RequestCounter;
use devkit::guard::sdk;
use devkit::runtime_api::{KillOnDrop, RuntimeApi};
use local_gateway::signer::{keys_document, KeysServer, Signer};
use serde_json::{json, Value};

struct Sizes {
    smoke: bool,
    verifications: usize,
    writes: usize,
    list_apps: usize,
    keys_per_app: usize,
    list_runs: usize,
    /// Revocations per application in the long-history list: a short and a long history, to
    /// show that what a page reads stops growing past the bound.
    histories: [usize; 2],
    history_apps: usize,
}

impl Sizes {
    fn new() -> Self {
        if cfg!(debug_assertions) || std::env::var_os("BENCH_SMOKE").is_some() {
            Self {
                smoke: true,
                verifications: 20,
                writes: 5,
                list_apps: 60,
                keys_per_app: 2,
                list_runs: 2,
                histories: [RETIRED_KEYS_KEPT + 2, RETIRED_KEYS_KEPT + 8],
                history_apps: 3,
            }
        } else {
            // moto deep-copies a whole table on every transaction, so seeding a big merchant through
            // the store costs time that grows with its size: BENCH_LIST_APPS scales it.
            let list_apps = std::env::var("BENCH_LIST_APPS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1000);
            let verifications = std::env::var("BENCH_VERIFICATIONS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(3000);
            Self {
                smoke: false,
                verifications,
                writes: 300,
                list_apps,
                keys_per_app: 5,
                list_runs: 15,
                histories: [RETIRED_KEYS_KEPT + 20, 500],
                history_apps: 100,
            }
        }
    }
}

#[derive(Clone, Copy)]
struct Stats {
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    Stats {
        p50: at(0.5),
        p99: at(0.99),
        mean,
    }
}

fn us(d: Duration) -> f64 {
    (d.as_nanos() as f64 / 1000.0 * 10.0).round() / 10.0
}

fn ratio(a: Duration, b: Duration) -> f64 {
    (a.as_secs_f64() / b.as_secs_f64() * 100.0).round() / 100.0
}

fn stats_json(s: Stats) -> Value {
    json!({"p50_us": us(s.p50), "p99_us": us(s.p99), "mean_us": us(s.mean)})
}

/// Counts the items DynamoDB read for `Query` (ScannedCount) and `GetItem` calls.
#[derive(Debug, Clone, Default)]
struct ItemsRead(Arc<Mutex<u64>>);

impl Intercept for ItemsRead {
    fn name(&self) -> &'static str {
        "ItemsRead"
    }
    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if let Some(Ok(output)) = context.output_or_error() {
            let read = if let Some(query) =
                output.downcast_ref::<aws_sdk_dynamodb::operation::query::QueryOutput>()
            {
                query.scanned_count() as u64
            } else if let Some(get) =
                output.downcast_ref::<aws_sdk_dynamodb::operation::get_item::GetItemOutput>()
            {
                u64::from(get.item().is_some())
            } else {
                0
            };
            *self.0.lock().unwrap() += read;
        }
        Ok(())
    }
}

fn authorizer_event(header: &str) -> authorizer::Request {
    let fixture = std::fs::read_to_string(workspace().join("events/authorizer.json")).unwrap();
    let mut event: Value = serde_json::from_str(&fixture).unwrap();
    event["headers"]["authorization"] = json!(header);
    event["identitySource"] = json!([header]);
    serde_json::from_value(event).unwrap()
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Part 1: a full verification (event in, response out) against a raw consistent GetItem of the
/// same lookup record, interleaved.
async fn verify_vs_floor(t: &TestApi, sizes: &Sizes, report: &mut BTreeMap<&'static str, Value>) {
    let app = t.create_application_named("m_bench", "verify").await;
    let full_key = t.create_key("m_bench", &app, "bench").await.text("fullKey");
    let handler_requests = RequestCounter::default();
    let verifier = t.verifier(&handler_requests).await;
    let floor_client = RequestCounter::default().dynamodb_client(&sdk(Budget::AUTHORIZER).await);
    let [(pk_name, pk), (sk_name, sk)] = lookup_record::key(&t.pepper.hash(&full_key));
    let event = authorizer_event(&format!("Bearer {full_key}"));

    let (mut floor, mut full) = (Vec::new(), Vec::new());
    for i in 0..sizes.verifications + 50 {
        let started = Instant::now();
        let item = floor_client
            .get_item()
            .table_name(t.store().table())
            .key(pk_name, pk.clone())
            .key(sk_name, sk.clone())
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        let floor_time = started.elapsed();
        assert!(item.item().is_some());
        let request = lambda_runtime::LambdaEvent::new(event.clone(), Default::default());
        let started = Instant::now();
        let response = authorizer::handler(&verifier, request).await.unwrap();
        let full_time = started.elapsed();
        assert!(response.is_authorized);
        if i >= 50 {
            floor.push(floor_time); // the first 50 warm connections and caches
            full.push(full_time);
        }
    }
    // The verifications of one busy key record its last use once (the first allowed call; the
    // next is due 15 minutes later): every request beyond one per verification is that write.
    let verifications = sizes.verifications + 50;
    let last_used_writes = handler_requests.count_of("TransactWriteItems");
    let requests_per_verification =
        handler_requests.count_of("GetItem") as f64 / verifications as f64;

    let mut garbage = full_key.clone();
    let last = garbage.pop().unwrap();
    garbage.push(if last == '0' { '1' } else { '0' });
    let garbage_header = format!("Bearer {garbage}");
    let rounds = if sizes.smoke { 1000 } else { 200_000 };
    let before = handler_requests.count();
    let started = Instant::now();
    for _ in 0..rounds {
        let decision = verifier
            .verify(Some(std::hint::black_box(&garbage_header)))
            .await
            .unwrap();
        std::hint::black_box(decision);
    }
    let garbage_ns = started.elapsed().as_nanos() as f64 / rounds as f64;
    assert_eq!(
        handler_requests.count(),
        before,
        "a garbage key made a DynamoDB request"
    );

    let (floor, full) = (stats(floor), stats(full));
    report.insert("getitem_p50_us", json!(us(floor.p50)));
    report.insert("authorizer_p50_us", json!(us(full.p50)));
    report.insert("authorizer_ratio", json!(ratio(full.p50, floor.p50)));
    report.insert("getitem_p99_us", json!(us(floor.p99)));
    report.insert("authorizer_p99_us", json!(us(full.p99)));
    report.insert("authorizer_p99_ratio", json!(ratio(full.p99, floor.p99)));
    report.insert("last_used_writes", json!(last_used_writes));
    report.insert(
        "authorizer_requests_per_verification",
        json!(requests_per_verification),
    );
    report.insert("garbage_reject_ns", json!(garbage_ns.round()));
    report.insert(
        "verify",
        json!({"getitem": stats_json(floor), "authorizer": stats_json(full)}),
    );
}

/// One write's timings, interleaved: the raw transaction of the change alone (its items without
/// the audit event), the raw transaction as the store writes it (with the event), the handler
/// without and with an `Idempotency-Key` (whose record joins the same transaction).
#[derive(Default)]
struct WriteTimes {
    change_alone: Vec<Duration>,
    with_event: Vec<Duration>,
    handler: Vec<Duration>,
    handler_idempotent: Vec<Duration>,
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
async fn writes_vs_floor(sizes: &Sizes, report: &mut BTreeMap<&'static str, Value>) {
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
fn without_event(items: &[TransactWriteItem]) -> Vec<TransactWriteItem> {
    items
        .iter()
        .filter(|item| {
            let sk = item.put().and_then(|put| put.item().get("SK"));
            !matches!(sk, Some(AttributeValue::S(sk)) if audit_event::is_event_sk(sk))
        })
        .cloned()
        .collect()
}

async fn write_chunk(
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

/// Part 6: a leaked-key report of 1,000 well-formed tokens, some of them keys of ours that still
/// work (in applications of 10 keys), the rest unknown, through the handler (signature check
/// included, GitHub's keys already cached as on a warm instance): time and DynamoDB requests.
async fn leak_report(sizes: &Sizes, report: &mut BTreeMap<&'static str, Value>) {
    const TOKENS: usize = 1000;
    let t = bench_table().await;
    let active = if sizes.smoke { 20 } else { 100 };
    let mut tokens = Vec::with_capacity(TOKENS);
    for application in 0..active / 10 {
        let app = t
            .create_application_named("m_leaks", &format!("leaky {application}"))
            .await;
        for _ in 0..10 {
            tokens.push(
                t.create_key("m_leaks", &app, "leaked")
                    .await
                    .text("fullKey"),
            );
        }
    }
    while tokens.len() < TOKENS {
        tokens.push(FullKey::generate(KeyMode::Live).expose_secret().to_owned());
    }
    let body = serde_json::Value::Array(
        tokens
            .iter()
            .map(|token| json!({"token": token, "type": "appkeys_api_key", "url": "https://github.com/o/r/blob/main/.env", "source": "content"}))
            .collect(),
    )
    .to_string();

    let signer = Signer::generate("bench-key");
    let keys = KeysServer::start(keys_document(&[&signer])).await;
    let requests = RequestCounter::default();
    let store = Store::new(
        requests.dynamodb_client(&sdk(Budget::MANAGEMENT).await),
        t.store().table(),
        t.state.config.limits,
    );
    let functions = local_gateway::Functions::new(
        appkeys::lambda::State {
            config: t.state.config.clone(),
            store,
        },
        t.pepper.clone(),
    )
    .with_signing_keys(PublicKeys::new(&keys.url));
    // A first report fetches GitHub's keys, as the first one of an instance does.
    let warm = Call::leak_report(
        r#"[{"token":"x","type":"t","url":"u","source":"s"}]"#,
        &signer,
    );
    let warmed = functions
        .invoke("report-leaked-keys", warm.into())
        .await
        .unwrap();
    assert_eq!(warmed.status(), 200);

    let before = requests.count();
    let started = Instant::now();
    let response = functions
        .invoke(
            "report-leaked-keys",
            Call::leak_report(&body, &signer).into(),
        )
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 200);
    let verdicts: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    let true_positives = verdicts
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["label"] == "true_positive")
        .count();
    assert_eq!(true_positives, active);
    report.insert(
        "leak_report_1000_ms",
        json!((elapsed.as_secs_f64() * 1000.0).round()),
    );
    report.insert(
        "leak_report_1000_requests",
        json!(requests.count() - before),
    );
    report.insert(
        "leak_report_1000",
        json!({
            "tokens": TOKENS,
            "keys_revoked": active,
            "batch_get_items": requests.count_of("BatchGetItem"),
            "transact_write_items": requests.count_of("TransactWriteItems"),
        }),
    );
}

async fn bench_table() -> TestApi {
    TestApi::with_limits(Limits {
        max_keys_per_application: appkeys::domain::limits::MAX_KEYS_CEILING,
        max_applications_per_merchant: 1_000_000,
    })
    .await
}

/// Part 3: a merchant with many applications and keys: list pages through the handler, counting
/// requests and items read.
async fn list_at_scale(t: &TestApi, sizes: &Sizes, report: &mut BTreeMap<&'static str, Value>) {
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
async fn patient_functions(
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
async fn patient_store(
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
fn patient_caller(merchant: &MerchantId) -> Caller<'static> {
    Caller {
        deadline: Deadline::after(Duration::from_secs(300)),
        ..caller_of(merchant, &Origin::system("benchmark"))
    }
}

/// A request whose handler deadline (from its Lambda context) is ten minutes away.
fn patient(call: Call) -> lambda_http::Request {
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
async fn list_with_history(sizes: &Sizes, report: &mut BTreeMap<&'static str, Value>) {
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
async fn seed_history(t: &TestApi, merchant: &MerchantId, apps: usize, history: usize) {
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
async fn seed(t: &TestApi, merchant: &MerchantId, apps: usize, keys_per_app: usize) {
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

/// Part 4: each function binary against a stub of the Lambda Runtime API on loopback: exec → first
/// `GET /runtime/invocation/next` (init), → first response, peak RSS, size.
async fn cold_starts(t: &TestApi, sizes: &Sizes, report: &mut BTreeMap<&'static str, Value>) {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let directory = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
        .join(profile);
    let (mut init, mut first, mut rss, mut size) = (
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
    );
    let pepper_secret_id =
        api_tests::create_secret("a pepper for the cold-start benchmark, 32+ bytes").await;
    let mut functions: Vec<&str> = devkit::routes::ROUTES.iter().map(|r| r.function).collect();
    functions.push(devkit::routes::AUTHORIZER_FUNCTION);
    functions.dedup();
    for function in functions {
        let binary = directory.join(function);
        if !binary.exists() {
            // The smoke run uses whatever `cargo test` built; scripts/bench builds them all.
            assert!(
                sizes.smoke,
                "{} is missing: build with `cargo build --release --bins`",
                binary.display()
            );
            continue;
        }
        let measured = cold_start(&binary, function, t, &pepper_secret_id).await;
        init.insert(function, json!(measured.0));
        first.insert(function, json!(measured.1));
        rss.insert(function, json!(measured.2));
        size.insert(function, json!(std::fs::metadata(&binary).unwrap().len()));
    }
    api_tests::delete_secret(&pepper_secret_id).await;
    assert!(
        !init.is_empty(),
        "no function binary found in {}",
        directory.display()
    );
    report.insert("cold_init_ms", json!(init));
    report.insert("cold_first_response_ms", json!(first));
    report.insert("peak_rss_kib", json!(rss));
    report.insert("binary_bytes", json!(size));
}

async fn cold_start(
    binary: &Path,
    function: &str,
    t: &TestApi,
    pepper_secret_id: &str,
) -> (f64, f64, u64) {
    let event =
        std::fs::read_to_string(workspace().join("events").join(format!("{function}.json")))
            .unwrap();
    let runtime = RuntimeApi::start(vec![event]).await;
    // The report fixture is signed by the key in this document; served on loopback as GitHub
    // serves its keys, so the cold start includes the keys' fetch, as a report's does.
    let signing_keys: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("events/report-leaked-keys.public-keys.json"))
            .unwrap(),
    )
    .unwrap();
    let keys = local_gateway::signer::KeysServer::start(signing_keys).await;
    let started = Instant::now();
    // Inside Lambda the pepper comes from Secrets Manager (API_KEY_PEPPER is refused there), so
    // the cold start includes reading it, as in AWS.
    let mut child = KillOnDrop(
        runtime
            .command(binary, function)
            .env("TABLE_NAME", t.store().table())
            .env("API_KEY_PEPPER_SECRET_ID", pepper_secret_id)
            .env("SECRET_SCANNING_KEYS_URL", &keys.url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let answer = runtime
        .answers(1, &mut child.0, Duration::from_secs(20))
        .await
        .remove(0);
    assert!(answer.ok, "{function} failed: {}", answer.body);
    // An HTTP function's answer is its status too: a cold start that answers 5xx measured a
    // failure (a report whose keys could not be fetched answers 503).
    let status: Option<u64> = serde_json::from_str::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|body| body["statusCode"].as_u64());
    assert!(
        status.is_none_or(|status| status < 500),
        "{function} answered {status:?}: {}",
        answer.body
    );
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.0.id())).unwrap_or_default();
    let peak_rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    drop(child);
    let ms = |at: Instant| ((at - started).as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
    (
        ms(runtime
            .first_next()
            .expect("the function asked for an event")),
        ms(answer.at),
        peak_rss_kib,
    )
}

fn print_table(report: &BTreeMap<&'static str, Value>, sizes: &Sizes) {
    let v = |k: &str| report.get(k).cloned().unwrap_or(Value::Null);
    println!(
        "\n{} run ({} verifications, {} writes each, list over {} applications × {} keys)",
        if sizes.smoke {
            "SMOKE (debug, few iterations: figures mean nothing)"
        } else {
            "release"
        },
        sizes.verifications,
        sizes.writes,
        sizes.list_apps,
        sizes.keys_per_app
    );
    println!("{:<44} {:>14} {:>10}", "measure", "value", "target");
    let row = |name: &str, value: Value, target: &str| {
        println!("{name:<44} {:>14} {target:>10}", value.to_string())
    };
    row("raw GetItem p50 (µs)", v("getitem_p50_us"), "");
    row(
        "authorizer verification p50 (µs)",
        v("authorizer_p50_us"),
        "",
    );
    row(
        "authorizer_ratio (p50 / GetItem p50)",
        v("authorizer_ratio"),
        "<= 1.15",
    );
    row(
        "DynamoDB requests per verification",
        v("authorizer_requests_per_verification"),
        "1",
    );
    row(
        "garbage key rejected (ns)",
        v("garbage_reject_ns"),
        "< 5000",
    );
    row(
        "create_app_ratio (vs the change alone)",
        v("create_app_ratio"),
        "<= 1.3",
    );
    row(
        "create_app_ratio_idempotent",
        v("create_app_ratio_idempotent"),
        "<= 1.3",
    );
    row(
        "create_key_ratio (vs the change alone)",
        v("create_key_ratio"),
        "<= 1.3",
    );
    row(
        "create_key_ratio_idempotent",
        v("create_key_ratio_idempotent"),
        "<= 1.3",
    );
    row(
        "list requests per page (max)",
        v("list_requests_per_page"),
        "<= 3",
    );
    for case in v("list").as_array().into_iter().flatten() {
        row(
            &format!(
                "  list {} apps, page {}{}: p50 µs / items read",
                case["merchant_applications"],
                case["page"],
                if case["include_api_keys"] == true {
                    " +keys"
                } else {
                    ""
                }
            ),
            json!(format!(
                "{} / {}",
                case["p50_us"], case["items_read_per_page"]
            )),
            "",
        );
    }
    row(
        &format!(
            "leak report, 1000 tokens, {} keys revoked (ms)",
            v("leak_report_1000")["keys_revoked"]
        ),
        v("leak_report_1000_ms"),
        "",
    );
    row(
        "  DynamoDB requests",
        v("leak_report_1000_requests"),
        "batched",
    );
    row(
        "list page of apps with long history: items read",
        v("list_history_items_read"),
        "bounded",
    );
    row(
        "  response bytes",
        v("list_history_response_bytes"),
        "< 6 MB",
    );
    for (history, case) in v("list_history").as_object().into_iter().flatten() {
        row(
            &format!("  {history} revocations each: items read / requests / bytes"),
            json!(format!(
                "{} / {} / {}",
                case["items_read"], case["requests"], case["response_bytes"]
            )),
            "",
        );
    }
    for (function, init) in v("cold_init_ms").as_object().into_iter().flatten() {
        row(
            &format!("  {function}: init ms / first ms / RSS KiB / bytes"),
            json!(format!(
                "{init} / {} / {} / {}",
                v("cold_first_response_ms")[function],
                v("peak_rss_kib")[function],
                v("binary_bytes")[function]
            )),
            "",
        );
    }
    println!("targets: cold init < 20 ms, binary <= 8 MiB, peak RSS <= 40 MiB");
}

fn main() {
    let sizes = Sizes::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Without AWS_ENDPOINT_URL the harness refuses to run unless APPKEYS_TEST_REAL_AWS=1.
        if std::env::var_os("AWS_ENDPOINT_URL").is_none()
            && std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none()
        {
            eprintln!("note: no AWS_ENDPOINT_URL; measuring against real DynamoDB");
        }
        // One table per part, so that what one part writes does not slow another (moto's
        // transactions cost more as a table grows).
        let mut report = BTreeMap::new();
        verify_vs_floor(&bench_table().await, &sizes, &mut report).await;
        writes_vs_floor(&sizes, &mut report).await;
        list_at_scale(&bench_table().await, &sizes, &mut report).await;
        list_with_history(&sizes, &mut report).await;
        leak_report(&sizes, &mut report).await;
        cold_starts(&bench_table().await, &sizes, &mut report).await;
        report.insert("smoke", json!(sizes.smoke));
        report.insert(
            "machine",
            json!(format!(
                "{} cores, {}",
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(0),
                std::env::consts::ARCH
            )),
        );
        report.insert(
            "endpoint",
            json!(std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "AWS".into())),
        );
        print_table(&report, &sizes);
        let directory = workspace().join("target/bench");
        std::fs::create_dir_all(&directory).unwrap();
        let file = directory.join(if sizes.smoke {
            "smoke-report.json"
        } else {
            "report.json"
        });
        std::fs::write(&file, serde_json::to_string_pretty(&report).unwrap()).unwrap();
        println!("report: {}", file.display());
    });
}

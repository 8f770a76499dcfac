//! Part 1: the authorizer against a raw consistent `GetItem` of the same lookup record.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use api_tests::TestApi;
use appkeys::authorize::PaymentCall;
use appkeys::lambda::sdk::Budget;
use appkeys::store::items::lookup_record;
use appkeys::store::Store;
use devkit::counter::RequestCounter;
use devkit::guard::sdk;
use serde_json::{json, Value};

use crate::*;

pub fn authorizer_event(header: &str) -> authorizer::Request {
    let fixture = std::fs::read_to_string(workspace().join("events/authorizer.json")).unwrap();
    let mut event: Value = serde_json::from_str(&fixture).unwrap();
    event["headers"]["authorization"] = json!(header);
    event["identitySource"] = json!([header]);
    serde_json::from_value(event).unwrap()
}
/// Part 1: a full verification (event in, response out) against a raw consistent GetItem of the
/// same lookup record, interleaved.
const RAW: usize = 0;
const FULL: usize = 1;
const RESTRICTED: usize = 2;
const PROJECTED: usize = 3;
/// Four orders of the four measurements (a Williams Latin square).
const WILLIAMS: [[usize; 4]; 4] = [[0, 1, 3, 2], [1, 2, 0, 3], [2, 3, 1, 0], [3, 0, 2, 1]];

pub async fn verify_vs_floor(
    t: &TestApi,
    sizes: &Sizes,
    report: &mut BTreeMap<&'static str, Value>,
) {
    let app = t.create_application_named("m_bench", "verify").await;
    let full_key = t.create_key("m_bench", &app, "bench").await.text("fullKey");
    let handler_requests = RequestCounter::default();
    let verifier = t.verifier(&handler_requests).await;
    let floor_client = RequestCounter::default().dynamodb_client(&sdk(Budget::AUTHORIZER).await);
    let [(pk_name, pk), (sk_name, sk)] = lookup_record::key(&t.pepper.hash(&full_key));
    let event = authorizer_event(&format!("Bearer {full_key}"));
    // A restricted key, on a call its permissions allow: the decision reads the same one item.
    let restricted_key = t
        .send(
            api_tests::Call::create_key(
                &app,
                json!({"description": "restricted", "permissions": ["charges:read", "customers:write", "refunds:write"]}),
            )
            .merchant("m_bench")
            .into(),
        )
        .await
        .text("fullKey");
    let mut restricted_event = authorizer_event(&format!("Bearer {restricted_key}"));
    restricted_event.raw_path = Some("/api/v1/payments/charges/ch_1".into());
    restricted_event.request_context.http.method = lambda_http::http::Method::GET;

    // The floor is a raw consistent GetItem of the same lookup record, as the issue defines it.
    // Beside it, the read the authorizer actually sends: the same GetItem with the projection its
    // role needs (IAM's `dynamodb:Attributes`), which moto takes longer to apply.
    let (expression, names) = Store::lookup_projection();
    let (mut raw, mut full, mut restricted, mut projected) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..sizes.verifications + 50 {
        // A Williams design: over four rounds each of the four runs once in each position and
        // right after each of the others once (moto serves each connection on its own thread).
        let mut times = [Duration::ZERO; 4];
        for which in WILLIAMS[i % 4] {
            let started = Instant::now();
            match which {
                RAW | PROJECTED => {
                    let read = floor_client
                        .get_item()
                        .table_name(t.store().table())
                        .key(pk_name, pk.clone())
                        .key(sk_name, sk.clone())
                        .consistent_read(true);
                    let read = if which == PROJECTED {
                        read.projection_expression(expression.clone())
                            .set_expression_attribute_names(Some(names.clone()))
                    } else {
                        read
                    };
                    let item = read.send().await.unwrap();
                    times[which] = started.elapsed();
                    assert!(item.item().is_some());
                }
                FULL => {
                    let request =
                        lambda_runtime::LambdaEvent::new(event.clone(), Default::default());
                    let response = authorizer::handler(&verifier, request).await.unwrap();
                    times[FULL] = started.elapsed();
                    assert!(response.is_authorized);
                }
                _ => {
                    let request = lambda_runtime::LambdaEvent::new(
                        restricted_event.clone(),
                        Default::default(),
                    );
                    let response = authorizer::handler(&verifier, request).await.unwrap();
                    times[RESTRICTED] = started.elapsed();
                    assert!(
                        response.is_authorized,
                        "the restricted key may read charges"
                    );
                }
            }
        }
        if i >= 50 {
            raw.push(times[RAW]); // the first 50 warm connections and caches
            full.push(times[FULL]);
            restricted.push(times[RESTRICTED]);
            projected.push(times[PROJECTED]);
        }
    }
    // The verifications of one busy key record its last use once (the first allowed call; the
    // next is due 15 minutes later): every request beyond one per verification is that write.
    let verifications = 2 * (sizes.verifications + 50);
    // Two busy keys (the unrestricted and the restricted one): one write each.
    let last_used_writes = handler_requests.count_of("TransactWriteItems") / 2;
    // Every request but the last-use writes: a second read of any kind would show here.
    let requests_per_verification =
        (handler_requests.count() - handler_requests.count_of("TransactWriteItems")) as f64
            / verifications as f64;

    let mut garbage = full_key.clone();
    let last = garbage.pop().unwrap();
    garbage.push(if last == '0' { '1' } else { '0' });
    let garbage_header = format!("Bearer {garbage}");
    let rounds = if sizes.smoke { 1000 } else { 200_000 };
    let before = handler_requests.count();
    let started = Instant::now();
    for _ in 0..rounds {
        let decision = verifier
            .verify(&PaymentCall::bearing(Some(std::hint::black_box(
                &garbage_header,
            ))))
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

    let (raw, full, restricted, projected) =
        (stats(raw), stats(full), stats(restricted), stats(projected));
    report.insert("getitem_p50_us", json!(us(raw.p50)));
    report.insert("authorizer_p50_us", json!(us(full.p50)));
    report.insert("authorizer_ratio", json!(ratio(full.p50, raw.p50)));
    report.insert("authorizer_restricted_p50_us", json!(us(restricted.p50)));
    report.insert(
        "authorizer_ratio_restricted",
        json!(ratio(restricted.p50, raw.p50)),
    );
    report.insert("getitem_p99_us", json!(us(raw.p99)));
    report.insert("authorizer_p99_us", json!(us(full.p99)));
    report.insert("authorizer_p99_ratio", json!(ratio(full.p99, raw.p99)));
    // Diagnostics: against the read the authorizer sends, the handler's own cost.
    report.insert("getitem_projected_p50_us", json!(us(projected.p50)));
    report.insert(
        "authorizer_ratio_vs_projected",
        json!(ratio(full.p50, projected.p50)),
    );
    report.insert(
        "authorizer_ratio_restricted_vs_projected",
        json!(ratio(restricted.p50, projected.p50)),
    );
    report.insert("last_used_writes", json!(last_used_writes));
    report.insert(
        "authorizer_requests_per_verification",
        json!(requests_per_verification),
    );
    report.insert("garbage_reject_ns", json!(garbage_ns.round()));
    report.insert(
        "verify",
        json!({
            "getitem": stats_json(raw),
            "getitem_projected": stats_json(projected),
            "authorizer": stats_json(full),
            "authorizer_restricted": stats_json(restricted),
        }),
    );
}

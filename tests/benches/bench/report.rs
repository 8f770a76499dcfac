//! The printed table.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::*;

pub fn print_table(report: &BTreeMap<&'static str, Value>, sizes: &Sizes) {
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
        "authorizer_ratio (p50 / raw GetItem p50)",
        v("authorizer_ratio"),
        "<= 1.15",
    );
    row(
        "authorizer_ratio_restricted (a restricted key)",
        v("authorizer_ratio_restricted"),
        "<= 1.15",
    );
    row("authorizer_p99_ratio", v("authorizer_p99_ratio"), "<= 1.3");
    row(
        "  GetItem with the authorizer's projection p50 (µs)",
        v("getitem_projected_p50_us"),
        "",
    );
    row(
        "  authorizer / that GetItem; restricted",
        json!([
            v("authorizer_ratio_vs_projected"),
            v("authorizer_ratio_restricted_vs_projected")
        ]),
        "",
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

//! `scripts/bench`: the authorizer against the DynamoDB floor, management writes against theirs,
//! listing at scale, and the functions' cold start, size and memory. Prints a table and writes
//! `target/bench/report.json`.
//!
//! Each comparison is measured side by side in one run (interleaved), so machine noise hits both.
//! `cargo test` runs it too, in the debug profile with a few iterations (a smoke run whose
//! figures mean nothing), so that it cannot rot.

mod cold;
mod leaks;
mod lists;
mod measure;
mod report;
mod verify;
mod writes;

use std::collections::BTreeMap;
use std::path::PathBuf;

use api_tests::TestApi;
use appkeys::domain::limits::Limits;
use serde_json::json;

pub use measure::*;

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

pub async fn bench_table() -> TestApi {
    TestApi::with_limits(Limits {
        max_keys_per_application: appkeys::domain::limits::MAX_KEYS_CEILING,
        max_applications_per_merchant: 1_000_000,
    })
    .await
}

fn main() {
    let sizes = Sizes::from_env();
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
        if sizes.runs("verify") {
            verify::verify_vs_floor(&bench_table().await, &sizes, &mut report).await;
        }
        if sizes.runs("writes") {
            writes::writes_vs_floor(&sizes, &mut report).await;
        }
        if sizes.runs("lists") {
            lists::list_at_scale(&bench_table().await, &sizes, &mut report).await;
            lists::list_with_history(&sizes, &mut report).await;
        }
        if sizes.runs("leaks") {
            leaks::leak_report(&sizes, &mut report).await;
        }
        if sizes.runs("cold") {
            cold::cold_starts(&bench_table().await, &sizes, &mut report).await;
        }
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
        report::print_table(&report, &sizes);
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

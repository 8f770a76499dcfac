//! Part 4: each function binary's cold start, size and memory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use api_tests::TestApi;
use devkit::runtime_api::{KillOnDrop, RuntimeApi};
use serde_json::{json, Value};

use crate::*;

/// Part 4: each function binary against a stub of the Lambda Runtime API on loopback: exec → first
/// `GET /runtime/invocation/next` (init), → first response, peak RSS, size.
pub async fn cold_starts(t: &TestApi, sizes: &Sizes, report: &mut BTreeMap<&'static str, Value>) {
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

pub async fn cold_start(
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

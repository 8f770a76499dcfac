//! What the parts measure with: the run's sizes, latency statistics, and counting the items
//! DynamoDB reads.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use appkeys::domain::limits::RETIRED_KEYS_KEPT;
use aws_sdk_dynamodb::config::interceptors::FinalizerInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use serde_json::{json, Value};

/// What `BENCH_PARTS` may name.
pub const PARTS: [&str; 5] = ["verify", "writes", "lists", "leaks", "cold"];

pub struct Sizes {
    pub smoke: bool,
    pub verifications: usize,
    pub writes: usize,
    pub list_apps: usize,
    pub keys_per_app: usize,
    pub list_runs: usize,
    /// Revocations per application in the long-history list: a short and a long history, to
    /// show that what a page reads stops growing past the bound.
    pub histories: [usize; 2],
    pub history_apps: usize,
    /// `BENCH_PARTS=verify,writes`: only these parts (all when unset).
    pub parts: Option<Vec<String>>,
}

impl Sizes {
    pub fn runs(&self, part: &str) -> bool {
        self.parts
            .as_ref()
            .is_none_or(|parts| parts.iter().any(|p| p == part))
    }

    pub fn from_env() -> Self {
        let parts: Option<Vec<String>> = std::env::var("BENCH_PARTS")
            .ok()
            .map(|v| v.split(',').map(|p| p.trim().to_owned()).collect());
        for part in parts.iter().flatten() {
            assert!(
                PARTS.contains(&part.as_str()),
                "BENCH_PARTS: no part {part:?}; the parts are {PARTS:?}"
            );
        }
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
                parts,
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
                parts,
            }
        }
    }
}

#[derive(Clone, Copy)]
pub struct Stats {
    pub p50: Duration,
    pub p99: Duration,
    pub mean: Duration,
}

pub fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    Stats {
        p50: at(0.5),
        p99: at(0.99),
        mean,
    }
}

pub fn us(d: Duration) -> f64 {
    (d.as_nanos() as f64 / 1000.0 * 10.0).round() / 10.0
}

pub fn ratio(a: Duration, b: Duration) -> f64 {
    (a.as_secs_f64() / b.as_secs_f64() * 100.0).round() / 100.0
}

pub fn stats_json(s: Stats) -> Value {
    json!({"p50_us": us(s.p50), "p99_us": us(s.p99), "mean_us": us(s.mean)})
}

/// Counts the items DynamoDB read for `Query` (ScannedCount) and `GetItem` calls.
#[derive(Debug, Clone, Default)]
pub struct ItemsRead(pub Arc<Mutex<u64>>);

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

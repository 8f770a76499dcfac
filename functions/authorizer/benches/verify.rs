//! One verification, measured: wall time, DynamoDB requests and heap allocations, for a key that
//! is allowed and for one rejected by its checksum. Needs a DynamoDB endpoint: `scripts/bench`
//! starts moto's server and runs this in the release profile.
//!
//! Run: `scripts/bench` (or `cargo bench -p authorizer --bench verify` with an endpoint set).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use appkeys::api_key::{FullKey, KeyMode, Pepper};
use appkeys::authorize::{Decision, KeyVerifier};
use appkeys::aws::{sdk_config, Budget, RequestCounter};
use appkeys::config::Limits;
use appkeys::domain::{ApplicationId, ApplicationName, Description, MerchantId, NewApplication};
use appkeys::Store;

struct CountingAllocator;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const ITERATIONS: usize = 2000;

struct Measured {
    times: Vec<Duration>,
    requests: usize,
    allocations: usize,
}

impl Measured {
    fn report(mut self, what: &str) {
        self.times.sort();
        let at = |q: f64| self.times[((self.times.len() - 1) as f64 * q) as usize];
        let n = self.times.len();
        println!(
            "{what:<34} n={n}  median {:>9.1?}  p99 {:>9.1?}  DynamoDB requests/verification {:.2}  allocations/verification {:.1}",
            at(0.5),
            at(0.99),
            self.requests as f64 / n as f64,
            self.allocations as f64 / n as f64,
        );
    }
}

async fn measure(
    verifier: &KeyVerifier,
    counter: &RequestCounter,
    header: &str,
    expect_allow: bool,
) -> Measured {
    for _ in 0..100 {
        verifier.verify(Some(header)).await.unwrap(); // warm up connections and caches
    }
    let requests_before = counter.count();
    let mut times = Vec::with_capacity(ITERATIONS);
    let mut allocations = 0;
    for _ in 0..ITERATIONS {
        let allocations_before = ALLOCATIONS.load(Ordering::Relaxed);
        let started = Instant::now();
        let decision = verifier.verify(Some(header)).await.unwrap();
        times.push(started.elapsed());
        allocations += ALLOCATIONS.load(Ordering::Relaxed) - allocations_before;
        assert_eq!(matches!(decision, Decision::Allow(_)), expect_allow);
    }
    Measured {
        times,
        requests: counter.count() - requests_before,
        allocations,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if std::env::var_os("AWS_ENDPOINT_URL").is_none()
            && std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none()
        {
            eprintln!("note: no AWS_ENDPOINT_URL; measuring against real DynamoDB");
        }
        let sdk = sdk_config(Budget::AUTHORIZER).await;
        let table = format!("appkeys-bench-{}", uuid::Uuid::new_v4());
        let admin = aws_sdk_dynamodb::Client::new(&sdk);
        Store::create_table(&admin, &table)
            .await
            .expect("create table");
        let store = Store::new(admin.clone(), &table, Limits::default());
        let pepper = Pepper::new(b"benchmark pepper, at least 32 bytes");
        let merchant = MerchantId::from_claim("m_bench").unwrap();
        let app = store
            .create_application(
                &merchant,
                NewApplication {
                    name: ApplicationName::parse("Bench").unwrap(),
                    description: None,
                },
            )
            .await
            .unwrap();
        let app_id = ApplicationId::parse(&app.id).unwrap();
        let key = FullKey::generate(KeyMode::Live);
        store
            .create_api_key(
                &merchant,
                app_id,
                Description::parse("d", "bench", 200).unwrap(),
                &key,
                pepper.hash(key.as_str()),
            )
            .await
            .unwrap();

        let counter = RequestCounter::default();
        let verifier = KeyVerifier::new(
            Store::new(counter.dynamodb_client(&sdk), &table, Limits::default()),
            pepper.clone(),
            KeyMode::Live,
        );
        let allowed = format!("Bearer {}", key.as_str());
        let mut tampered = allowed.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == '0' { '1' } else { '0' });

        println!(
            "authorizer verification, {} build, endpoint {}",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "AWS".into())
        );
        measure(&verifier, &counter, &allowed, true)
            .await
            .report("allowed key (one GetItem)");
        measure(&verifier, &counter, &tampered, false)
            .await
            .report("bad checksum (no I/O)");

        let started = Instant::now();
        for _ in 0..100_000 {
            std::hint::black_box(pepper.hash(std::hint::black_box(key.as_str())));
        }
        println!(
            "{:<34} {:>9.1?} per key",
            "HMAC-SHA256 alone",
            started.elapsed() / 100_000
        );
        let _ = admin.delete_table().table_name(&table).send().await;
    });
}

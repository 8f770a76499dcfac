//! The no-I/O part of the hot path allocates nothing: a malformed or mistyped key is rejected,
//! a good key is checked and hashed, and a restricted key's permissions are decided, without
//! touching the heap.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use appkeys::authorize::{Decision, DenyReason, KeyVerifier, PaymentCall};
use appkeys::domain::key_format::{check_format, FullKey, KeyMode};
use appkeys::domain::limits::Limits;
use appkeys::pepper::Pepper;
use appkeys::store::Store;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

struct CountingAllocator;

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(work: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    work();
    ALLOCATIONS.with(Cell::get) - before
}

/// Polls a future once, without a runtime (tokio boxes large futures, which is not ours to count).
/// It must be ready at once: a rejected key waits on no I/O.
fn poll_once<T, E: std::fmt::Debug>(future: impl std::future::Future<Output = Result<T, E>>) -> T {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(result) => result.unwrap(),
        std::task::Poll::Pending => {
            panic!("a malformed key must be decided without waiting on I/O")
        }
    }
}

#[test]
fn format_check_and_hash_do_not_allocate() {
    let key = FullKey::generate(KeyMode::Live);
    let pepper = Pepper::new(b"a pepper of at least thirty-two bytes");
    let count = allocations_during(|| {
        assert!(check_format(key.expose_secret(), KeyMode::Live).is_ok());
        std::hint::black_box(pepper.hash(key.expose_secret()));
    });
    assert_eq!(count, 0);
}

#[test]
fn deciding_a_restricted_keys_call_does_not_allocate() {
    use appkeys::domain::permissions::{allows, PaymentResources};
    let resources = PaymentResources::default();
    let stored = "charges:read customers:write refunds:write";
    let count = allocations_during(|| {
        for (method, path) in [
            ("GET", "/api/v1/payments/charges/ch_1"),
            ("POST", "/api/v1/payments/charges"),
            ("POST", "/api/v1/payments/refunds/re_1/cancel"),
            ("POST", "/api/v1/payments/refunds%2F..%2Fcharges"),
        ] {
            std::hint::black_box(allows(Some(stored), &resources, method, path));
        }
    });
    assert_eq!(count, 0);
}

#[test]
fn rejecting_a_malformed_key_allocates_nothing_and_needs_no_database() {
    // A client for an endpoint that does not exist: any request would fail the test.
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let store = Store::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        "t",
        Limits::default(),
    );
    let verifier = KeyVerifier::new(
        store,
        Pepper::new(&[7; 32]),
        KeyMode::Live,
        Default::default(),
    );
    let tampered = api_tests::with_wrong_checksum(FullKey::generate(KeyMode::Live).expose_secret());
    let header = format!("Bearer {tampered}");
    let jwt = "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig";
    for header in [header.as_str(), jwt, "Basic abc", ""] {
        let mut decision = None;
        let count = allocations_during(|| {
            decision = Some(poll_once(
                verifier.verify(&PaymentCall::bearing(Some(header))),
            ))
        });
        assert!(matches!(decision, Some(Decision::Deny(_))), "{header}");
        assert_eq!(count, 0, "{header:?} allocated");
    }
    let decision = poll_once(verifier.verify(&PaymentCall::bearing(Some(&header))));
    assert_eq!(
        decision,
        Decision::Deny(DenyReason::Malformed(
            appkeys::domain::key_format::KeyFormatError::BadChecksum
        ))
    );
}

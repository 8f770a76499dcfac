//! The test harness: each test gets its own DynamoDB table (production schema) on the endpoint the
//! environment names (moto's server on loopback under `scripts/test`; real DynamoDB only when
//! `APPKEYS_TEST_REAL_AWS=1` says so: `devkit::guard`) and drives the functions' own handlers with
//! real API Gateway HTTP API (payload 2.0) events.
//!
//! - [`app`]: a test's API over its own table ([`TestApi`]).
//! - [`call`], [`response`]: requests as API Gateway delivers them, and what came back.
//! - [`faults`]: lost responses and forced interleavings.
//! - [`concurrent`]: truly concurrent requests.
//! - [`openapi`], [`cloudformation`], [`permissions`]: the API description, the deployment as SAM
//!   transforms it, and the permissions the code uses, each checked against the code.

pub mod app;
pub mod call;
pub mod cloudformation;
pub mod concurrent;
pub mod faults;
pub mod openapi;
pub mod origins;
pub mod permissions;
pub mod recorder;
pub mod response;

pub use app::{create_secret, delete_secret, TestApi, MERCHANT, OTHER_MERCHANT};
pub use call::{
    authorizer_event, due_in, Call, AUTHORIZER_EVENT, BEARER_TOKEN, BEARER_TOKEN_HEADER, JWT_EVENT,
};
pub use faults::{fresh_store, Interleave, LoseFirstResponse};
pub use response::{http, TestResponse};

use appkeys::domain::key::NewKey;
use appkeys::domain::key_format::{FullKey, KeyMode};
use appkeys::domain::limits::KEY_DESCRIPTION_MAX;
use appkeys::domain::text::Description;
use appkeys::pepper::Pepper;

/// A freshly generated key and what the store is given of it (its prefix and keyed hash).
pub fn generated_key(pepper: &Pepper, description: &str) -> (FullKey, NewKey) {
    let full_key = FullKey::generate(KeyMode::Live);
    let new = NewKey {
        description: Description::parse("description", description, KEY_DESCRIPTION_MAX)
            .expect("a valid description"),
        key_prefix: full_key.display_prefix().to_owned(),
        hash: pepper.hash(full_key.expose_secret()),
        expires_at: None,
        permissions: appkeys::domain::permissions::Permissions::Unrestricted,
    };
    (full_key, new)
}

/// `key` with its last (checksum) character changed, so it always fails the checksum: a fixed
/// replacement would leave the key intact whenever the key already ended in it.
pub fn with_wrong_checksum(key: &str) -> String {
    let mut tampered = key.to_owned();
    let last = tampered.pop().expect("a non-empty key");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    tampered
}

/// What a direct store call needs of its request: `merchant`, `origin` and a deadline as a
/// management function's. Leaked, so a test can pass `&caller_of(..)` inline: tests are short.
pub fn caller_of(
    merchant: &appkeys::domain::MerchantId,
    origin: &appkeys::domain::audit::Origin,
) -> appkeys::store::Caller<'static> {
    appkeys::store::Caller {
        merchant: Box::leak(Box::new(merchant.clone())),
        origin: Box::leak(Box::new(origin.clone())),
        deadline: deadline(),
    }
}

/// A management function's deadline, from now.
pub fn deadline() -> appkeys::domain::Deadline {
    appkeys::domain::Deadline::after(
        appkeys::lambda::sdk::Budget::MANAGEMENT.function_timeout
            - appkeys::lambda::deadline::ANSWER_MARGIN,
    )
}

/// What a write made, when it must have made something (no idempotency key held it).
pub fn fresh<T>(written: appkeys::store::Written<T>) -> T {
    match written {
        appkeys::store::Written::Fresh(value) => value,
        appkeys::store::Written::KeyHeld => panic!("an idempotency record held the key"),
    }
}

//! The DynamoDB single-table store. Every key shape, attribute and condition expression lives in
//! this folder and nowhere else; `docs/data-model.md` describes the same design in prose.
//!
//! - [`keys`]: the partition and sort key of every item.
//! - [`codec`]: attribute values to Rust values and back.
//! - [`keyring`]: per application, which keys may verify, and the bounded history.
//! - [`transaction`]: transactions with named slots, and retrying them until a deadline.
//! - [`applications`], [`api_keys`]: the two aggregates' reads and writes.
//! - [`key_items`]: how a key is stored (its item, its lookup record) and read back.
//! - [`rolls`]: replacing a key, with a grace window for the old one.
//! - [`audit`]: the audit events every writer puts in its transaction, and their listing.
//! - [`idempotency`]: the responses of creating requests, recorded with the change.
//! - [`lookup`]: the authorizer's one read, and recording a key's last use.
//! - [`reads`]: strongly consistent reads and paginated queries.
//! - [`failure`]: what an SDK error means for the caller (503 or 500).
//! - `schema` (feature `test-util`): creates a table with the production schema.

mod api_keys;
mod applications;
mod audit;
mod codec;
mod failure;
mod idempotency;
mod key_items;
mod keyring;
mod keys;
mod lookup;
mod reads;
mod rolls;
#[cfg(feature = "test-util")]
mod schema;
mod transaction;

use aws_sdk_dynamodb::Client;

use crate::config::Limits;
use crate::time::Clock;

pub use api_keys::NewKey;
pub use audit::{event_from_item, EVENT_SK_PREFIX};
pub use idempotency::{
    IdempotencyClaim, Idempotent, Render, StoredResponse, Written, RECORD_LIFETIME_SECONDS,
};
pub use keyring::{CLOCK_SKEW_MARGIN_SECONDS, LIVE_KEYS_MAX, RETIRED_KEYS_KEPT};
pub use lookup::{KeyLookup, LAST_USE_ACCURACY_SECONDS};
pub use rolls::{Roll, Rolled, MAX_GRACE_SECONDS};
pub use transaction::RetryPolicy;

/// How long revoked and expired keys (their items and lookup records) are kept before DynamoDB's
/// TTL deletes them: the contract lists them for at least 90 days.
pub const HISTORY_RETENTION_SECONDS: i64 = 90 * 24 * 60 * 60;

/// The table attribute DynamoDB's time to live reads (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "ttl";

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
    limits: Limits,
    retry: RetryPolicy,
    clock: Clock,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>, limits: Limits) -> Self {
        Self {
            client,
            table: table.into(),
            limits,
            retry: RetryPolicy::default(),
            clock: Clock::system(),
        }
    }

    /// How long an operation keeps retrying against concurrent writers before answering 503.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The clock that decides expiry (tests move it instead of sleeping).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn attempts(&self) -> transaction::Attempts {
        transaction::Attempts::start(self.retry)
    }
}

/// Hooks for tests and the benchmark: the raw client and table, the production schema, and the
/// exact transactions the writers issue (the benchmark's floor).
#[cfg(feature = "test-util")]
pub mod test_util {
    pub use super::api_keys::create_key_transaction_items;
    pub use super::applications::create_application_transaction_items;
    pub use super::lookup::lookup_record_key;
    pub use super::schema::create_table;

    impl super::Store {
        pub fn client(&self) -> &aws_sdk_dynamodb::Client {
            &self.client
        }

        pub fn table(&self) -> &str {
            &self.table
        }
    }
}

//! The DynamoDB single-table store. Every key shape, attribute name and condition lives in
//! [`items`], one module per item; the operations compose their named writes into transactions,
//! whose conditions enforce every invariant under any interleaving, and give typed values back.
//!
//! - [`items`]: the items, their keys, attributes, named writes and `from_item`.
//! - [`applications`], [`keys`], [`rolls`], [`key_changes`]: the changes and reads of
//!   applications and keys.
//! - [`lookups`]: the authorizer's one read, a report's batch of them, and recording last use.
//! - [`events`]: an application's audit events.
//! - [`idempotency`]: reading an `Idempotency-Key`'s record, and keeping a refusal under it.
//! - [`transaction`], [`retry`], [`reads`], [`failure`]: transactions with named slots, retries
//!   within the request's deadline, strongly consistent reads, and what an SDK error means.

pub mod applications;
pub mod events;
pub mod failure;
pub mod idempotency;
pub mod items;
pub mod key_changes;
pub mod keys;
pub mod lookups;
pub mod reads;
pub mod retry;
pub mod rolls;
pub mod transaction;

use aws_sdk_dynamodb::Client;

use crate::domain::audit::Origin;
use crate::domain::limits::Limits;
use crate::domain::{Clock, Deadline, Failure, MerchantId};
use items::idempotency_record::{Claim, StoredResponse};

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
    limits: Limits,
    clock: Clock,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>, limits: Limits) -> Self {
        Self {
            client,
            table: table.into(),
            limits,
            clock: Clock::system(),
        }
    }

    /// The clock that decides expiry (tests move it instead of sleeping).
    #[cfg(feature = "test-util")]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

/// Who makes a change, from where, and until when: what every write needs of its request.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub merchant: &'a MerchantId,
    pub origin: &'a Origin,
    pub deadline: Deadline,
}

/// How a write records its answer under an `Idempotency-Key`: the claim on the key, and the
/// response it will answer with once `T` is written, which goes into the write's own transaction.
pub trait Recorder<T>: Sync {
    fn claim(&self) -> &Claim;
    fn response(&self, written: &T) -> Result<StoredResponse, Failure>;
}

/// What a creating write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written<T> {
    Fresh(T),
    /// A live record holds the `Idempotency-Key`: nothing was written; that record answers.
    KeyHeld,
}

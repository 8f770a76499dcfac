//! Transactions with named slots, and the policy for retrying them.
//!
//! A cancelled `TransactWriteItems` reports one reason per item, in request order. Writers ask
//! "did *this* item's condition fail?" through the [`Slot`] that adding the item returned, so that
//! reordering or adding items can never make a writer read another item's reason.

use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use tokio::time::Instant;

use super::failure::{build_error, sdk_error};
use crate::error::StoreError;

/// DynamoDB's limit on the items of one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// Where an item sits in its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(usize);

#[derive(Debug, Clone, Default)]
pub struct Transaction {
    items: Vec<TransactWriteItem>,
}

impl Transaction {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put(
        &mut self,
        put: aws_sdk_dynamodb::types::builders::PutBuilder,
    ) -> Result<Slot, StoreError> {
        let put: Put = put.build().map_err(build_error)?;
        Ok(self.push(TransactWriteItem::builder().put(put).build()))
    }

    pub fn update(
        &mut self,
        update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
    ) -> Result<Slot, StoreError> {
        let update: Update = update.build().map_err(build_error)?;
        Ok(self.push(TransactWriteItem::builder().update(update).build()))
    }

    pub fn delete(
        &mut self,
        delete: aws_sdk_dynamodb::types::builders::DeleteBuilder,
    ) -> Result<Slot, StoreError> {
        let delete: Delete = delete.build().map_err(build_error)?;
        Ok(self.push(TransactWriteItem::builder().delete(delete).build()))
    }

    pub fn condition_check(
        &mut self,
        check: aws_sdk_dynamodb::types::builders::ConditionCheckBuilder,
    ) -> Result<Slot, StoreError> {
        let check: ConditionCheck = check.build().map_err(build_error)?;
        Ok(self.push(TransactWriteItem::builder().condition_check(check).build()))
    }

    fn push(&mut self, item: TransactWriteItem) -> Slot {
        self.items.push(item);
        Slot(self.items.len() - 1)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The items, in slot order (for the benchmark's raw floor).
    #[cfg(feature = "test-util")]
    pub fn items(&self) -> &[TransactWriteItem] {
        &self.items
    }
}

/// Why DynamoDB cancelled a transaction: one reason code per slot.
#[derive(Debug, Clone)]
pub struct Cancellation {
    reasons: Vec<Option<String>>,
}

impl Cancellation {
    /// Whether `slot`'s own condition expression failed.
    pub fn failed(&self, slot: Slot) -> bool {
        self.reasons.get(slot.0).and_then(|code| code.as_deref()) == Some("ConditionalCheckFailed")
    }

    fn conflicted(&self) -> bool {
        self.reasons
            .iter()
            .any(|code| code.as_deref() == Some("TransactionConflict"))
    }

    /// A cancellation the writer did not expect: a fault, reported as 500 with the reasons logged.
    pub fn unexpected(&self) -> StoreError {
        StoreError::Backend(
            format!("transaction cancelled unexpectedly: {:?}", self.reasons).into(),
        )
    }
}

pub enum Outcome {
    Committed,
    /// A condition failed (never a conflict: those are retried until the deadline).
    Cancelled(Cancellation),
}

/// How long one store operation may keep trying when concurrent writers get in its way: DynamoDB
/// cancelled its transaction with `TransactionConflict`, or what it read changed before it
/// wrote. Waits grow exponentially up to a cap, each drawn at random up to the current bound
/// ("full jitter", from the AWS Architecture Blog's "Exponential Backoff And Jitter"), so that
/// writers contending for one item spread out; at the deadline the operation gives up with
/// [`StoreError::Contention`] (503). The deadline, not a count, bounds it, so the same policy
/// fits the function's time budget whatever the luck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// From the operation's start to the last attempt it may begin.
    pub budget: Duration,
}

impl RetryPolicy {
    /// Management functions: a few seconds of retries fit in their timeout with the SDK's own
    /// budget for the final attempt (see `aws::Budget::MANAGEMENT`).
    pub const MANAGEMENT: Self = Self {
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(500),
        budget: Duration::from_secs(4),
    };
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::MANAGEMENT
    }
}

/// One operation's retry state: its deadline and the current backoff bound.
#[derive(Debug)]
pub struct Backoff {
    deadline: Instant,
    bound: Duration,
    max: Duration,
    retries: u32,
}

impl Backoff {
    pub fn start(policy: RetryPolicy) -> Self {
        Self {
            deadline: Instant::now() + policy.budget,
            bound: policy.first_delay,
            max: policy.max_delay,
            retries: 0,
        }
    }

    /// Waits before the next attempt; `Contention` if that attempt would start past the deadline.
    pub async fn wait(&mut self, why: &'static str) -> Result<(), StoreError> {
        let delay = full_jitter(self.bound);
        if Instant::now() + delay >= self.deadline {
            tracing::warn!(
                retries = self.retries,
                why,
                "giving up at the retry deadline"
            );
            return Err(StoreError::Contention);
        }
        self.retries += 1;
        tracing::debug!(
            retry = self.retries,
            why,
            delay_ms = delay.as_millis() as u64,
            "retrying"
        );
        tokio::time::sleep(delay).await;
        self.bound = (self.bound * 2).min(self.max);
        Ok(())
    }
}

/// A uniformly random duration in `0..=bound`.
fn full_jitter(bound: Duration) -> Duration {
    let mut bytes = [0u8; 4];
    // Without randomness the wait is the full bound: still correct, only less spread out.
    if getrandom::fill(&mut bytes).is_err() {
        return bound;
    }
    bound.mul_f64(f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX))
}

/// Runs `transaction`, retrying with `backoff` while DynamoDB cancels it for a conflict with
/// another transaction. A cancellation for a failed condition goes back to the caller.
pub async fn run(
    client: &Client,
    transaction: &Transaction,
    backoff: &mut Backoff,
) -> Result<Outcome, StoreError> {
    loop {
        let result = client
            .transact_write_items()
            .set_transact_items(Some(transaction.items.clone()))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Outcome::Committed),
            Err(err) => err,
        };
        let cancellation = match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                Cancellation {
                    reasons: cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|reason| reason.code().map(str::to_owned))
                        .collect(),
                }
            }
            _ => return Err(sdk_error(err)),
        };
        if !cancellation.conflicted() {
            return Ok(Outcome::Cancelled(cancellation));
        }
        backoff.wait("TransactionConflict").await?;
    }
}

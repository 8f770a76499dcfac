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

use super::failure::{build_error, outcome_unknown, sdk_error};
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

    /// Whether trying the same transaction again may succeed: DynamoDB cancels a transaction
    /// whose items conflict with another transaction in flight, or that it throttled, with these
    /// reasons ("TransactionCanceledException" in the DynamoDB API reference).
    fn retry(&self) -> Option<Retry> {
        let any = |wanted: &[&str]| {
            self.reasons
                .iter()
                .any(|code| code.as_deref().is_some_and(|code| wanted.contains(&code)))
        };
        if any(&["TransactionConflict"]) {
            Some(Retry::Conflict)
        } else if any(&["ThrottlingError", "ProvisionedThroughputExceeded"]) {
            Some(Retry::Throttled)
        } else {
            None
        }
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

/// How long one store operation may take, all its requests and retries included, and how it
/// waits between attempts when concurrent writers get in its way (DynamoDB cancelled its
/// transaction with `TransactionConflict`, or what it read changed before it wrote) or DynamoDB
/// throttles it. Waits grow exponentially up to a cap, each drawn at random up to the current
/// bound ("full jitter", from the AWS Architecture Blog's "Exponential Attempts And Jitter"), so
/// that writers contending for one item spread out. At the deadline the operation gives up with
/// 503: [`StoreError::Contention`] or [`StoreError::Unavailable`]. A deadline, not a count, so
/// that the same policy fits the function's time budget whatever the luck, and every request the
/// operation sends is cut off at it too, so the deadline bounds the whole operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// From the operation's start to its end, whatever happens.
    pub budget: Duration,
}

impl RetryPolicy {
    /// Management functions: 5 s, well inside their timeout (the handler answers 503 itself
    /// before Lambda would stop it).
    pub const MANAGEMENT: Self = Self {
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(500),
        budget: Duration::from_secs(5),
    };
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::MANAGEMENT
    }
}

/// Why an operation tries again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// DynamoDB cancelled the transaction for a conflict with another one in flight.
    Conflict,
    /// What the operation read changed before its transaction ran.
    Changed,
    /// DynamoDB throttled the request.
    Throttled,
    /// The request got no answer (timeout, broken connection): it may or may not have been
    /// applied; sending it again is safe, since every writer recognises its own earlier write.
    OutcomeUnknown,
    /// DynamoDB left keys of a batch read unprocessed.
    Unprocessed,
}

impl Retry {
    /// What the operation answers if it runs out of time while this is its reason to retry.
    fn give_up(self) -> StoreError {
        match self {
            Self::Conflict | Self::Changed => StoreError::Contention,
            Self::Throttled | Self::OutcomeUnknown | Self::Unprocessed => StoreError::Unavailable(
                format!("DynamoDB did not serve the request in time ({self:?})").into(),
            ),
        }
    }
}

/// One operation's deadline and backoff.
#[derive(Debug)]
pub struct Attempts {
    deadline: Instant,
    bound: Duration,
    max: Duration,
    retries: u32,
}

impl Attempts {
    pub fn start(policy: RetryPolicy) -> Self {
        Self {
            deadline: Instant::now() + policy.budget,
            bound: policy.first_delay.max(Duration::from_millis(1)),
            max: policy.max_delay,
            retries: 0,
        }
    }

    /// Waits before the next attempt (shortened to what is left before the deadline); gives up
    /// when too little is left to try again.
    pub async fn wait(&mut self, why: Retry) -> Result<(), StoreError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left <= MINIMUM_ATTEMPT {
            tracing::warn!(
                retries = self.retries,
                ?why,
                "giving up at the operation's deadline"
            );
            return Err(why.give_up());
        }
        let delay = full_jitter(self.bound).min(left - MINIMUM_ATTEMPT);
        self.retries += 1;
        tracing::debug!(
            retry = self.retries,
            ?why,
            delay_ms = delay.as_millis() as u64,
            "retrying"
        );
        tokio::time::sleep(delay).await;
        self.bound = (self.bound * 2).min(self.max);
        Ok(())
    }

    /// Runs one request, cut off at the deadline.
    pub async fn bounded<F: std::future::Future>(
        &self,
        request: F,
    ) -> Result<F::Output, StoreError> {
        tokio::time::timeout_at(self.deadline, request)
            .await
            .map_err(|_| {
                StoreError::Unavailable(
                    "no answer from DynamoDB before the operation's deadline".into(),
                )
            })
    }
}

/// Less than this left, and another attempt is not worth starting.
const MINIMUM_ATTEMPT: Duration = Duration::from_millis(50);

/// A uniformly random duration in `0..=bound`.
fn full_jitter(bound: Duration) -> Duration {
    let mut bytes = [0u8; 4];
    // Without randomness the wait is the full bound: still correct, only less spread out.
    if getrandom::fill(&mut bytes).is_err() {
        return bound;
    }
    bound.mul_f64(f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX))
}

/// Runs `transaction` until it commits or a condition fails, within the operation's deadline:
/// a cancellation for a conflict or for throttling, and a request whose outcome is unknown, are
/// tried again after a backoff. A cancellation for a failed condition goes back to the caller.
pub async fn run(
    client: &Client,
    transaction: &Transaction,
    attempts: &mut Attempts,
) -> Result<Outcome, StoreError> {
    loop {
        let sent = client
            .transact_write_items()
            .set_transact_items(Some(transaction.items.clone()))
            .send();
        let err = match attempts.bounded(sent).await? {
            Ok(_) => return Ok(Outcome::Committed),
            Err(err) => err,
        };
        let retry = match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                let cancellation = Cancellation {
                    reasons: cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|reason| reason.code().map(str::to_owned))
                        .collect(),
                };
                match cancellation.retry() {
                    Some(retry) => retry,
                    None => return Ok(Outcome::Cancelled(cancellation)),
                }
            }
            _ if outcome_unknown(&err) => Retry::OutcomeUnknown,
            _ => return Err(sdk_error(err)),
        };
        attempts.wait(retry).await?;
    }
}

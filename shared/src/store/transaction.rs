//! Transactions with named slots, run until they commit or a condition fails.
//!
//! A cancelled `TransactWriteItems` reports one reason per item, in request order. Writers ask
//! "did *this* item's condition fail?" through the [`Slot`] that adding the item returned, so that
//! reordering or adding items can never make a writer read another item's reason.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;

use super::failure::{build_error, outcome_unknown, sdk_error};
use super::retry::{Attempts, Retry};
use crate::domain::limits::MAX_TRANSACTION_ITEMS;
use crate::domain::Failure;

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
    ) -> Result<Slot, Failure> {
        let put: Put = put.build().map_err(build_error)?;
        Ok(self.push(TransactWriteItem::builder().put(put).build()))
    }

    pub fn update(
        &mut self,
        update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
    ) -> Result<Slot, Failure> {
        let update: Update = update.build().map_err(build_error)?;
        Ok(self.push(TransactWriteItem::builder().update(update).build()))
    }

    pub fn delete(
        &mut self,
        delete: aws_sdk_dynamodb::types::builders::DeleteBuilder,
    ) -> Result<Slot, Failure> {
        let delete: Delete = delete.build().map_err(build_error)?;
        Ok(self.push(TransactWriteItem::builder().delete(delete).build()))
    }

    pub fn condition_check(
        &mut self,
        check: aws_sdk_dynamodb::types::builders::ConditionCheckBuilder,
    ) -> Result<Slot, Failure> {
        let check: ConditionCheck = check.build().map_err(build_error)?;
        Ok(self.push(TransactWriteItem::builder().condition_check(check).build()))
    }

    fn push(&mut self, item: TransactWriteItem) -> Slot {
        debug_assert!(self.items.len() < MAX_TRANSACTION_ITEMS);
        self.items.push(item);
        Slot(self.items.len() - 1)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items, in slot order.
    #[cfg(feature = "test-util")]
    pub(crate) fn items(&self) -> &[TransactWriteItem] {
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
    pub fn unexpected(&self) -> Failure {
        Failure::Backend(format!("transaction cancelled unexpectedly: {:?}", self.reasons).into())
    }
}

pub enum Outcome {
    Committed,
    /// A condition failed (never a conflict: those are retried until the deadline).
    Cancelled(Cancellation),
}

/// Runs `transaction` until it commits or a condition fails, within the operation's deadline:
/// a cancellation for a conflict or for throttling, and a request whose outcome is unknown, are
/// tried again after a backoff. A cancellation for a failed condition goes back to the caller.
pub async fn run(
    client: &Client,
    transaction: &Transaction,
    attempts: &mut Attempts,
) -> Result<Outcome, Failure> {
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

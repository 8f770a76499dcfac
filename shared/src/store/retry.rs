//! How an operation waits between attempts when concurrent writers get in its way (DynamoDB
//! cancelled its transaction with `TransactionConflict`, or what it read changed before it
//! wrote), DynamoDB throttles it, or a request gets no answer. Waits grow exponentially up to a
//! cap, each drawn at random up to the current bound ("full jitter", from the AWS Architecture
//! Blog's "Exponential Backoff And Jitter"), so that writers contending for one item spread out.
//!
//! The request's [`Deadline`] bounds it all: every request is cut off at it, and no attempt starts
//! too close to it. Running out of time is 503: [`Failure::Contention`] or
//! [`Failure::Unavailable`].

use std::time::Duration;

use crate::domain::{Deadline, Failure};

const FIRST_DELAY: Duration = Duration::from_millis(10);
const MAX_DELAY: Duration = Duration::from_millis(500);
/// Less than this left, and another attempt is not worth starting.
const MINIMUM_ATTEMPT: Duration = Duration::from_millis(50);

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
    fn give_up(self) -> Failure {
        match self {
            Self::Conflict | Self::Changed => Failure::Contention,
            Self::Throttled | Self::OutcomeUnknown | Self::Unprocessed => Failure::Unavailable(
                format!("DynamoDB did not serve the request in time ({self:?})").into(),
            ),
        }
    }
}

/// One operation's deadline and backoff.
#[derive(Debug)]
pub struct Attempts {
    deadline: Deadline,
    bound: Duration,
    retries: u32,
}

impl Attempts {
    pub fn until(deadline: Deadline) -> Self {
        Self {
            deadline,
            bound: FIRST_DELAY,
            retries: 0,
        }
    }

    /// Waits before the next attempt (shortened to what is left before the deadline); gives up
    /// when too little is left to try again.
    pub async fn wait(&mut self, why: Retry) -> Result<(), Failure> {
        let left = self.deadline.remaining();
        if left <= MINIMUM_ATTEMPT {
            tracing::warn!(
                retries = self.retries,
                ?why,
                "giving up at the request's deadline"
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
        self.bound = (self.bound * 2).min(MAX_DELAY);
        Ok(())
    }

    /// Runs one request, cut off at the deadline.
    pub async fn bounded<F: std::future::Future>(&self, request: F) -> Result<F::Output, Failure> {
        self.deadline.run(request).await.map_err(|_| {
            Failure::Unavailable("no answer from DynamoDB before the request's deadline".into())
        })
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

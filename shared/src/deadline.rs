//! When a handler must have answered. Lambda stops an invocation at its timeout, and the caller
//! then gets API Gateway's bare 5xx with the outcome of its request unknown. A handler therefore
//! stops its own work [`ANSWER_MARGIN`] before Lambda's deadline and answers 503
//! `temporarily_unavailable` (problem+json, `Retry-After`) itself; see `http::respond`.
//!
//! The store can bound its own retries by the same value (`Deadline::remaining`).

use std::future::Future;
use std::time::{Duration, SystemTime};

use lambda_http::{Context, Request, RequestExt};
use tokio::time::Instant;

use crate::aws::Budget;

/// Kept back from Lambda's deadline to log and send the 503: generous, because a 128 MB
/// function has a small share of a CPU.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(Instant);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the work did not finish before the handler's deadline")]
pub struct DeadlineExceeded;

impl Deadline {
    pub fn at(instant: Instant) -> Self {
        Self(instant)
    }

    /// For one invocation: Lambda's deadline minus [`ANSWER_MARGIN`]. Without a Lambda deadline
    /// (the local gateway, tests) it is `timeout` from now, as Lambda would set it.
    pub fn for_invocation(context: Option<&Context>, timeout: Duration) -> Self {
        let left = match context.filter(|context| context.deadline > 0) {
            Some(context) => context
                .deadline()
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO),
            None => timeout,
        };
        Self(Instant::now() + left.saturating_sub(ANSWER_MARGIN))
    }

    /// The deadline of a management function's request.
    pub fn for_request(request: &Request) -> Self {
        Self::for_invocation(
            request.lambda_context_ref(),
            Budget::MANAGEMENT.function_timeout,
        )
    }

    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    pub fn has_passed(&self) -> bool {
        self.remaining().is_zero()
    }

    /// Runs `work` until it finishes or the deadline passes; in the second case `work` is dropped
    /// where it stands. A DynamoDB transaction in flight then either happened or did not: it is
    /// never half-applied.
    pub async fn run<F: Future>(self, work: F) -> Result<F::Output, DeadlineExceeded> {
        tokio::time::timeout_at(self.0, work)
            .await
            .map_err(|_| DeadlineExceeded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context_with_deadline_in(left: Duration) -> Context {
        let mut context = Context::default();
        context.deadline = (SystemTime::now() + left)
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        context
    }

    #[tokio::test]
    async fn the_deadline_is_lambdas_minus_the_margin() {
        let deadline = Deadline::for_invocation(
            Some(&context_with_deadline_in(Duration::from_secs(10))),
            Duration::from_secs(99),
        );
        let left = deadline.remaining();
        assert!(left <= Duration::from_secs(9), "{left:?}");
        assert!(left > Duration::from_millis(8_500), "{left:?}");
    }

    #[tokio::test]
    async fn without_a_lambda_deadline_the_function_timeout_applies() {
        for context in [None, Some(&Context::default())] {
            let left = Deadline::for_invocation(context, Duration::from_secs(12)).remaining();
            assert!(left <= Duration::from_secs(11), "{left:?}");
            assert!(left > Duration::from_millis(10_500), "{left:?}");
        }
    }

    #[tokio::test]
    async fn work_past_the_deadline_is_stopped() {
        let near = Deadline::for_invocation(
            Some(&context_with_deadline_in(
                ANSWER_MARGIN + Duration::from_millis(50),
            )),
            Duration::from_secs(12),
        );
        let started = Instant::now();
        let result = near.run(std::future::pending::<()>()).await;
        assert_eq!(result, Err(DeadlineExceeded));
        assert!(started.elapsed() < Duration::from_millis(500));
        assert!(near.has_passed());
        let far = Deadline::for_invocation(None, Duration::from_secs(12));
        assert_eq!(far.run(async { 7 }).await, Ok(7));
    }
}

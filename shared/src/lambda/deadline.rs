//! Each invocation's deadline. Lambda stops an invocation at its timeout, and the caller then gets
//! API Gateway's bare 5xx with the outcome of its request unknown. So a request's work, its store
//! retries included, must finish [`ANSWER_MARGIN`] before Lambda's deadline, and a handler that
//! runs out of time answers 503 `temporarily_unavailable` itself (`http::respond`).

use std::time::{Duration, SystemTime};

use lambda_http::Context;

use crate::domain::Deadline;

/// Kept back from Lambda's deadline to log and send the 503: generous, because a 128 MB function
/// has a small share of a CPU.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(1);

/// Lambda's deadline minus [`ANSWER_MARGIN`]. Without a Lambda deadline (the local gateway,
/// tests) it is `timeout` from now, as Lambda would set it.
pub fn for_invocation(context: Option<&Context>, timeout: Duration) -> Deadline {
    let left = match context.filter(|context| context.deadline > 0) {
        Some(context) => context
            .deadline()
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
        None => timeout,
    };
    Deadline::after(left.saturating_sub(ANSWER_MARGIN))
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
        let deadline = for_invocation(
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
            let left = for_invocation(context, Duration::from_secs(12)).remaining();
            assert!(left <= Duration::from_secs(11), "{left:?}");
            assert!(left > Duration::from_millis(10_500), "{left:?}");
        }
    }
}

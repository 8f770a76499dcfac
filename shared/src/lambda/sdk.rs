//! AWS SDK set-up shared by every function: how long one request to AWS may take.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// How long one request to AWS may take (the SDK's timeouts and retries), and the function's
/// Lambda timeout, from which each invocation's deadline is taken (`lambda::deadline`). The
/// authorizer runs on the payment path and must fail closed quickly: a dead endpoint costs it at
/// most about two seconds.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub connect: Duration,
    pub attempt: Duration,
    /// One SDK operation, all its attempts and back-off included.
    pub operation: Duration,
    pub max_attempts: u32,
    /// The function's `Timeout` in `infra/template.yaml` (a test checks they are equal): longer
    /// than one whole SDK operation, so that a slow-but-successful call still answers. A request
    /// may make several in sequence; it stops at its deadline, a margin before this, and answers
    /// 503 itself.
    pub function_timeout: Duration,
}

impl Budget {
    pub const AUTHORIZER: Self = Self {
        connect: Duration::from_millis(300),
        attempt: Duration::from_millis(800),
        operation: Duration::from_millis(1800),
        max_attempts: 2,
        function_timeout: Duration::from_secs(3),
    };
    pub const MANAGEMENT: Self = Self {
        connect: Duration::from_secs(1),
        attempt: Duration::from_secs(3),
        operation: Duration::from_secs(8),
        max_attempts: 3,
        function_timeout: Duration::from_secs(12),
    };
}

/// Loads region, credentials and endpoint overrides (`AWS_ENDPOINT_URL`,
/// `AWS_ENDPOINT_URL_DYNAMODB`, …) the way every AWS SDK does, with `budget` applied.
pub async fn sdk_config(budget: Budget) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(budget.connect)
                .operation_attempt_timeout(budget.attempt)
                .operation_timeout(budget.operation)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(budget.max_attempts))
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::deadline::ANSWER_MARGIN;

    #[test]
    fn a_whole_sdk_operation_and_the_answer_margin_fit_in_the_function_timeout() {
        for budget in [Budget::AUTHORIZER, Budget::MANAGEMENT] {
            assert!(budget.attempt <= budget.operation, "{budget:?}");
            assert!(
                budget.operation + ANSWER_MARGIN < budget.function_timeout,
                "{budget:?}"
            );
        }
    }
}

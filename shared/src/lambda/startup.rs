//! Start-up, and the errors a function reports to Lambda itself (an invocation error, or a failed
//! start), each with a stable `errorType` ("DynamoDbRequestFailed", "PepperUnreadable", …), so that alarms, log
//! queries and the Lambda console can tell one failure from another. Left to itself,
//! lambda_runtime names the Rust type of the error instead
//! (`&alloc::boxed::Box<dyn core::error::Error + Send + Sync>`).

use std::time::Duration;

use lambda_http::lambda_runtime::Diagnostic;

use super::config::ConfigError;
use crate::domain::error::{ErrorChain, Failure};
use crate::pepper::PepperError;

/// A function's error as Lambda sees it: a stable type and a message. The message may name a
/// secret's id or a table, never a secret's value (no error here carries one).
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct FunctionError {
    pub error_type: &'static str,
    pub message: String,
}

/// `main` returns start-up failures, and Rust prints those with `Debug`: make that the message.
impl std::fmt::Debug for FunctionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl From<FunctionError> for Diagnostic {
    fn from(failure: FunctionError) -> Self {
        Diagnostic {
            error_type: failure.error_type.to_owned(),
            error_message: failure.message,
        }
    }
}

impl From<Failure> for FunctionError {
    fn from(err: Failure) -> Self {
        let error_type = match &err {
            Failure::Backend(_) => "DynamoDbRequestFailed",
            Failure::Unavailable(_) => "DynamoDbUnavailable",
            Failure::CorruptItem(_) => "StoredItemMalformed",
            Failure::Contention => "TransactionContention",
            Failure::DeadlineExceeded => "DeadlineExceeded",
            Failure::SigningKeysUnavailable => "SigningKeysUnavailable",
        };
        Self {
            error_type,
            message: ErrorChain(&err).to_string(),
        }
    }
}

impl From<ConfigError> for FunctionError {
    fn from(err: ConfigError) -> Self {
        let error_type = match &err {
            ConfigError::Missing { .. } => "ConfigurationMissing",
            ConfigError::Invalid { .. } => "ConfigurationInvalid",
        };
        Self {
            error_type,
            message: err.to_string(),
        }
    }
}

impl From<PepperError> for FunctionError {
    fn from(err: PepperError) -> Self {
        let error_type = match &err {
            PepperError::Unreadable { .. } => "PepperUnreadable",
            PepperError::TooShort { .. } => "PepperTooShort",
        };
        Self {
            error_type,
            message: err.to_string(),
        }
    }
}

/// A function's start-up step: on failure, reports it to the Lambda Runtime API
/// (`/runtime/init/error`, the `errorType` in `Lambda-Runtime-Function-Error-Type`) and logs it,
/// then returns it for `main` to exit with. Outside Lambda (no `AWS_LAMBDA_RUNTIME_API`) it is
/// only logged and returned.
pub async fn at_start<T, E: Into<FunctionError>>(result: Result<T, E>) -> Result<T, FunctionError> {
    let failure = match result {
        Ok(value) => return Ok(value),
        Err(err) => err.into(),
    };
    tracing::error!(error_type = failure.error_type, error = %failure.message, "start-up failed");
    if let Ok(endpoint) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
        report_init_error(&endpoint, &failure).await;
    }
    Err(failure)
}

async fn report_init_error(endpoint: &str, failure: &FunctionError) {
    use lambda_runtime_api_client::{body::Body, build_request, PooledClient};
    let Ok(uri) = endpoint.parse() else {
        return;
    };
    let client = PooledClient::builder().with_endpoint(uri).build();
    let body = serde_json::to_vec(&Diagnostic::from(failure.clone())).expect("serializes");
    let Ok(request) = build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", failure.error_type)
        .body(Body::from(body))
    else {
        return;
    };
    // Lambda is waiting for this start; a Runtime API that does not answer must not hold it.
    match tokio::time::timeout(Duration::from_secs(2), client.call(request)).await {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "could not report the start-up failure to Lambda")
        }
        Err(_) => {
            tracing::warn!("the Lambda Runtime API did not take the start-up failure in time")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_a_stable_type_in_the_lambda_error_payload() {
        let cases: Vec<(FunctionError, &str)> = vec![
            (
                Failure::Backend("AccessDeniedException".into()).into(),
                "DynamoDbRequestFailed",
            ),
            (
                Failure::Unavailable("timeout".into()).into(),
                "DynamoDbUnavailable",
            ),
            (
                Failure::CorruptItem("x".into()).into(),
                "StoredItemMalformed",
            ),
            (
                ConfigError::Missing { name: "TABLE_NAME" }.into(),
                "ConfigurationMissing",
            ),
            (
                PepperError::Unreadable {
                    secret_id: "s".into(),
                    reason: "AccessDenied".into(),
                }
                .into(),
                "PepperUnreadable",
            ),
            (
                PepperError::TooShort {
                    secret_id: "s".into(),
                }
                .into(),
                "PepperTooShort",
            ),
        ];
        for (failure, error_type) in cases {
            let payload = serde_json::to_value(Diagnostic::from(failure)).unwrap();
            assert_eq!(payload["errorType"], error_type);
            assert!(payload["errorMessage"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
        }
    }

    #[tokio::test]
    async fn outside_lambda_a_failed_start_is_returned_as_is() {
        let failed: Result<(), FunctionError> =
            at_start(Err::<(), _>(ConfigError::Missing { name: "TABLE_NAME" })).await;
        assert_eq!(failed.unwrap_err().error_type, "ConfigurationMissing");
        assert_eq!(at_start(Ok::<_, ConfigError>(3)).await, Ok(3));
    }
}

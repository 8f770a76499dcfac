//! What a failed SDK call means for the caller. The SDK has already retried what it retries
//! (throttling, 5xx, timeouts) up to its budget; what still fails is either a passing condition
//! of the service ([`Failure::Unavailable`]: 503 with `Retry-After`) or a fault
//! ([`Failure::Backend`]: 500). Either way the SDK error is kept as the source, for the log.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::domain::Failure;

/// Error codes DynamoDB answers when it is overloaded or briefly unable to serve, from the
/// "Error handling with DynamoDB" page of the developer guide (5xx, and the throttling 400s).
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

pub fn sdk_error<E>(err: SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if is_transient(&err) {
        Failure::Unavailable(Box::new(err))
    } else {
        Failure::Backend(Box::new(err))
    }
}

fn is_transient<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        // No answer in time, or no connection: the service (or the way to it) is unavailable.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(service) => {
            let code = service.err().code();
            code.is_some_and(|code| TRANSIENT_CODES.contains(&code))
                || service.raw().status().is_server_error()
        }
        _ => false,
    }
}

/// A request that could not even be built (a required field missing): a bug, reported as 500.
pub fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> Failure {
    Failure::Backend(Box::new(err))
}

/// A request that got no answer: it may have been applied. Only a writer that recognises its own
/// earlier write may send it again.
pub fn outcome_unknown<E>(err: &SdkError<E, HttpResponse>) -> bool {
    matches!(
        err,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)
    )
}

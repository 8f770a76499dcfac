//! Typed errors. The store speaks in [`StoreError`]; the HTTP edge turns every error into one
//! problem+json response in exactly one place (`http::ApiError::into_response`).

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("an application with that name already exists")]
    NameTaken,
    #[error("the merchant already has the maximum of {max} applications")]
    ApplicationLimitReached { max: u32 },
    #[error("the application already has the maximum of {max} active keys")]
    KeyLimitReached { max: u32 },
    #[error("the key is already revoked")]
    KeyAlreadyRevoked,
    #[error("the key has expired")]
    KeyExpired,
    #[error("the key has already been rolled")]
    KeyAlreadyRolled,
    /// Rolled keys still in their grace window verify too, and disabling an application
    /// rewrites every key that verifies in one transaction: their number is bounded.
    #[error("the application already has the maximum of {max} rolled keys in their grace window")]
    TooManyRolledKeys { max: usize },
    /// A key that expired less than the clock skew margin ago still verifies somewhere as far as
    /// disabling is concerned, so it holds a place among the rolled keys for that minute: a new
    /// key may wait until then (which only a burst of short-lived keys reaches).
    #[error("the application's rolled keys and keys expired within the last minute are at their maximum of {max}")]
    TooManyKeysWindingDown { max: usize },
    /// An `Idempotency-Key` already used, within 24 hours, for another request.
    #[error("the idempotency key was used for another request")]
    IdempotencyKeyReused,
    #[error("application not found")]
    ApplicationNotFound,
    #[error("key not found")]
    KeyNotFound,
    /// Concurrent writers kept getting in the way (real DynamoDB's `TransactionConflict`, or
    /// what was read changing before the write) until the operation's retry deadline.
    #[error("the write kept conflicting with concurrent writes")]
    Contention,
    /// DynamoDB throttled or could not serve the request, even after the SDK's retries.
    #[error("DynamoDB is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("DynamoDB request failed")]
    Backend(#[source] BoxError),
    #[error("stored item is malformed: {0}")]
    CorruptItem(String),
}

/// An error and every source under it, on one line: what a log line needs to tell a throttled
/// request from a missing table. (Never shown to a caller.)
pub struct ErrorChain<'a>(pub &'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

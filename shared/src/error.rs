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
    #[error("application not found")]
    ApplicationNotFound,
    #[error("key not found")]
    KeyNotFound,
    /// Real DynamoDB cancels transactions that contend for an item (`TransactionConflict`);
    /// after a bounded number of retries we give up cleanly instead of spinning.
    #[error("the write kept conflicting with concurrent writes")]
    Contention,
    #[error("DynamoDB request failed: {0}")]
    Backend(#[source] BoxError),
    #[error("stored item is malformed: {0}")]
    CorruptItem(String),
}

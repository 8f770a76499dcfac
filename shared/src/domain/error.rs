//! How a request can end other than as asked, split by who is at fault:
//! - a [`Refusal`]: the request meets a rule (a bad field, a name taken, a limit reached, a key
//!   already revoked). A 4xx. Under an `Idempotency-Key`, the refusal a write meets is kept and
//!   answered again, like a success.
//! - a [`Failure`]: something the service depends on could not answer (DynamoDB throttled, the
//!   deadline passed, a stored item does not decode). A 5xx, never kept: a retry runs again.
//!
//! `http::error` is the one place either becomes a response.

use serde::Serialize;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One problem with one field of a request, as `errors[]` of a 400 shows it.
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

/// The request meets a rule of the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("the token does not identify a merchant")]
    Unauthorized,
    #[error("{0:?} not found")]
    NotFound(Missing),
    #[error("payload too large")]
    PayloadTooLarge { max: usize },
    /// A leaked-key report whose signature is missing, malformed, unknown or wrong.
    #[error("report signature refused: {0}")]
    BadSignature(SignatureProblem),
    #[error("an application with that name already exists")]
    NameTaken,
    #[error("the merchant already has the maximum of {max} applications")]
    ApplicationLimitReached { max: u32 },
    #[error("key limit reached: {0:?}")]
    KeyLimitReached(KeyLimit),
    #[error("the key is already revoked")]
    KeyAlreadyRevoked,
    #[error("the key has expired")]
    KeyExpired,
    #[error("the key has already been rolled")]
    KeyAlreadyRolled,
    /// An `Idempotency-Key` already used, within 24 hours, for another request or by another
    /// caller.
    #[error("the idempotency key was used for another request")]
    IdempotencyKeyReused,
}

impl Refusal {
    /// A 400 naming one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// Whether the refusal stands until something changes (kept under an `Idempotency-Key`),
    /// rather than passing by itself within a minute (never kept: a retry must run again).
    pub fn lasts(&self) -> bool {
        !matches!(self, Self::KeyLimitReached(KeyLimit::WindingDown { .. }))
    }
}

/// What a 404 did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Application,
    Key,
    /// A console path that serves nothing (or the console is not configured).
    Page,
}

/// Which bound on an application's keys a new key would pass. All three are `key_limit_reached`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLimit {
    /// `MAX_KEYS_PER_APPLICATION` active keys.
    Active { max: u32 },
    /// Rolled keys in their grace window still verify, and disabling rewrites every key that
    /// verifies in one transaction: their number is bounded.
    Rolled { max: usize },
    /// Keys that expired less than the clock skew margin ago hold a place among the rolled keys
    /// for that minute, so a new key may have to wait until then.
    WindingDown { max: usize },
}

/// Why a leaked-key report's signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    #[error("a signature header is missing")]
    Missing,
    #[error("the signature is not base64")]
    Malformed,
    #[error("no current key has that identifier")]
    UnknownKey,
    /// An identifier this instance does not know, while its keys were fetched too recently to
    /// fetch them again (it may be a key GitHub has just published: the answer says when).
    #[error("the identifier is not known yet; the keys are fetched again in {retry_after_secs} s")]
    NotYetKnown { retry_after_secs: u64 },
    #[error("the signature does not verify")]
    Mismatch,
    /// The edge protection is on, and the report did not come through it.
    #[error("the report did not come through the edge")]
    NotThroughEdge,
}

/// Something the service depends on could not answer. The inner error goes to the log, never to
/// the caller.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Concurrent writers kept getting in the way until the request's deadline.
    #[error("the write kept conflicting with concurrent writes")]
    Contention,
    /// DynamoDB throttled or could not serve the request in time.
    #[error("DynamoDB is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("DynamoDB request failed")]
    Backend(#[source] BoxError),
    #[error("stored item is malformed: {0}")]
    CorruptItem(String),
    /// The request's deadline passed before its work finished.
    #[error("the request did not finish before its deadline")]
    DeadlineExceeded,
    /// GitHub's signing keys could not be fetched, and none is cached (or trusted any longer).
    #[error("the secret-scanning signing keys could not be fetched")]
    SigningKeysUnavailable,
}

impl Failure {
    pub fn corrupt(what: impl Into<String>) -> Self {
        Self::CorruptItem(what.into())
    }
}

/// Either outcome; `?` turns both into it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// An error and every source under it, on one line: what a log line needs to tell a throttled
/// request from a missing table. Never shown to a caller.
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

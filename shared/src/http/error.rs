//! The one place where errors become `application/problem+json` responses: every error a
//! handler can meet, its status, stable code, title and detail, and the headers that go with it.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

use super::json_response;
use crate::error::{ErrorChain, FieldError, StoreError};
use crate::secret_scanning::SignatureError;

/// What a function's 401 answers in `WWW-Authenticate`: the scheme, exactly as the contract
/// writes it. (RFC 6750 §3 would add `error="invalid_token"`; the problem body says why.)
pub const WWW_AUTHENTICATE_BEARER: &str = "Bearer";
/// The leaked-key report route authenticates its caller by a signature over the body.
pub const WWW_AUTHENTICATE_SIGNATURE: &str = "Signature realm=\"github-secret-scanning\"";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("unauthorized")]
    Unauthorized,
    #[error("{0:?} not found")]
    NotFound(Missing),
    #[error("payload too large")]
    PayloadTooLarge { max: usize },
    /// A leaked-key report whose signature is missing, malformed, unknown or wrong.
    #[error("report signature refused: {0}")]
    BadSignature(SignatureError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The handler's own deadline passed (`deadline::Deadline`): answered before Lambda's timeout.
    #[error("the request did not finish before the handler's deadline")]
    DeadlineExceeded,
    /// A response value that JSON cannot express (a map with non-string keys): a bug.
    #[error("the response could not be serialized")]
    Unserializable,
}

/// What a 404 did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Application,
    Key,
}

impl ApiError {
    pub(super) fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
}

impl ApiError {
    /// Status, stable code, title and detail for every error. 5xx details are fixed strings:
    /// what went wrong inside goes to the log, never to the caller.
    fn describe(&self) -> (StatusCode, &'static str, &'static str, String) {
        use StoreError as S;
        match self {
            Self::Validation(_) => (
                StatusCode::BAD_REQUEST,
                "validation_failed",
                "Validation failed",
                "The request is invalid; see `errors` for each problem.".into(),
            ),
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                "The token does not identify a merchant.".into(),
            ),
            Self::NotFound(what) => not_found(*what),
            Self::PayloadTooLarge { max } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
                format!("The request body must be at most {max} bytes."),
            ),
            Self::BadSignature(SignatureError::KeysUnavailable) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "Temporarily unavailable",
                "The signing keys could not be fetched to check the report; nothing was revoked; retry it.".into(),
            ),
            // The contract: an unknown identifier is 401, even while the keys may not be fetched
            // again yet (a 5xx would let anyone page the operators); the detail says when a
            // report signed with a key GitHub has just rotated in can pass.
            Self::BadSignature(SignatureError::NotYetKnown { retry_after_secs }) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                format!("The report is signed with a key identifier this instance does not know, and its signing keys were fetched less than a minute ago (they are fetched again at most once a minute, in {retry_after_secs} s); nothing was revoked."),
            ),
            // The contract's stable code for every 401; the detail says what was wrong with the
            // signature, and the challenge names the scheme (not Bearer: this route takes none).
            Self::BadSignature(why) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                format!("The report was not accepted ({why}): it must be signed with a current secret-scanning key; nothing was revoked."),
            ),
            Self::Store(S::NameTaken) => (
                StatusCode::CONFLICT,
                "name_taken",
                "Name taken",
                "An application with that name already exists for your merchant account.".into(),
            ),
            Self::Store(S::ApplicationLimitReached { max }) => (
                StatusCode::BAD_REQUEST,
                "application_limit_reached",
                "Application limit reached",
                format!("Maximum number of applications for this merchant account has been reached ({max})."),
            ),
            Self::Store(S::KeyLimitReached { max }) => (
                StatusCode::BAD_REQUEST,
                "key_limit_reached",
                "Key limit reached",
                format!("Maximum number of API keys for this application has been reached ({max} active keys)."),
            ),
            Self::Store(S::KeyAlreadyRevoked) => (
                StatusCode::BAD_REQUEST,
                "key_already_revoked",
                "Key already revoked",
                "Key is already revoked.".into(),
            ),
            Self::Store(S::KeyAlreadyRolled) => (
                StatusCode::BAD_REQUEST,
                "key_already_rolled",
                "Key already rolled",
                "Key has already been rolled; roll its replacement instead.".into(),
            ),
            Self::Store(S::TooManyRolledKeys { max }) => (
                StatusCode::BAD_REQUEST,
                "key_limit_reached",
                "Key limit reached",
                format!("Maximum number of rolled API keys in their grace window has been reached ({max}); revoke some, or roll with expiresInSeconds 0."),
            ),
            Self::Store(S::TooManyKeysWindingDown { max }) => (
                StatusCode::BAD_REQUEST,
                "key_limit_reached",
                "Key limit reached",
                format!("This application's rolled keys in their grace window and keys that expired within the last minute are at their maximum ({max}); retry in a minute, or revoke rolled keys."),
            ),
            Self::Store(S::IdempotencyKeyReused) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency key reused",
                "This Idempotency-Key was used in the last 24 hours for a different request; use a new key for a new request.".into(),
            ),
            Self::Store(S::KeyExpired) => (
                StatusCode::BAD_REQUEST,
                "key_expired",
                "Key expired",
                "Key has expired.".into(),
            ),
            Self::Store(S::ApplicationNotFound) => not_found(Missing::Application),
            Self::Store(S::KeyNotFound) => not_found(Missing::Key),
            Self::Store(S::Contention) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "Temporarily unavailable",
                "The request conflicted with concurrent changes; retry it.".into(),
            ),
            Self::Store(S::Unavailable(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "Temporarily unavailable",
                "The service is briefly unable to handle the request; retry it.".into(),
            ),
            Self::DeadlineExceeded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "Temporarily unavailable",
                "The request could not be completed in time; retry it.".into(),
            ),
            Self::Store(S::Backend(_) | S::CorruptItem(_)) | Self::Unserializable => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "Something went wrong on our side.".into(),
            ),
        }
    }

    /// The single mapping from an error to what the caller sees.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let (status, code, title, detail) = self.describe();
        if status.is_server_error() {
            tracing::error!(request_id, error = %ErrorChain(&self), "request failed");
        } else {
            tracing::info!(
                request_id,
                code,
                status = status.as_u16(),
                "request rejected"
            );
        }
        let errors = match &self {
            Self::Validation(errors) => Some(errors.as_slice()),
            _ => None,
        };
        let problem = Problem {
            kind: format!("/errors/{code}"),
            title,
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut response = json_response(status, &problem);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            // RFC 9110 §15.5.2: a 401 names the scheme to authenticate with; RFC 6750 §3 adds why.
            let challenge = match self {
                Self::BadSignature(_) => WWW_AUTHENTICATE_SIGNATURE,
                _ => WWW_AUTHENTICATE_BEARER,
            };
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

fn not_found(what: Missing) -> (StatusCode, &'static str, &'static str, String) {
    let detail = match what {
        Missing::Key => "Key not found.",
        Missing::Application => "Application not found.",
    };
    (
        StatusCode::NOT_FOUND,
        "not_found",
        "Not found",
        detail.into(),
    )
}

//! The one place where an [`Error`] becomes what the caller sees: an `application/problem+json`
//! response (RFC 9457) with its status, stable code, title and detail, and the headers that go
//! with it. A refusal's detail says what to change; a failure's is a fixed sentence (what went
//! wrong inside goes to the log with the request id, never to the caller).

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

use super::response::json;
use crate::domain::error::{ErrorChain, KeyLimit, Missing, SignatureProblem};
use crate::domain::{Error, Failure, FieldError, Refusal};

/// What a function's 401 answers in `WWW-Authenticate`: the scheme, exactly as the contract
/// writes it. (RFC 6750 §3 would add `error="invalid_token"`; the problem body says why.)
pub const WWW_AUTHENTICATE_BEARER: &str = "Bearer";
/// The leaked-key report route authenticates its caller by a signature over the body.
pub const WWW_AUTHENTICATE_SIGNATURE: &str = "Signature realm=\"github-secret-scanning\"";

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

struct Described {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
}

fn described(
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: impl Into<String>,
) -> Described {
    Described {
        status,
        code,
        title,
        detail: detail.into(),
    }
}

fn refusal(refusal: &Refusal) -> Described {
    use StatusCode as S;
    let limit = "key_limit_reached";
    match refusal {
        Refusal::Validation(_) => described(
            S::BAD_REQUEST,
            "validation_failed",
            "Validation failed",
            "The request is invalid; see `errors` for each problem.",
        ),
        Refusal::Unauthorized => described(
            S::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            "The token does not identify a merchant.",
        ),
        Refusal::NotFound(Missing::Application) => {
            described(S::NOT_FOUND, "not_found", "Not found", "Application not found.")
        }
        Refusal::NotFound(Missing::Key) => {
            described(S::NOT_FOUND, "not_found", "Not found", "Key not found.")
        }
        Refusal::NotFound(Missing::Page) => {
            described(S::NOT_FOUND, "not_found", "Not found", "No such page.")
        }
        Refusal::PayloadTooLarge { max } => described(
            S::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Payload too large",
            format!("The request body must be at most {max} bytes."),
        ),
        // The contract: an unknown identifier is 401, even while the keys may not be fetched
        // again yet (a 5xx would let anyone page the operators); the detail says when a report
        // signed with a key GitHub has just rotated in can pass.
        Refusal::BadSignature(SignatureProblem::NotYetKnown { retry_after_secs }) => described(
            S::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            format!("The report is signed with a key identifier this instance does not know, and it asked for the signing keys less than a minute ago (they are fetched again at most once a minute, in {retry_after_secs} s); nothing was revoked."),
        ),
        Refusal::BadSignature(SignatureProblem::NotThroughEdge) => described(
            S::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            "The report did not come through this deployment's edge; send it to the address registered with GitHub. Nothing was revoked.",
        ),
        Refusal::BadSignature(why) => described(
            S::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            format!("The report was not accepted ({why}): it must be signed with a current secret-scanning key; nothing was revoked."),
        ),
        Refusal::NameTaken => described(
            S::CONFLICT,
            "name_taken",
            "Name taken",
            "An application with that name already exists for your merchant account.",
        ),
        Refusal::ApplicationLimitReached { max } => described(
            S::BAD_REQUEST,
            "application_limit_reached",
            "Application limit reached",
            format!("Maximum number of applications for this merchant account has been reached ({max})."),
        ),
        Refusal::KeyLimitReached(KeyLimit::Active { max }) => described(
            S::BAD_REQUEST,
            limit,
            "Key limit reached",
            format!("Maximum number of API keys for this application has been reached ({max} active keys)."),
        ),
        Refusal::KeyLimitReached(KeyLimit::Rolled { max }) => described(
            S::BAD_REQUEST,
            limit,
            "Key limit reached",
            format!("Maximum number of rolled API keys in their grace window has been reached ({max}); revoke some, or roll with expiresInSeconds 0."),
        ),
        Refusal::KeyLimitReached(KeyLimit::WindingDown { max }) => described(
            S::BAD_REQUEST,
            limit,
            "Key limit reached",
            format!("This application's rolled keys in their grace window and keys that expired within the last minute are at their maximum ({max}); retry in a minute, or revoke rolled keys."),
        ),
        Refusal::KeyAlreadyRevoked => described(
            S::BAD_REQUEST,
            "key_already_revoked",
            "Key already revoked",
            "Key is already revoked.",
        ),
        Refusal::KeyExpired => {
            described(S::BAD_REQUEST, "key_expired", "Key expired", "Key has expired.")
        }
        Refusal::KeyAlreadyRolled => described(
            S::BAD_REQUEST,
            "key_already_rolled",
            "Key already rolled",
            "Key has already been rolled; roll its replacement instead.",
        ),
        Refusal::IdempotencyKeyReused => described(
            S::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "Idempotency key reused",
            "This Idempotency-Key was used in the last 24 hours for a different request; use a new key for a new request.",
        ),
    }
}

fn failure(failure: &Failure) -> Described {
    let unavailable = |detail: &str| {
        described(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "Temporarily unavailable",
            detail,
        )
    };
    match failure {
        Failure::Contention => {
            unavailable("The request conflicted with concurrent changes; retry it.")
        }
        Failure::Unavailable(_) => {
            unavailable("The service is briefly unable to handle the request; retry it.")
        }
        Failure::DeadlineExceeded => {
            unavailable("The request could not be completed in time; retry it.")
        }
        Failure::SigningKeysUnavailable => unavailable(
            "The signing keys could not be fetched to check the report; nothing was revoked; retry it.",
        ),
        Failure::Backend(_) | Failure::CorruptItem(_) => described(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "Something went wrong on our side.",
        ),
    }
}

/// The response to `err`, logged: a 5xx with its whole error chain, a 4xx with its code.
pub fn response(err: &Error, request_id: &str) -> Response<Body> {
    let described = match err {
        Error::Refused(why) => refusal(why),
        Error::Failed(what) => failure(what),
    };
    let Described {
        status,
        code,
        title,
        detail,
    } = described;
    if status.is_server_error() {
        tracing::error!(request_id, error = %ErrorChain(err), "request failed");
    } else {
        tracing::info!(
            request_id,
            code,
            status = status.as_u16(),
            "request rejected"
        );
    }
    let errors = match err {
        Error::Refused(Refusal::Validation(errors)) => Some(errors.as_slice()),
        _ => None,
    };
    let problem = Problem {
        kind: format!("/errors/{code}"),
        title,
        status: status.as_u16(),
        detail,
        errors,
    };
    let mut response = json(status, &problem);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if status == StatusCode::UNAUTHORIZED {
        // RFC 9110 §15.5.2: a 401 names the scheme to authenticate with.
        let challenge = match err {
            Error::Refused(Refusal::BadSignature(_)) => WWW_AUTHENTICATE_SIGNATURE,
            _ => WWW_AUTHENTICATE_BEARER,
        };
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_401_names_the_bearer_scheme() {
        let response = super::response(&Refusal::Unauthorized.into(), "req-1");
        assert_eq!(response.status(), 401);
        let challenge = response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        assert_eq!(challenge, "Bearer");
        let signature = super::response(
            &Refusal::BadSignature(SignatureProblem::Mismatch).into(),
            "r",
        );
        assert_eq!(
            signature.headers()[header::WWW_AUTHENTICATE],
            WWW_AUTHENTICATE_SIGNATURE
        );
        for other in [
            Refusal::NotFound(Missing::Key),
            Refusal::PayloadTooLarge { max: 1 },
        ] {
            assert!(super::response(&other.into(), "r")
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .is_none());
        }
    }

    #[test]
    fn a_5xx_says_nothing_of_what_failed() {
        let response = super::response(
            &Failure::Backend("ResourceNotFoundException: table appkeys-prod".into()).into(),
            "r",
        );
        assert_eq!(response.status(), 500);
        let Body::Text(body) = response.body() else {
            panic!()
        };
        assert!(
            !body.contains("appkeys-prod") && !body.contains("ResourceNotFound"),
            "{body}"
        );
        let unavailable = super::response(&Failure::Contention.into(), "r");
        assert_eq!(unavailable.headers()[header::RETRY_AFTER], "1");
    }
}

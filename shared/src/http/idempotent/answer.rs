//! What a creating route answers, as it is sent, kept in an idempotency record (its full key
//! sealed, bound to the record's place and request), and replayed.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::Value;

use crate::domain::key_format::FullKey;
use crate::domain::{Error, Failure};
use crate::http::response;
use crate::pepper::Sealer;
use crate::store::items::idempotency_record::{Claim, StoredResponse};

pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A success as it is answered, and recorded for replays.
pub struct Answer<'a> {
    status: StatusCode,
    body: Value,
    location: Option<String>,
    /// The full key the body carries: `Cache-Control: no-store`, and kept only sealed.
    secret: Option<&'a FullKey>,
}

impl<'a> Answer<'a> {
    /// 201 with `body`.
    pub fn created<T: Serialize>(body: &T) -> Self {
        Self {
            status: StatusCode::CREATED,
            body: serde_json::to_value(body).expect("response types serialize"),
            location: None,
            secret: None,
        }
    }

    pub fn at(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }

    /// The body carries `full_key`.
    pub fn with_secret(mut self, full_key: &'a FullKey) -> Self {
        self.secret = Some(full_key);
        self
    }

    pub(super) fn into_response(self) -> Response<Body> {
        respond(
            self.status,
            &self.body,
            self.location.as_deref(),
            self.secret.is_some(),
            false,
        )
    }

    /// The record of this answer: the body without the full key, which goes sealed, bound to the
    /// record's place and request.
    pub(super) fn stored(
        &self,
        claim: &Claim,
        sealer: Option<&Sealer>,
    ) -> Result<StoredResponse, Failure> {
        let mut body = self.body.clone();
        let secret = match (self.secret, sealer) {
            (Some(full_key), Some(sealer)) => {
                if let Value::Object(members) = &mut body {
                    members.remove("fullKey");
                }
                Some(sealer.seal(&sealed_for(claim), full_key.expose_secret().as_bytes())?)
            }
            (Some(_), None) => return Err(Failure::Backend("a full key and no sealer".into())),
            (None, _) => None,
        };
        Ok(StoredResponse {
            status: self.status.as_u16(),
            body: body.to_string(),
            location: self.location.clone(),
            no_store: self.secret.is_some(),
            secret,
        })
    }
}

/// A refusal's problem response, as a record keeps it.
pub(super) fn stored_problem(refused: &Response<Body>) -> StoredResponse {
    StoredResponse {
        status: refused.status().as_u16(),
        body: match refused.body() {
            Body::Text(text) => text.clone(),
            _ => String::new(),
        },
        location: None,
        no_store: false,
        secret: None,
    }
}

/// The recorded response again, marked `Idempotent-Replayed: true`.
pub(super) fn replay(
    recorded: &StoredResponse,
    claim: &Claim,
    sealer: Option<&Sealer>,
) -> Result<Response<Body>, Error> {
    let corrupt = |what: &str| Failure::corrupt(format!("idempotency record: {what}"));
    let mut body: Value = serde_json::from_str(&recorded.body).map_err(|_| corrupt("body"))?;
    if let Some(secret) = &recorded.secret {
        let sealer = sealer.ok_or_else(|| corrupt("a secret and no sealer"))?;
        let full_key = sealer.open(&sealed_for(claim), secret)?;
        if let Value::Object(members) = &mut body {
            members.insert("fullKey".into(), Value::String(full_key.to_string()));
        }
    }
    let status = StatusCode::from_u16(recorded.status).map_err(|_| corrupt("status"))?;
    let mut response = respond(
        status,
        &body,
        recorded.location.as_deref(),
        recorded.no_store,
        true,
    );
    if status.is_client_error() {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
    }
    Ok(response)
}

fn respond(
    status: StatusCode,
    body: &Value,
    location: Option<&str>,
    no_store: bool,
    replayed: bool,
) -> Response<Body> {
    let mut response = response::json(status, body);
    let headers = response.headers_mut();
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    if no_store {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if replayed {
        headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}

/// What a sealed full key is bound to (its associated data): the record's place (route and key),
/// the request it answered, whose path holds the application's id, unique across merchants, and
/// the caller: it opens in no other record, another merchant's with the same route and key
/// included, and for no other caller.
fn sealed_for(claim: &Claim) -> String {
    format!(
        "{}\n{}\n{}",
        claim.sort_key, claim.fingerprint, claim.caller
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;

    #[test]
    fn a_sealed_key_is_bound_to_the_request_and_so_to_its_application() {
        // Two merchants' records of one route and key differ only in the request (its path's
        // application id): a key sealed in one does not open in the other.
        let now = Timestamp::from_epoch_seconds(1_800_000_000);
        let mine = Claim::new("POST /x", "k", "fingerprint-app-a".into(), "c".into(), now);
        let theirs = Claim::new("POST /x", "k", "fingerprint-app-b".into(), "c".into(), now);
        let another_caller =
            Claim::new("POST /x", "k", "fingerprint-app-a".into(), "d".into(), now);
        assert_eq!(mine.sort_key, theirs.sort_key);
        let pepper = crate::pepper::Pepper::new(&[7u8; 32]);
        let sealed = pepper
            .sealer()
            .seal(&sealed_for(&mine), b"ks_live_secret")
            .unwrap();
        assert!(pepper.sealer().open(&sealed_for(&mine), &sealed).is_ok());
        assert!(pepper.sealer().open(&sealed_for(&theirs), &sealed).is_err());
        assert!(pepper
            .sealer()
            .open(&sealed_for(&another_caller), &sealed)
            .is_err());
    }
}

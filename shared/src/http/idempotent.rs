//! The idempotent POST: every creating route (`POST /applications`, `…/api-keys`, `…/roll`)
//! accepts an `Idempotency-Key` (as in Stripe's API and the IETF httpapi draft "The
//! Idempotency-Key HTTP Header Field"). A handler says what to parse, what to write and how to
//! answer ([`Post`]); [`post`] does the rest, in this one place:
//!
//! 1. the key (1 to 255 printable ASCII characters, unquoted) and the request's fingerprint
//!    (route, path ids and the parsed body, so white space and member order do not matter);
//! 2. the write, with the answer it will give recorded in its own transaction (a full key sealed
//!    under a key derived from the pepper), so there is never a moment when a request holds a key
//!    without its change being done, and nothing to go stale if a function dies mid-way;
//! 3. a refusal the write meets (409 `name_taken`, a limit, 404) kept under the key, like a
//!    success; a failure (5xx) never: a retry runs again;
//! 4. when a live record holds the key: its answer replayed (`Idempotent-Replayed: true`) if it
//!    answers this same request, 422 `idempotency_key_reused` if another. A concurrent duplicate
//!    therefore gets the winner's answer, never `idempotency_key_in_use`.

use std::future::Future;

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body as HttpBody, Request, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::body::Body;
use super::call::{self, Call};
use super::{error, query, response};
use crate::domain::key_format::FullKey;
use crate::domain::{Error, Failure, FieldError, Refusal, Timestamp};
use crate::lambda::State;
use crate::pepper::Sealer;
use crate::store::items::idempotency_record::{Claim, StoredResponse};
use crate::store::retry::{Attempts, Retry};
use crate::store::{Caller, Recorder, Written};

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
const KEY_MAX: usize = 255;

/// A creating route, as its handler gives it to [`post`].
pub trait Post: Sync {
    /// What the write takes: path ids and the parsed body.
    type Input: Clone + Send + Sync;
    /// What the write made.
    type Output: Send + Sync;

    /// The path's ids (404) and the body's fields (400), refused in that order.
    fn parse(
        &self,
        call: &Call<'_>,
        body: &mut Body<'_>,
        now: Timestamp,
    ) -> Result<Self::Input, Refusal>;

    /// The change, recording `record`'s answer in its own transaction when there is one.
    fn write(
        &self,
        caller: &Caller<'_>,
        input: Self::Input,
        record: Option<&dyn Recorder<Self::Output>>,
    ) -> impl Future<Output = Result<Written<Self::Output>, Error>> + Send;

    /// The answer to what was written.
    fn answer(&self, output: &Self::Output) -> Answer<'_>;

    /// What seals the full key of an answer that carries one.
    fn sealer(&self) -> Option<&Sealer> {
        None
    }
}

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

    fn into_response(self) -> Response<HttpBody> {
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
    fn stored(&self, claim: &Claim, sealer: Option<&Sealer>) -> Result<StoredResponse, Failure> {
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

/// Runs a creating route: see the module's notes.
pub async fn post<P: Post>(
    request: &Request,
    state: &State,
    handler: &P,
) -> Result<Response<HttpBody>, lambda_http::Error> {
    super::management(request, &state.config.merchant_claim, |call| async move {
        query::none(request)?;
        let now = state.store.clock().now();
        let mut body = Body::new(request.body().as_ref());
        let input = match handler.parse(&call, &mut body, now) {
            Ok(input) => input,
            Err(refusal) => {
                return replay_if_recorded(state, &call, &body, now, handler, refusal).await
            }
        };
        let Some(claim) = claim(request, body.parsed(), now)? else {
            return match handler.write(&call.caller(), input, None).await? {
                Written::Fresh(output) => Ok(handler.answer(&output).into_response()),
                Written::KeyHeld => Err(Failure::Backend("a key held without a key".into()).into()),
            };
        };
        let recorder = Pending {
            claim: &claim,
            handler,
        };
        let mut attempts = Attempts::until(call.deadline);
        loop {
            match handler
                .write(&call.caller(), input.clone(), Some(&recorder))
                .await
            {
                Ok(Written::Fresh(output)) => return Ok(handler.answer(&output).into_response()),
                Ok(Written::KeyHeld) => {}
                Err(Error::Refused(refusal)) if refusal.lasts() => {
                    let refused = error::response(&refusal.into(), &call.origin.request_id);
                    let kept = state
                        .store
                        .record_refusal(
                            &call.merchant,
                            &claim,
                            &stored_problem(&refused),
                            call.deadline,
                        )
                        .await?;
                    if kept == Written::Fresh(()) {
                        return Ok(refused);
                    }
                }
                Err(err) => return Err(err),
            }
            // A live record holds the key: it answers, if it answers this request.
            match state
                .store
                .idempotency_record(&call.merchant, &claim, call.deadline)
                .await?
            {
                Some(recorded) if recorded.fingerprint == claim.fingerprint => {
                    return replay(&recorded.response, &claim, handler.sealer())
                }
                Some(_) => return Err(Refusal::IdempotencyKeyReused.into()),
                // It expired or went meanwhile: run the request again.
                None => attempts.wait(Retry::Changed).await?,
            }
        }
    })
    .await
}

/// The recorder a write is given: renders and seals the handler's answer under the claim.
struct Pending<'a, P> {
    claim: &'a Claim,
    handler: &'a P,
}

impl<P: Post> Recorder<P::Output> for Pending<'_, P> {
    fn claim(&self) -> &Claim {
        self.claim
    }

    fn response(&self, written: &P::Output) -> Result<StoredResponse, Failure> {
        self.handler
            .answer(written)
            .stored(self.claim, self.handler.sealer())
    }
}

/// A request refused before the write with a 400: if its key holds a live record of this same
/// request, that record answers it. The request was valid when first sent; an `expiresAt` that
/// has passed since (or a rule tightened since) must not turn a retry after a lost response into
/// a refusal. Costs one read, on this path only; otherwise, and if the store cannot answer, the
/// refusal stands. A body that is not strict JSON (a member given twice, which a lenient parse
/// would read as another body) is never the request that was recorded.
async fn replay_if_recorded<P: Post>(
    state: &State,
    call: &Call<'_>,
    body: &Body<'_>,
    now: Timestamp,
    handler: &P,
    refusal: Refusal,
) -> Result<Response<HttpBody>, Error> {
    if !matches!(refusal, Refusal::Validation(_)) || body.parsed().is_none() {
        return Err(refusal.into());
    }
    let Ok(Some(claim)) = claim(call.request, body.parsed(), now) else {
        return Err(refusal.into());
    };
    match state
        .store
        .idempotency_record(&call.merchant, &claim, call.deadline)
        .await
    {
        Ok(Some(recorded)) if recorded.fingerprint == claim.fingerprint => {
            replay(&recorded.response, &claim, handler.sealer())
        }
        _ => Err(refusal.into()),
    }
}

/// The request's `Idempotency-Key`, if it has one: 1 to 255 printable ASCII characters, a value
/// in double quotes unquoted first (the draft defines it as a structured-field string).
pub fn key(request: &Request) -> Result<Option<&str>, Refusal> {
    let mut values = request.headers().get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid =
        |message: &str| Refusal::Validation(vec![FieldError::new("Idempotency-Key", message)]);
    if values.next().is_some() {
        return Err(invalid("must be given at most once"));
    }
    let raw = value
        .to_str()
        .map_err(|_| invalid("must be printable ASCII"))?;
    let raw = raw
        .strip_prefix('"')
        .and_then(|quoted| quoted.strip_suffix('"'))
        .unwrap_or(raw);
    let printable = raw.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if raw.is_empty() || raw.len() > KEY_MAX || !printable {
        return Err(invalid(&format!(
            "must be 1 to {KEY_MAX} printable ASCII characters"
        )));
    }
    Ok(Some(raw))
}

/// The request's claim on its `Idempotency-Key`, if it has one: the record's place (route and a
/// hash of the key, under the merchant) and the request's fingerprint (route, path ids and the
/// parsed body).
fn claim(
    request: &Request,
    body: Option<&Map<String, Value>>,
    now: Timestamp,
) -> Result<Option<Claim>, Refusal> {
    let Some(key) = key(request)? else {
        return Ok(None);
    };
    let (route, mut ids) = call::route(request);
    ids.sort();
    let mut fingerprint = Sha256::new();
    fingerprint.update(route.as_bytes());
    for (name, value) in ids {
        fingerprint.update([0]);
        fingerprint.update(name.as_bytes());
        fingerprint.update([0]);
        fingerprint.update(value.as_bytes());
    }
    fingerprint.update([0]);
    let body = body.map_or(Value::Null, |fields| Value::Object(fields.clone()));
    fingerprint.update(canonical(&body).as_bytes());
    Ok(Some(Claim::new(
        &route,
        &hex::encode(Sha256::digest(key.as_bytes())),
        hex::encode(fingerprint.finalize()),
        now,
    )))
}

/// JSON with every object's members in name order: equal values, equal text. Numbers as the
/// parsers read them: `3600`, `3600.0` and `3.6e3` are one `expiresInSeconds`.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut members: Vec<_> = map.iter().collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = members
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        Value::Number(number) => match number.as_f64() {
            Some(float)
                if number.is_f64()
                    && float.fract() == 0.0
                    && float.abs() < 9_007_199_254_740_992.0 =>
            {
                format!("{}", float as i64)
            }
            _ => number.to_string(),
        },
        other => other.to_string(),
    }
}

/// A refusal's problem response, as a record keeps it.
fn stored_problem(refused: &Response<HttpBody>) -> StoredResponse {
    StoredResponse {
        status: refused.status().as_u16(),
        body: match refused.body() {
            HttpBody::Text(text) => text.clone(),
            _ => String::new(),
        },
        location: None,
        no_store: false,
        secret: None,
    }
}

/// The recorded response again, marked `Idempotent-Replayed: true`.
fn replay(
    recorded: &StoredResponse,
    claim: &Claim,
    sealer: Option<&Sealer>,
) -> Result<Response<HttpBody>, Error> {
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
) -> Response<HttpBody> {
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

/// What a sealed full key is bound to (its associated data): the record's place (route and key)
/// and the request it answered, whose path holds the application's id, unique across merchants:
/// it opens in no other record, another merchant's with the same route and key included.
fn sealed_for(claim: &Claim) -> String {
    format!("{}\n{}", claim.sort_key, claim.fingerprint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(key: Option<&str>) -> Request {
        let mut request = Request::new(HttpBody::from("{}"));
        if let Some(key) = key {
            request
                .headers_mut()
                .insert(HEADER, HeaderValue::from_str(key).unwrap());
        }
        request
    }

    #[test]
    fn a_key_is_one_to_255_printable_ascii_characters_unquoted() {
        assert_eq!(key(&request(None)).unwrap(), None);
        assert_eq!(key(&request(Some("abc"))).unwrap(), Some("abc"));
        assert_eq!(
            key(&request(Some("\"8e03978e-40d5\""))).unwrap(),
            Some("8e03978e-40d5")
        );
        let long = "k".repeat(255);
        assert_eq!(key(&request(Some(&long))).unwrap().unwrap().len(), 255);
        for bad in ["", "\"\"", &"k".repeat(256), "tab\there"] {
            assert!(key(&request(Some(bad))).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn equal_bodies_have_equal_canonical_text() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": {"y": [1, 2], "x": null}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":null,"y":[1,2]},"b":1}"#).unwrap();
        assert_eq!(canonical(&a), canonical(&b));
        let c: Value = serde_json::from_str(r#"{"a":{"x":null,"y":[2,1]},"b":1}"#).unwrap();
        assert_ne!(canonical(&a), canonical(&c));
        let whole: Value = serde_json::from_str(r#"{"s": 3600}"#).unwrap();
        let float: Value = serde_json::from_str(r#"{"s": 3.6e3}"#).unwrap();
        assert_eq!(canonical(&whole), canonical(&float));
    }

    #[test]
    fn a_sealed_key_is_bound_to_the_request_and_so_to_its_application() {
        // Two merchants' records of one route and key differ only in the request (its path's
        // application id): a key sealed in one does not open in the other.
        let now = Timestamp::from_epoch_seconds(1_800_000_000);
        let mine = Claim::new("POST /x", "k", "fingerprint-app-a".into(), now);
        let theirs = Claim::new("POST /x", "k", "fingerprint-app-b".into(), now);
        assert_eq!(mine.sort_key, theirs.sort_key);
        let pepper = crate::pepper::Pepper::new(&[7u8; 32]);
        let sealed = pepper
            .sealer()
            .seal(&sealed_for(&mine), b"ks_live_secret")
            .unwrap();
        assert!(pepper.sealer().open(&sealed_for(&mine), &sealed).is_ok());
        assert!(pepper.sealer().open(&sealed_for(&theirs), &sealed).is_err());
    }
}

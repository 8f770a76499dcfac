//! `Idempotency-Key` on every POST (as in Stripe's API and the IETF httpapi draft
//! "The Idempotency-Key HTTP Header Field"): the same key with the same request within 24 hours
//! replays the first response; with another request it is 422.
//!
//! The record is written in the same DynamoDB transaction as the change (see
//! `store::idempotency`), so there is never a moment when a request holds a key without its
//! change being done: a concurrent duplicate either loses the transaction's condition and
//! replays the winner, or wins it. No claim can be left behind by a function that died mid-way,
//! so none has to go stale, and `idempotency_key_in_use` (409) is never the answer: the
//! duplicate gets the winner's response instead, which is what a client retrying wants.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::api_key::{FullKey, Pepper};
use crate::error::{FieldError, StoreError};
use crate::http::ApiError;
use crate::store::{IdempotencyClaim, StoredResponse, Written};
use crate::time::Timestamp;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
const KEY_MAX: usize = 255;

/// The request's `Idempotency-Key`, if it has one: 1 to 255 printable ASCII characters, a value in
/// double quotes unquoted first (the draft defines it as a structured-field string).
pub fn key(request: &Request) -> Result<Option<String>, ApiError> {
    let mut values = request.headers().get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid =
        |message: &str| ApiError::Validation(vec![FieldError::new("Idempotency-Key", message)]);
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
    Ok(Some(raw.to_owned()))
}

/// The request's claim on its `Idempotency-Key`, if it has one: the record's place (merchant,
/// route, a hash of the key) and the request's fingerprint (route, path ids and parsed body, so
/// that white space and member order do not make two equal requests differ).
pub fn claim(request: &Request, now: Timestamp) -> Result<Option<IdempotencyClaim>, ApiError> {
    let Some(key) = key(request)? else {
        return Ok(None);
    };
    let route = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.route_key.clone().unwrap_or_default()
        }
        _ => String::new(),
    };
    let mut fingerprint = Sha256::new();
    fingerprint.update(route.as_bytes());
    let mut ids: Vec<(&str, &str)> = request
        .path_parameters_ref()
        .map(|params| params.iter().collect())
        .unwrap_or_default();
    ids.sort();
    for (name, value) in ids {
        fingerprint.update([0]);
        fingerprint.update(name.as_bytes());
        fingerprint.update([0]);
        fingerprint.update(value.as_bytes());
    }
    fingerprint.update([0]);
    // The body is parsed (strictly) before this: here it is valid JSON.
    let body: Value = serde_json::from_slice(request.body().as_ref()).unwrap_or(Value::Null);
    fingerprint.update(canonical(&body).as_bytes());
    let key_digest = hex::encode(Sha256::digest(key.as_bytes()));
    Ok(Some(IdempotencyClaim::new(
        &route,
        &key_digest,
        hex::encode(fingerprint.finalize()),
        now,
    )))
}

/// JSON with every object's members in name order: equal values, equal text.
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
        // Numbers as the parsers read them: `3600`, `3600.0` and `3.6e3` are one
        // `expiresInSeconds` (found by review: a retry spelled otherwise was 422).
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

/// A success as it will be answered, and recorded for replays.
pub struct Answer<'a> {
    pub status: StatusCode,
    pub body: Value,
    pub location: Option<String>,
    /// The response carries a full key: `Cache-Control: no-store`, and in the record the key is
    /// kept only encrypted.
    pub full_key: Option<&'a FullKey>,
}

impl Answer<'_> {
    pub fn into_response(self) -> Response<Body> {
        respond(
            self.status,
            &self.body,
            self.location.as_deref(),
            self.full_key.is_some(),
            false,
        )
    }

    /// The record of this answer: the body without the full key, which goes encrypted under a key
    /// derived from the pepper (AES-256-GCM, the record's place as associated data).
    pub fn record(
        &self,
        claim: &IdempotencyClaim,
        pepper: Option<&Pepper>,
    ) -> Result<StoredResponse, StoreError> {
        let mut body = self.body.clone();
        let secret = match (self.full_key, pepper) {
            (Some(full_key), Some(pepper)) => {
                if let Value::Object(members) = &mut body {
                    members.remove("fullKey");
                }
                Some(seal(
                    pepper,
                    &sealed_for(claim),
                    full_key.expose_secret().as_bytes(),
                )?)
            }
            (Some(_), None) => {
                return Err(StoreError::Backend(
                    "a full key to record without a pepper".into(),
                ))
            }
            (None, _) => None,
        };
        Ok(StoredResponse {
            status: self.status.as_u16(),
            body: body.to_string(),
            location: self.location.clone(),
            no_store: self.full_key.is_some(),
            secret,
        })
    }
}

/// The answer to a request: what was written now, or the replay of the key's record.
pub fn answer<T>(
    written: Written<T>,
    render: impl FnOnce(T) -> Response<Body>,
    claim: Option<&IdempotencyClaim>,
    pepper: Option<&Pepper>,
) -> Result<Response<Body>, ApiError> {
    match (written, claim) {
        (Written::Fresh(value), _) => Ok(render(value)),
        (Written::Replayed(recorded), Some(claim)) => replay(&recorded, claim, pepper),
        (Written::Replayed(_), None) => {
            Err(StoreError::Backend("a replay without a key".into()).into())
        }
    }
}

/// The recorded response again, marked `Idempotent-Replayed: true`.
pub fn replay(
    recorded: &StoredResponse,
    claim: &IdempotencyClaim,
    pepper: Option<&Pepper>,
) -> Result<Response<Body>, ApiError> {
    let corrupt = |what: &str| {
        ApiError::from(StoreError::CorruptItem(format!(
            "idempotency record: {what}"
        )))
    };
    let mut body: Value = serde_json::from_str(&recorded.body).map_err(|_| corrupt("body"))?;
    if let Some(secret) = &recorded.secret {
        let pepper = pepper.ok_or_else(|| corrupt("a secret and no pepper"))?;
        let full_key = open(pepper, &sealed_for(claim), secret)?;
        if let Value::Object(members) = &mut body {
            members.insert("fullKey".into(), Value::String(full_key));
        }
    }
    let status = StatusCode::from_u16(recorded.status).map_err(|_| corrupt("status"))?;
    let problem = status.is_client_error();
    let mut response = respond(
        status,
        &body,
        recorded.location.as_deref(),
        recorded.no_store,
        true,
    );
    if problem {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
    }
    Ok(response)
}

/// A request refused before the store was asked (400 `validation_failed`): if its key holds a
/// live record of this same request, that record answers it. The request was valid when first
/// sent; an `expiresAt` that has passed since (or a rule tightened since) must not turn a retry
/// after a lost response into a refusal. Costs one read, on this path only; otherwise, and if
/// the store cannot answer, the refusal stands.
pub async fn replay_if_recorded(
    store: &crate::Store,
    merchant: &crate::domain::MerchantId,
    request: &Request,
    pepper: Option<&Pepper>,
    refusal: ApiError,
) -> Result<Response<Body>, ApiError> {
    if !matches!(refusal, ApiError::Validation(_)) {
        return Err(refusal);
    }
    // A body that is not strict JSON (a member given twice, which a lenient parse would read as
    // another body) is never the request that was recorded: found by review.
    if !request.body().is_empty() && crate::json::parse_strict(request.body().as_ref()).is_err() {
        return Err(refusal);
    }
    let Ok(Some(claim)) = claim(request, store.clock().now()) else {
        return Err(refusal);
    };
    match store.recorded_response(merchant, &claim).await {
        Ok(Some(recorded)) => replay(&recorded, &claim, pepper),
        _ => Err(refusal),
    }
}

/// After a refusal the contract keeps (a 4xx of the store): records it under the key, or, if
/// another request's record holds the key, answers that instead.
pub async fn refused(
    store: &crate::Store,
    merchant: &crate::domain::MerchantId,
    claim: Option<&IdempotencyClaim>,
    refusal: StoreError,
    request_id: &str,
    pepper: Option<&Pepper>,
) -> Result<Response<Body>, ApiError> {
    let Some(claim) = claim.filter(|_| is_kept(&refusal)) else {
        return Err(refusal.into());
    };
    let response = ApiError::from(refusal).into_response(request_id);
    let recorded = StoredResponse {
        status: response.status().as_u16(),
        body: match response.body() {
            Body::Text(text) => text.clone(),
            _ => String::new(),
        },
        location: None,
        no_store: false,
        secret: None,
    };
    match store.record_refusal(merchant, claim, &recorded).await? {
        Written::Fresh(()) => Ok(response),
        Written::Replayed(theirs) => replay(&theirs, claim, pepper),
    }
}

/// The outcomes the contract keeps under a key: the store's refusals (4xx), not its failures.
fn is_kept(refusal: &StoreError) -> bool {
    use StoreError as S;
    !matches!(
        refusal,
        S::Contention
            | S::Unavailable(_)
            | S::Backend(_)
            | S::CorruptItem(_)
            | S::IdempotencyKeyReused
            // Lasts a minute at most: a retry under the same key must run again.
            | S::TooManyKeysWindingDown { .. }
    )
}

fn respond(
    status: StatusCode,
    body: &Value,
    location: Option<&str>,
    no_store: bool,
    replayed: bool,
) -> Response<Body> {
    let mut response = crate::http::json_response(status, body);
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
fn sealed_for(claim: &IdempotencyClaim) -> String {
    format!("{}\n{}", claim.sort_key, claim.fingerprint)
}

fn cipher(pepper: &Pepper) -> Result<LessSafeKey, StoreError> {
    UnboundKey::new(&AES_256_GCM, pepper.record_key())
        .map(LessSafeKey::new)
        .map_err(|_| StoreError::Backend("the record key is not an AES-256 key".into()))
}

fn seal(pepper: &Pepper, place: &str, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce)
        .map_err(|_| StoreError::Backend("no randomness for a nonce".into()))?;
    let mut sealed = plaintext.to_vec();
    cipher(pepper)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(place.as_bytes()),
            &mut sealed,
        )
        .map_err(|_| StoreError::Backend("sealing failed".into()))?;
    let mut blob = nonce.to_vec();
    blob.append(&mut sealed);
    Ok(blob)
}

fn open(pepper: &Pepper, place: &str, blob: &[u8]) -> Result<String, ApiError> {
    let corrupt = || ApiError::from(StoreError::CorruptItem("idempotency record secret".into()));
    if blob.len() < NONCE_LEN {
        return Err(corrupt());
    }
    let (nonce, sealed) = blob.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| corrupt())?;
    let mut sealed = sealed.to_vec();
    let plain = cipher(pepper)?
        .open_in_place(nonce, Aad::from(place.as_bytes()), &mut sealed)
        .map_err(|_| corrupt())?;
    String::from_utf8(plain.to_vec()).map_err(|_| corrupt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(key: Option<&str>) -> Request {
        let mut request = Request::new(Body::from("{}"));
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
        assert_eq!(key(&request(Some("abc"))).unwrap().as_deref(), Some("abc"));
        assert_eq!(
            key(&request(Some("\"8e03978e-40d5\""))).unwrap().as_deref(),
            Some("8e03978e-40d5")
        );
        assert_eq!(
            key(&request(Some(&"k".repeat(255))))
                .unwrap()
                .unwrap()
                .len(),
            255
        );
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
    }

    #[test]
    fn a_sealed_key_opens_only_with_its_pepper_and_in_its_record() {
        let pepper = Pepper::new(&[7u8; 32]);
        let sealed = seal(&pepper, "IDEMPOTENCY#a#b", b"ks_live_secret").unwrap();
        assert!(
            !sealed.windows(8).any(|w| w == b"ks_live_"),
            "the key is not in the clear"
        );
        assert_eq!(
            open(&pepper, "IDEMPOTENCY#a#b", &sealed).unwrap(),
            "ks_live_secret"
        );
        assert!(open(&Pepper::new(&[8u8; 32]), "IDEMPOTENCY#a#b", &sealed).is_err());
        assert!(open(&pepper, "IDEMPOTENCY#a#c", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN] ^= 1;
        assert!(open(&pepper, "IDEMPOTENCY#a#b", &tampered).is_err());
    }

    #[test]
    fn a_sealed_key_is_bound_to_the_request_and_so_to_its_application() {
        // Two merchants' records of one route and key differ only in the request (its path's
        // application id): a key sealed in one does not open in the other.
        let now = Timestamp::from_epoch_seconds(1_800_000_000);
        let mine = IdempotencyClaim::new("POST /x", "k", "fingerprint-app-a".into(), now);
        let theirs = IdempotencyClaim::new("POST /x", "k", "fingerprint-app-b".into(), now);
        assert_eq!(mine.sort_key, theirs.sort_key);
        let pepper = Pepper::new(&[7u8; 32]);
        let sealed = seal(&pepper, &sealed_for(&mine), b"ks_live_secret").unwrap();
        assert!(open(&pepper, &sealed_for(&mine), &sealed).is_ok());
        assert!(open(&pepper, &sealed_for(&theirs), &sealed).is_err());
    }
}

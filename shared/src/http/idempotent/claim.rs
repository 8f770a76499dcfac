//! Whose request holds an `Idempotency-Key`, and which request it was: the key (1 to 255
//! printable ASCII characters, a value in double quotes unquoted first), the fingerprint of
//! the route, the path's ids and the parsed body (white space and member order do not matter),
//! and the caller (a hash of the token's `sub`).

use lambda_http::Request;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::domain::{FieldError, Refusal, Timestamp};
use crate::http::call;
use crate::store::items::idempotency_record::Claim;

pub const HEADER: &str = "idempotency-key";
const KEY_MAX: usize = 255;

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
/// hash of the key, under the merchant), the request's fingerprint (route, path ids and the
/// parsed body) and the caller's.
pub fn claim(
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
        caller(call::sub(request)),
        now,
    )))
}

/// Hex SHA-256 of the token's `sub` (empty when the token has none). A hash: the record needs
/// only to tell callers apart, and the audit trail already says who they are.
fn caller(sub: Option<&str>) -> String {
    let mut caller = Sha256::new();
    caller.update(b"appkeys idempotency caller\n");
    caller.update(sub.unwrap_or_default().as_bytes());
    hex::encode(caller.finalize())
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

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;
    use lambda_http::Body;

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
}

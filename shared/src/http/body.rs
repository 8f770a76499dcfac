//! Request bodies, strictly: one JSON object (at most 16 KiB, no member given twice, parsed once)
//! whose fields are taken by name; every problem is reported at once, unknown fields included.
//! The routes' bodies are at the end.

use serde_json::{Map, Value};

use super::json::{self, JsonError};
use crate::domain::application::NewApplication;
use crate::domain::key::{parse_expiry, KeyChange, KeyRequest};
use crate::domain::limits::{APPLICATION_DESCRIPTION_MAX, KEY_DESCRIPTION_MAX, MAX_GRACE_SECONDS};
use crate::domain::permissions::{PaymentResources, Permissions};
use crate::domain::text::{ApplicationName, Description};
use crate::domain::{FieldError, Refusal, Timestamp};

pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A request's body, parsed on first use and kept: the idempotent POST fingerprints the same value
/// the handler read.
pub struct Body<'a> {
    raw: &'a [u8],
    parsed: Option<Map<String, Value>>,
}

impl<'a> Body<'a> {
    pub fn new(raw: &'a [u8]) -> Self {
        Self { raw, parsed: None }
    }

    /// The body's fields: 413 over the size limit, 400 unless it is one strict JSON object.
    pub fn object(&mut self) -> Result<Fields<'_>, Refusal> {
        if self.parsed.is_none() {
            self.parsed = Some(parse_object(self.raw)?);
        }
        Ok(Fields::new(self.parsed.as_ref().expect("parsed just now")))
    }

    /// The object, if [`Body::object`] parsed it.
    pub fn parsed(&self) -> Option<&Map<String, Value>> {
        self.parsed.as_ref()
    }
}

fn parse_object(raw: &[u8]) -> Result<Map<String, Value>, Refusal> {
    if raw.len() > MAX_BODY_BYTES {
        return Err(Refusal::PayloadTooLarge {
            max: MAX_BODY_BYTES,
        });
    }
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(Refusal::invalid("body", "a JSON object is required"));
    }
    match json::parse_strict(raw) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(Refusal::invalid("body", "must be a JSON object")),
        Err(JsonError::Duplicate { member }) => {
            Err(Refusal::invalid(&member, "must be given at most once"))
        }
        Err(JsonError::Syntax(err)) => Err(Refusal::invalid(
            "body",
            format!("is not valid JSON: {err}"),
        )),
    }
}

/// The fields of a body, taken one by one; [`Fields::finish`] reports every problem.
pub struct Fields<'a> {
    fields: &'a Map<String, Value>,
    taken: Vec<&'a str>,
    errors: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    fn new(fields: &'a Map<String, Value>) -> Self {
        Self {
            fields,
            taken: Vec::new(),
            errors: Vec::new(),
        }
    }

    fn take(&mut self, field: &'a str) -> Option<&'a Value> {
        self.taken.push(field);
        self.fields.get(field)
    }

    fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// `Some(None)` when absent or null; `None` after recording a type error.
    pub fn optional_string(&mut self, field: &'a str) -> Option<Option<&'a str>> {
        match self.take(field) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(value)) => Some(Some(value)),
            Some(_) => {
                self.error(field, "must be a string");
                None
            }
        }
    }

    /// `Some(None)` when absent; `None` after recording an error for null or another type (for
    /// a member that may be left out but has no "none" value).
    pub fn string_if_given(&mut self, field: &'a str) -> Option<Option<&'a str>> {
        match self.take(field) {
            None => Some(None),
            Some(Value::String(value)) => Some(Some(value)),
            Some(_) => {
                self.error(field, "must be a string");
                None
            }
        }
    }

    pub fn required_string(&mut self, field: &'a str) -> Option<&'a str> {
        match self.optional_string(field)? {
            Some(value) => Some(value),
            None => {
                self.error(field, "is required");
                None
            }
        }
    }

    pub fn required_bool(&mut self, field: &'a str) -> Option<bool> {
        match self.take(field) {
            Some(Value::Bool(value)) => Some(*value),
            None | Some(Value::Null) => {
                self.error(field, "is required");
                None
            }
            Some(_) => {
                self.error(field, "must be a boolean (true or false)");
                None
            }
        }
    }

    /// A JSON integer, `3600.0` included (not `1.5`, not `"1"`); `None` after recording a
    /// problem. JSON does not tell 3600 from 3600.0 (JSON Schema counts both as integers), and
    /// some clients serialise every number as a float.
    pub fn required_integer(&mut self, field: &'a str) -> Option<i64> {
        match self.take(field) {
            Some(Value::Number(number)) => {
                match number.as_i64().or_else(|| whole(number.as_f64()?)) {
                    Some(value) => Some(value),
                    None => {
                        self.error(field, "must be a whole number");
                        None
                    }
                }
            }
            None | Some(Value::Null) => {
                self.error(field, "is required");
                None
            }
            Some(_) => {
                self.error(field, "must be a number");
                None
            }
        }
    }

    /// `permissions`: `Some(None)` when absent, `null` an unrestricted key, or a list of
    /// `<resource>:read|write` ([`Permissions::parse`]); `None` after recording a problem.
    pub fn permissions(&mut self, resources: &PaymentResources) -> Option<Option<Permissions>> {
        match self.take("permissions") {
            None => Some(None),
            Some(Value::Null) => Some(Some(Permissions::Unrestricted)),
            Some(Value::Array(items)) => {
                let mut listed = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    match item {
                        Value::String(permission) => listed.push(permission.as_str()),
                        _ => {
                            self.error(&format!("permissions[{index}]"), "must be a string");
                            return None;
                        }
                    }
                }
                self.check(Permissions::parse(&listed, resources)).map(Some)
            }
            Some(_) => {
                self.error(
                    "permissions",
                    "must be an array of permissions, or null for an unrestricted key",
                );
                None
            }
        }
    }

    /// Records a domain validation failure for a field.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|err| self.errors.push(err)).ok()
    }

    /// Every problem at once (unknown fields too), or the value built from the fields taken.
    /// The accessors record a problem whenever they give `None`, so `parsed` is `Some` when
    /// nothing was recorded; should a future accessor break that, the body is still refused.
    pub fn finish<T>(mut self, parsed: Option<T>) -> Result<T, Refusal> {
        let unknown: Vec<&String> = self
            .fields
            .keys()
            .filter(|name| !self.taken.contains(&name.as_str()))
            .collect();
        for field in unknown {
            self.errors
                .push(FieldError::new(field.as_str(), "is not a known field"));
        }
        match parsed {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ if self.errors.is_empty() => Err(Refusal::invalid("body", "is invalid")),
            _ => Err(Refusal::Validation(self.errors)),
        }
    }
}

/// A float with no fractional part, within `i64`.
fn whole(value: f64) -> Option<i64> {
    // 2^63 is exactly representable; every f64 below it in magnitude with no fraction fits.
    (value.fract() == 0.0 && value.abs() < 9_223_372_036_854_775_808.0).then_some(value as i64)
}

/// `POST /api/v1/applications`
pub fn new_application(mut body: Fields<'_>) -> Result<NewApplication, Refusal> {
    let name = body
        .required_string("name")
        .and_then(|raw| body.check(ApplicationName::parse(raw)));
    let description = body
        .optional_string("description")
        .and_then(|raw| match raw {
            None => Some(None),
            Some(raw) => body
                .check(Description::parse(
                    "description",
                    raw,
                    APPLICATION_DESCRIPTION_MAX,
                ))
                .map(Some),
        });
    let new = name
        .zip(description)
        .map(|(name, description)| NewApplication { name, description });
    body.finish(new)
}

/// `POST /api/v1/applications/{id}/api-keys`: a description, and optionally when the key
/// expires (judged against `now`, the server's clock) and its permissions (unrestricted when
/// absent or null).
pub fn new_api_key(
    mut body: Fields<'_>,
    now: Timestamp,
    resources: &PaymentResources,
) -> Result<KeyRequest, Refusal> {
    let description = body
        .required_string("description")
        .and_then(|raw| body.check(Description::parse("description", raw, KEY_DESCRIPTION_MAX)));
    let expires_at = body.optional_string("expiresAt").and_then(|raw| match raw {
        None => Some(None),
        Some(raw) => body.check(parse_expiry(raw, now)).map(Some),
    });
    let permissions = body
        .permissions(resources)
        .map(|given| given.unwrap_or(Permissions::Unrestricted));
    let key = description.zip(expires_at).zip(permissions).map(
        |((description, expires_at), permissions)| KeyRequest {
            description,
            expires_at,
            permissions,
        },
    );
    body.finish(key)
}

/// `POST /api/v1/applications/{id}/api-keys/{keyId}/roll`: the old key's grace window, seconds,
/// and the new key's permissions (`None`, when absent: the old key's).
pub fn roll_request(
    mut body: Fields<'_>,
    resources: &PaymentResources,
) -> Result<(i64, Option<Permissions>), Refusal> {
    let window = body
        .required_integer("expiresInSeconds")
        .and_then(|seconds| {
            body.check(if (0..=MAX_GRACE_SECONDS).contains(&seconds) {
                Ok(seconds)
            } else {
                Err(FieldError::new(
                    "expiresInSeconds",
                    format!("must be from 0 to {MAX_GRACE_SECONDS} (7 days)"),
                ))
            })
        });
    let permissions = body.permissions(resources);
    body.finish(window.zip(permissions))
}

/// `PATCH /api/v1/applications/{id}/api-keys/{keyId}`: new permissions, a new description, or
/// both.
pub fn key_change(
    mut body: Fields<'_>,
    resources: &PaymentResources,
) -> Result<KeyChange, Refusal> {
    let permissions = body.permissions(resources);
    let description = body
        .string_if_given("description")
        .and_then(|raw| match raw {
            None => Some(None),
            Some(raw) => body
                .check(Description::parse("description", raw, KEY_DESCRIPTION_MAX))
                .map(Some),
        });
    let change = permissions
        .zip(description)
        .map(|(permissions, description)| KeyChange {
            permissions,
            description,
        });
    if let Some(KeyChange {
        permissions: None,
        description: None,
    }) = change
    {
        body.error("body", "give permissions, description, or both");
    }
    body.finish(change)
}

/// `PATCH /api/v1/applications/{id}/status`
pub fn status_change(mut body: Fields<'_>) -> Result<bool, Refusal> {
    let enabled = body.required_bool("isEnabled");
    body.finish(enabled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_errors(err: Refusal) -> Vec<(String, String)> {
        match err {
            Refusal::Validation(errors) => {
                errors.into_iter().map(|e| (e.field, e.message)).collect()
            }
            other => panic!("not a validation error: {other:?}"),
        }
    }

    fn parsed<T>(
        json: &str,
        parse: impl FnOnce(Fields<'_>) -> Result<T, Refusal>,
    ) -> Result<T, Refusal> {
        let mut body = Body::new(json.as_bytes());
        let fields = body.object()?;
        parse(fields)
    }

    #[test]
    fn a_member_given_twice_is_refused_naming_it() {
        let errors = field_errors(
            parsed(r#"{"isEnabled": true, "isEnabled": false}"#, status_change).unwrap_err(),
        );
        assert_eq!(
            errors,
            vec![("isEnabled".into(), "must be given at most once".into())]
        );
        // Also when both values agree, and at any depth: the body is ambiguous either way.
        let errors =
            field_errors(parsed(r#"{"name": "a", "name": "a"}"#, new_application).unwrap_err());
        assert_eq!(errors[0].0, "name");
        let errors = field_errors(
            parsed(r#"{"description": "d", "x": [{"a": 1, "a": 2}]}"#, |f| {
                new_api_key(
                    f,
                    Timestamp::from_epoch_seconds(0),
                    &PaymentResources::default(),
                )
            })
            .unwrap_err(),
        );
        assert_eq!(errors[0].0, "x[0].a");
        // Distinct members and ordinary values still parse.
        assert!(parsed(r#"{"isEnabled": false}"#, status_change).is_ok());
        let app = parsed(r#"{"name": "a", "description": null}"#, new_application).unwrap();
        assert_eq!(app.name.as_str(), "a");
    }

    #[test]
    fn malformed_json_is_still_named_as_such() {
        for bad in [r#"{"name": "#, r#"{"name": "a"} x"#, r#"{"name": "a",}"#] {
            let errors = field_errors(parsed(bad, new_application).unwrap_err());
            assert_eq!(errors[0].0, "body", "{bad}");
            assert!(
                errors[0].1.starts_with("is not valid JSON"),
                "{bad}: {errors:?}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_named_with_every_other_problem() {
        let errors = field_errors(
            parsed(r#"{"nmae": "a", "description": 3}"#, new_application).unwrap_err(),
        );
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert!(
            fields.contains(&"name") && fields.contains(&"description") && fields.contains(&"nmae"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_body_is_parsed_once_and_kept() {
        let mut body = Body::new(br#"{"isEnabled": true}"#);
        assert!(body.parsed().is_none());
        status_change(body.object().unwrap()).unwrap();
        assert_eq!(body.parsed().unwrap()["isEnabled"], true);
    }
}

//! JSON parsing that refuses a member given twice. `serde_json` keeps the last of
//! `{"isEnabled": true, "isEnabled": false}` silently, and other parsers keep the first: such a
//! body means different things to different readers, so the HTTP edge refuses it, naming the
//! member.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// A member given twice in one object, at `member` (`a`, `a.b`, `a[2].b`).
    #[error("member `{member}` is given more than once")]
    Duplicate { member: String },
    #[error(transparent)]
    Syntax(serde_json::Error),
}

/// One JSON value, with no object giving a member twice, at any depth.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, JsonError> {
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = StrictValue {
        path: String::new(),
        duplicate: &duplicate,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    match (parsed, duplicate.into_inner()) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(member)) => Err(JsonError::Duplicate { member }),
        (Err(err), None) => Err(JsonError::Syntax(err)),
    }
}

/// A JSON value at `path`; records the first duplicate member it meets (serde's error type
/// cannot carry it out).
struct StrictValue<'a> {
    path: String,
    duplicate: &'a RefCell<Option<String>>,
}

impl StrictValue<'_> {
    fn at(&self, path: String) -> Self {
        StrictValue {
            path,
            duplicate: self.duplicate,
        }
    }
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) =
            seq.next_element_seed(self.at(format!("{}[{}]", self.path, items.len())))?
        {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                name.clone()
            } else {
                format!("{}.{name}", self.path)
            };
            if members.contains_key(&name) {
                self.duplicate.borrow_mut().get_or_insert(path);
                return Err(de::Error::custom("a member is given twice"));
            }
            let value = map.next_value_seed(self.at(path))?;
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_parse_as_serde_json_parses_them() {
        for text in [
            r#"{"a": 1, "b": [true, null, -2, 3.5, "x"], "c": {"d": {}}}"#,
            "[]",
            "\"text\"",
            "18446744073709551615",
            "-9223372036854775808",
            "1e300",
        ] {
            let expected: Value = serde_json::from_str(text).unwrap();
            assert_eq!(parse_strict(text.as_bytes()).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn a_member_given_twice_is_named_by_its_path() {
        let duplicate = |text: &str| match parse_strict(text.as_bytes()) {
            Err(JsonError::Duplicate { member }) => member,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            duplicate(r#"{"isEnabled": true, "isEnabled": false}"#),
            "isEnabled"
        );
        assert_eq!(duplicate(r#"{"a": {"b": 1, "b": 1}}"#), "a.b");
        assert_eq!(duplicate(r#"{"a": [0, {"b": 1, "b": 2}]}"#), "a[1].b");
        assert_eq!(duplicate(r#"[{"x": 1, "y": 2, "x": 3}]"#), "[0].x");
        // Same name in different objects is not a duplicate.
        assert_eq!(
            parse_strict(br#"{"a": {"x": 1}, "b": {"x": 1}}"#).unwrap(),
            json!({"a": {"x": 1}, "b": {"x": 1}})
        );
    }

    #[test]
    fn syntax_errors_stay_syntax_errors() {
        for text in [r#"{"a": "#, r#"{"a": 1} x"#, r#"{"a": 1,}"#, ""] {
            assert!(
                matches!(parse_strict(text.as_bytes()), Err(JsonError::Syntax(_))),
                "{text}"
            );
        }
    }
}

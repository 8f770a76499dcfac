//! Attribute codecs: Rust values to DynamoDB attribute values and back. A stored item that does
//! not decode is a [`StoreError::CorruptItem`], never a panic.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::StoreError;
use crate::time::Timestamp;

pub type Item = HashMap<String, AttributeValue>;

pub fn string_value(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn number_value(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn bool_value(value: bool) -> AttributeValue {
    AttributeValue::Bool(value)
}

pub fn time_value(value: Timestamp) -> AttributeValue {
    number_value(value.epoch_seconds())
}

fn corrupt(name: &str, what: &str) -> StoreError {
    StoreError::CorruptItem(format!("attribute {name}: {what}"))
}

pub fn get_string<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(corrupt(name, "missing or not a string")),
    }
}

pub fn get_optional_string<'a>(item: &'a Item, name: &str) -> Result<Option<&'a str>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value)),
        Some(_) => Err(corrupt(name, "not a string")),
    }
}

pub fn get_count(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| corrupt(name, "not a count")),
        _ => Err(corrupt(name, "missing or not a number")),
    }
}

pub fn get_bool(item: &Item, name: &str) -> Result<bool, StoreError> {
    match item.get(name) {
        Some(AttributeValue::Bool(value)) => Ok(*value),
        _ => Err(corrupt(name, "missing or not a boolean")),
    }
}

pub fn get_optional_time(item: &Item, name: &str) -> Result<Option<Timestamp>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(value)) => value
            .parse()
            .map(|seconds| Some(Timestamp::from_epoch_seconds(seconds)))
            .map_err(|_| corrupt(name, "not whole seconds")),
        Some(_) => Err(corrupt(name, "not a number")),
    }
}

pub fn get_time(item: &Item, name: &str) -> Result<Timestamp, StoreError> {
    get_optional_time(item, name)?.ok_or_else(|| corrupt(name, "missing"))
}

pub fn get_map<'a>(item: &'a Item, name: &str) -> Result<&'a Item, StoreError> {
    match item.get(name) {
        Some(AttributeValue::M(map)) => Ok(map),
        _ => Err(corrupt(name, "missing or not a map")),
    }
}

pub fn get_list<'a>(item: &'a Item, name: &str) -> Result<&'a [AttributeValue], StoreError> {
    match item.get(name) {
        Some(AttributeValue::L(list)) => Ok(list),
        _ => Err(corrupt(name, "missing or not a list")),
    }
}

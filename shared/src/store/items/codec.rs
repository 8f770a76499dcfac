//! Attribute codecs: Rust values to DynamoDB attribute values and back. A stored item that does
//! not decode is a [`Failure::CorruptItem`], never a panic.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::{Failure, Timestamp};

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

fn corrupt(name: &str, what: &str) -> Failure {
    Failure::CorruptItem(format!("attribute {name}: {what}"))
}

pub fn get_string<'a>(item: &'a Item, name: &str) -> Result<&'a str, Failure> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(corrupt(name, "missing or not a string")),
    }
}

pub fn get_optional_string<'a>(item: &'a Item, name: &str) -> Result<Option<&'a str>, Failure> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value)),
        Some(_) => Err(corrupt(name, "not a string")),
    }
}

pub fn get_count(item: &Item, name: &str) -> Result<u64, Failure> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| corrupt(name, "not a count")),
        _ => Err(corrupt(name, "missing or not a number")),
    }
}

pub fn get_bool(item: &Item, name: &str) -> Result<bool, Failure> {
    match item.get(name) {
        Some(AttributeValue::Bool(value)) => Ok(*value),
        _ => Err(corrupt(name, "missing or not a boolean")),
    }
}

pub fn get_optional_time(item: &Item, name: &str) -> Result<Option<Timestamp>, Failure> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(value)) => value
            .parse()
            .map(|seconds| Some(Timestamp::from_epoch_seconds(seconds)))
            .map_err(|_| corrupt(name, "not whole seconds")),
        Some(_) => Err(corrupt(name, "not a number")),
    }
}

pub fn get_time(item: &Item, name: &str) -> Result<Timestamp, Failure> {
    get_optional_time(item, name)?.ok_or_else(|| corrupt(name, "missing"))
}

pub fn get_map<'a>(item: &'a Item, name: &str) -> Result<&'a Item, Failure> {
    match item.get(name) {
        Some(AttributeValue::M(map)) => Ok(map),
        _ => Err(corrupt(name, "missing or not a map")),
    }
}

pub fn get_list<'a>(item: &'a Item, name: &str) -> Result<&'a [AttributeValue], Failure> {
    match item.get(name) {
        Some(AttributeValue::L(list)) => Ok(list),
        _ => Err(corrupt(name, "missing or not a list")),
    }
}

/// A string attribute parsed into a typed value (an id), or the item is corrupt.
pub fn get_parsed<T>(
    item: &Item,
    name: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, Failure> {
    let text = get_string(item, name)?;
    parse(text).ok_or_else(|| corrupt(name, "does not parse"))
}

/// As [`get_parsed`], absent or null being `None`.
pub fn get_optional_parsed<T>(
    item: &Item,
    name: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<Option<T>, Failure> {
    match get_optional_string(item, name)? {
        None => Ok(None),
        Some(text) => parse(text)
            .map(Some)
            .ok_or_else(|| corrupt(name, "does not parse")),
    }
}

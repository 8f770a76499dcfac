//! `MERCHANT#<m>` / `MERCHANT`: how many applications a merchant has, so that the application
//! limit holds under concurrency and a page of the list knows its total in one read.

use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::Update;

use super::codec::{get_count, number_value, string_value, Item};
use super::{merchant_pk, PK, SK};
use crate::domain::{Failure, MerchantId};

pub const SK_VALUE: &str = "MERCHANT";

pub const APPLICATION_COUNT: &str = "applicationCount";

pub const ATTRIBUTES: &[&str] = &[APPLICATION_COUNT];

pub fn key(merchant: &MerchantId) -> (String, &'static str) {
    (merchant_pk(merchant), SK_VALUE)
}

/// Counts one more application, refused at `max`.
pub fn count_if_room(table: &str, merchant: &MerchantId, max: u32) -> UpdateBuilder {
    Update::builder()
        .table_name(table)
        .key(PK, string_value(merchant_pk(merchant)))
        .key(SK, string_value(SK_VALUE))
        .update_expression(format!(
            "SET {APPLICATION_COUNT} = if_not_exists({APPLICATION_COUNT}, :zero) + :one"
        ))
        .condition_expression(format!(
            "attribute_not_exists({APPLICATION_COUNT}) OR {APPLICATION_COUNT} < :max"
        ))
        .expression_attribute_values(":zero", number_value(0))
        .expression_attribute_values(":one", number_value(1))
        .expression_attribute_values(":max", number_value(max))
}

/// The count; a merchant without the item has none.
pub fn from_item(item: Option<&Item>) -> Result<u64, Failure> {
    item.map_or(Ok(0), |item| get_count(item, APPLICATION_COUNT))
}

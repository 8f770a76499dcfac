//! `MERCHANT#<m>` / `APP#<appId>`: an application.

use aws_sdk_dynamodb::types::builders::{ConditionCheckBuilder, PutBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{ConditionCheck, Put, Update};

use super::codec::{
    bool_value, get_bool, get_optional_string, get_parsed, get_string, get_time, string_value,
    time_value, Item,
};
use super::{merchant_pk, PK, SK};
use crate::domain::application::Application;
use crate::domain::text::Description;
use crate::domain::{ApplicationId, Failure, MerchantId};

pub const SK_PREFIX: &str = "APP#";

pub const ID: &str = "id";
pub const NAME: &str = "name";
pub const DESCRIPTION: &str = "description";
pub const IS_ENABLED: &str = "isEnabled";
pub const CREATED_AT: &str = "createdAt";

pub const ATTRIBUTES: &[&str] = &[ID, NAME, DESCRIPTION, IS_ENABLED, CREATED_AT];

pub fn sk(application: ApplicationId) -> String {
    format!("{SK_PREFIX}{application}")
}

/// Puts a new application; its id must be new.
pub fn create_if_absent(
    table: &str,
    merchant: &MerchantId,
    application: &Application,
) -> PutBuilder {
    let mut put = Put::builder()
        .table_name(table)
        .item(PK, string_value(merchant_pk(merchant)))
        .item(SK, string_value(sk(application.id)))
        .item(ID, string_value(application.id.to_string()))
        .item(NAME, string_value(&application.name))
        .item(IS_ENABLED, bool_value(application.is_enabled))
        .item(CREATED_AT, time_value(application.created_at))
        .condition_expression(format!("attribute_not_exists({PK})"));
    if let Some(description) = &application.description {
        put = put.item(DESCRIPTION, string_value(description.as_str()));
    }
    put
}

/// Sets `isEnabled` of an application that exists.
pub fn set_enabled(
    table: &str,
    merchant: &MerchantId,
    application: ApplicationId,
    enabled: bool,
) -> UpdateBuilder {
    Update::builder()
        .table_name(table)
        .key(PK, string_value(merchant_pk(merchant)))
        .key(SK, string_value(sk(application)))
        .update_expression(format!("SET {IS_ENABLED} = :enabled"))
        .condition_expression(format!("attribute_exists({PK})"))
        .expression_attribute_values(":enabled", bool_value(enabled))
}

/// Conditions a transaction on the application existing with `isEnabled` as given: a key's
/// lookup record written beside it copies that value.
pub fn exists_with_enabled(
    table: &str,
    merchant: &MerchantId,
    application: ApplicationId,
    enabled: bool,
) -> ConditionCheckBuilder {
    ConditionCheck::builder()
        .table_name(table)
        .key(PK, string_value(merchant_pk(merchant)))
        .key(SK, string_value(sk(application)))
        .condition_expression(format!(
            "attribute_exists({PK}) AND {IS_ENABLED} = :enabled"
        ))
        .expression_attribute_values(":enabled", bool_value(enabled))
}

pub fn from_item(item: &Item) -> Result<Application, Failure> {
    Ok(Application {
        id: get_parsed(item, ID, ApplicationId::parse)?,
        name: get_string(item, NAME)?.to_owned(),
        description: get_optional_string(item, DESCRIPTION)?
            .map(|value| Description::from_stored(value.to_owned())),
        is_enabled: get_bool(item, IS_ENABLED)?,
        created_at: get_time(item, CREATED_AT)?,
        api_keys: None,
    })
}

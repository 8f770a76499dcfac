//! `MERCHANT#<m>` / `APPNAME#<sha256(folded name)>`: a name taken by an application, so that of
//! concurrent creations with one name (as the folded form compares it) exactly one succeeds.

use aws_sdk_dynamodb::types::builders::PutBuilder;
use aws_sdk_dynamodb::types::Put;
use sha2::{Digest, Sha256};

use super::codec::string_value;
use super::{merchant_pk, PK, SK};
use crate::domain::text::ApplicationName;
use crate::domain::{ApplicationId, MerchantId};

pub const APPLICATION_ID: &str = "applicationId";

pub const ATTRIBUTES: &[&str] = &[APPLICATION_ID];

/// Hashing the folded name bounds the sort key's size and keeps user text out of keys.
pub fn sk(name: &ApplicationName) -> String {
    format!(
        "APPNAME#{}",
        hex::encode(Sha256::digest(name.folded().as_bytes()))
    )
}

/// Takes `name` for `application`; refused if any application holds it.
pub fn reserve_if_free(
    table: &str,
    merchant: &MerchantId,
    name: &ApplicationName,
    application: ApplicationId,
) -> PutBuilder {
    Put::builder()
        .table_name(table)
        .item(PK, string_value(merchant_pk(merchant)))
        .item(SK, string_value(sk(name)))
        .item(APPLICATION_ID, string_value(application.to_string()))
        .condition_expression(format!("attribute_not_exists({PK})"))
}

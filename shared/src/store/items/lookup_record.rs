//! `KEYHASH#<hex HMAC>` / `KEYHASH`: what the authorizer reads, one item addressed by the key's
//! keyed hash, carrying all its decision needs. Every write that changes the decision (create,
//! revoke, roll, disable, enable) changes this record in the same transaction as the key.

use aws_sdk_dynamodb::types::builders::{PutBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{AttributeValue, Put, Update};

use super::codec::{
    bool_value, get_bool, get_optional_string, get_optional_time, get_parsed, get_string,
    string_value, time_value, Item,
};
use super::key::{forget_after, STATUS_ACTIVE, STATUS_REVOKED};
use super::{PK, SK, TTL};
use crate::domain::key::{IssuedKey, KeyLookup};
use crate::domain::key_format::KeyHash;
use crate::domain::limits::LAST_USE_ACCURACY_SECONDS;
use crate::domain::permissions::Permissions;
use crate::domain::{ApplicationId, Failure, KeyId, MerchantId, Timestamp};

pub const PK_PREFIX: &str = "KEYHASH#";
pub const SK_VALUE: &str = "KEYHASH";

pub const MERCHANT_ID: &str = "merchantId";
pub const APPLICATION_ID: &str = "applicationId";
pub const KEY_ID: &str = "keyId";
pub const KEY_STATUS: &str = "keyStatus";
pub const EXPIRES_AT: &str = "expiresAt";
pub const APPLICATION_ENABLED: &str = "applicationEnabled";
pub const LAST_USED_AT: &str = "lastUsedAt";
/// As on the key item (`#permissions` in expressions).
pub const PERMISSIONS: &str = "permissions";

pub const ATTRIBUTES: &[&str] = &[
    MERCHANT_ID,
    APPLICATION_ID,
    KEY_ID,
    KEY_STATUS,
    EXPIRES_AT,
    APPLICATION_ENABLED,
    LAST_USED_AT,
    PERMISSIONS,
    TTL,
];

/// Built with a single allocation: it is on every payment call's path.
pub fn pk(hash: &KeyHash) -> String {
    const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut pk = String::with_capacity(PK_PREFIX.len() + 2 * hash.0.len());
    pk.push_str(PK_PREFIX);
    for byte in hash.0 {
        pk.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        pk.push(char::from(HEX_DIGITS[usize::from(byte & 0xf)]));
    }
    pk
}

/// The record's key, as a `GetItem` or `BatchGetItem` asks for it.
pub fn key(hash: &KeyHash) -> [(&'static str, AttributeValue); 2] {
    [(PK, string_value(pk(hash))), (SK, string_value(SK_VALUE))]
}

fn update(table: &str, hash: &KeyHash) -> UpdateBuilder {
    Update::builder()
        .table_name(table)
        .key(PK, string_value(pk(hash)))
        .key(SK, string_value(SK_VALUE))
}

/// The record of a new key; it must not exist.
pub fn put_new(
    table: &str,
    merchant: &MerchantId,
    issued: &IssuedKey,
    hash: &KeyHash,
    application_enabled: bool,
) -> PutBuilder {
    let mut put = Put::builder()
        .table_name(table)
        .item(PK, string_value(pk(hash)))
        .item(SK, string_value(SK_VALUE))
        .item(MERCHANT_ID, string_value(merchant.as_str()))
        .item(
            APPLICATION_ID,
            string_value(issued.application_id.to_string()),
        )
        .item(KEY_ID, string_value(issued.id.to_string()))
        .item(KEY_STATUS, string_value(STATUS_ACTIVE))
        .item(APPLICATION_ENABLED, bool_value(application_enabled))
        .condition_expression(format!("attribute_not_exists({PK})"));
    if let Some(permissions) = issued.permissions.stored() {
        put = put.item(PERMISSIONS, string_value(permissions));
    }
    if let Some(expires) = issued.expires_at {
        put = put
            .item(EXPIRES_AT, time_value(expires))
            .item(TTL, time_value(forget_after(expires)));
    }
    put
}

/// Revokes the key's record at `now`.
pub fn revoke(table: &str, hash: &KeyHash, now: Timestamp) -> UpdateBuilder {
    update(table, hash)
        .update_expression(format!("SET {KEY_STATUS} = :revoked, #ttl = :forget"))
        .condition_expression(format!("attribute_exists({PK})"))
        .expression_attribute_names("#ttl", TTL)
        .expression_attribute_values(":revoked", string_value(STATUS_REVOKED))
        .expression_attribute_values(":forget", time_value(forget_after(now)))
}

/// Ends a rolled key's record at `end` (or revokes it, when `end` is `now`).
pub fn end_at(table: &str, hash: &KeyHash, end: Timestamp, now: Timestamp) -> UpdateBuilder {
    if end <= now {
        return revoke(table, hash, now);
    }
    update(table, hash)
        .update_expression(format!("SET {EXPIRES_AT} = :expires, #ttl = :forget"))
        .condition_expression(format!("attribute_exists({PK})"))
        .expression_attribute_names("#ttl", TTL)
        .expression_attribute_values(":expires", time_value(end))
        .expression_attribute_values(":forget", time_value(forget_after(end)))
}

/// Copies the key's permissions onto the record.
pub fn set_permissions(table: &str, hash: &KeyHash, permissions: &Permissions) -> UpdateBuilder {
    let update = update(table, hash)
        .condition_expression(format!("attribute_exists({PK})"))
        .expression_attribute_names("#permissions", PERMISSIONS);
    match permissions.stored() {
        Some(stored) => update
            .update_expression("SET #permissions = :permissions")
            .expression_attribute_values(":permissions", string_value(stored)),
        None => update.update_expression("REMOVE #permissions"),
    }
}

/// Copies the application's `isEnabled` onto the record.
pub fn set_application_enabled(table: &str, hash: &KeyHash, enabled: bool) -> UpdateBuilder {
    update(table, hash)
        .update_expression(format!("SET {APPLICATION_ENABLED} = :enabled"))
        .condition_expression(format!("attribute_exists({PK})"))
        .expression_attribute_values(":enabled", bool_value(enabled))
}

/// Records `now` as the key's last use, unless a use within the accuracy window is recorded
/// already: however many instances allow calls with the key, one write lands per window.
pub fn record_last_use_if_stale(table: &str, hash: &KeyHash, now: Timestamp) -> UpdateBuilder {
    update(table, hash)
        .update_expression(format!("SET {LAST_USED_AT} = :now"))
        .condition_expression(format!(
            "attribute_exists({PK}) AND (attribute_not_exists({LAST_USED_AT}) OR {LAST_USED_AT} <= :stale)"
        ))
        .expression_attribute_values(":now", time_value(now))
        .expression_attribute_values(
            ":stale",
            time_value(now.plus_seconds(-LAST_USE_ACCURACY_SECONDS)),
        )
}

pub fn from_item(item: &Item) -> Result<KeyLookup, Failure> {
    Ok(KeyLookup {
        merchant_id: get_parsed(item, MERCHANT_ID, MerchantId::from_claim)?,
        application_id: get_parsed(item, APPLICATION_ID, ApplicationId::parse)?,
        key_id: get_parsed(item, KEY_ID, KeyId::parse)?,
        revoked: match get_string(item, KEY_STATUS)? {
            STATUS_ACTIVE => false,
            STATUS_REVOKED => true,
            other => return Err(Failure::corrupt(format!("{KEY_STATUS} {other}"))),
        },
        expires_at: get_optional_time(item, EXPIRES_AT)?,
        application_enabled: get_bool(item, APPLICATION_ENABLED)?,
        last_used_at: get_optional_time(item, LAST_USED_AT)?,
        permissions: get_optional_string(item, PERMISSIONS)?.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_prefix_and_the_hash_in_lowercase_hex() {
        let hash = KeyHash([0xab; 32]);
        assert_eq!(pk(&hash), format!("{PK_PREFIX}{}", hash.to_hex()));
        assert_eq!(pk(&hash).len(), 8 + 64);
    }
}

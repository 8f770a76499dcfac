//! `MERCHANT#<m>` / `KEYRING#<appId>`: the application's keyring (`domain::keyring`) as stored:
//! maps of live keys by id (`{hash, expiresAt?}`), a list of retired keys (`{key, stoppedAt}`),
//! and a version every write bumps.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::builders::{ConditionCheckBuilder, PutBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, Update};

use super::codec::{
    get_count, get_list, get_map, get_optional_time, get_parsed, get_time, number_value,
    string_value, time_value, Item,
};
use super::{merchant_pk, PK, SK};
use crate::domain::key_format::KeyHash;
use crate::domain::keyring::{Keyring, LiveKey, RetiredKey};
use crate::domain::{ApplicationId, Failure, KeyId, MerchantId};

pub const ACTIVE_KEYS: &str = "activeKeys";
pub const ROLLED_KEYS: &str = "rolledKeys";
pub const RETIRED_KEYS: &str = "retiredKeys";
pub const VERSION: &str = "version";
/// Members of a live key's entry.
pub const ENTRY_HASH: &str = "hash";
pub const ENTRY_EXPIRES_AT: &str = "expiresAt";
/// Members of a retired key's entry.
pub const RETIRED_KEY: &str = "key";
pub const RETIRED_STOPPED_AT: &str = "stoppedAt";

pub const ATTRIBUTES: &[&str] = &[ACTIVE_KEYS, ROLLED_KEYS, RETIRED_KEYS, VERSION];

pub fn sk(application: ApplicationId) -> String {
    format!("KEYRING#{application}")
}

/// The empty keyring of a new application; it must not exist.
pub fn create_empty(table: &str, merchant: &MerchantId, application: ApplicationId) -> PutBuilder {
    Put::builder()
        .table_name(table)
        .item(PK, string_value(merchant_pk(merchant)))
        .item(SK, string_value(sk(application)))
        .item(ACTIVE_KEYS, AttributeValue::M(Item::new()))
        .item(ROLLED_KEYS, AttributeValue::M(Item::new()))
        .item(RETIRED_KEYS, AttributeValue::L(Vec::new()))
        .item(VERSION, number_value(0))
        .condition_expression(format!("attribute_not_exists({PK})"))
}

/// Adds one active key without reading the keyring first: refused unless the application's
/// keyring exists and has fewer than `max` active keys (expired ones not yet reclaimed count
/// here; `Keyring::admit` then decides on the keyring read).
pub fn add_if_room(
    table: &str,
    merchant: &MerchantId,
    application: ApplicationId,
    id: KeyId,
    entry: &LiveKey,
    max: u32,
) -> UpdateBuilder {
    Update::builder()
        .table_name(table)
        .key(PK, string_value(merchant_pk(merchant)))
        .key(SK, string_value(sk(application)))
        .update_expression(format!(
            "SET {ACTIVE_KEYS}.#key = :entry, {VERSION} = {VERSION} + :one"
        ))
        .condition_expression(format!(
            "attribute_exists({PK}) AND size({ACTIVE_KEYS}) < :max"
        ))
        .expression_attribute_names("#key", id.to_string())
        .expression_attribute_values(":entry", entry_value(entry))
        .expression_attribute_values(":one", number_value(1))
        .expression_attribute_values(":max", number_value(max))
}

/// Writes `next` in place of the keyring read at `next.version`, which it must still be.
pub fn replace_if_unchanged(
    table: &str,
    merchant: &MerchantId,
    application: ApplicationId,
    next: &Keyring,
) -> UpdateBuilder {
    let entries = |keys: &BTreeMap<KeyId, LiveKey>| {
        AttributeValue::M(
            keys.iter()
                .map(|(id, key)| (id.to_string(), entry_value(key)))
                .collect(),
        )
    };
    let retired = next
        .retired
        .iter()
        .map(|retired| {
            AttributeValue::M(Item::from([
                (RETIRED_KEY.to_owned(), string_value(retired.id.to_string())),
                (
                    RETIRED_STOPPED_AT.to_owned(),
                    time_value(retired.stopped_at),
                ),
            ]))
        })
        .collect();
    Update::builder()
        .table_name(table)
        .key(PK, string_value(merchant_pk(merchant)))
        .key(SK, string_value(sk(application)))
        .update_expression(format!(
            "SET {ACTIVE_KEYS} = :active, {ROLLED_KEYS} = :rolled, {RETIRED_KEYS} = :retired, {VERSION} = :next"
        ))
        .condition_expression(format!("{VERSION} = :seen"))
        .expression_attribute_values(":active", entries(&next.active))
        .expression_attribute_values(":rolled", entries(&next.rolled))
        .expression_attribute_values(":retired", AttributeValue::L(retired))
        .expression_attribute_values(":seen", number_value(next.version))
        .expression_attribute_values(":next", number_value(next.version + 1))
}

/// Conditions a transaction on the keyring being still as read, without writing it.
pub fn unchanged(
    table: &str,
    merchant: &MerchantId,
    application: ApplicationId,
    read: &Keyring,
) -> ConditionCheckBuilder {
    ConditionCheck::builder()
        .table_name(table)
        .key(PK, string_value(merchant_pk(merchant)))
        .key(SK, string_value(sk(application)))
        .condition_expression(format!("{VERSION} = :seen"))
        .expression_attribute_values(":seen", number_value(read.version))
}

fn entry_value(key: &LiveKey) -> AttributeValue {
    let mut entry = Item::from([(ENTRY_HASH.to_owned(), string_value(key.hash.to_hex()))]);
    if let Some(expires) = key.expires_at {
        entry.insert(ENTRY_EXPIRES_AT.to_owned(), time_value(expires));
    }
    AttributeValue::M(entry)
}

fn entry_from_value(value: &AttributeValue) -> Result<LiveKey, Failure> {
    let AttributeValue::M(entry) = value else {
        return Err(Failure::corrupt("keyring entry is not a map"));
    };
    Ok(LiveKey {
        hash: get_parsed(entry, ENTRY_HASH, KeyHash::from_hex)?,
        expires_at: get_optional_time(entry, ENTRY_EXPIRES_AT)?,
    })
}

fn key_id(id: &str) -> Result<KeyId, Failure> {
    KeyId::parse(id).ok_or_else(|| Failure::corrupt(format!("keyring key id {id}")))
}

pub fn from_item(item: &Item) -> Result<Keyring, Failure> {
    let entries = |name: &str| -> Result<BTreeMap<KeyId, LiveKey>, Failure> {
        get_map(item, name)?
            .iter()
            .map(|(id, entry)| Ok((key_id(id)?, entry_from_value(entry)?)))
            .collect()
    };
    let retired = get_list(item, RETIRED_KEYS)?
        .iter()
        .map(|value| match value {
            AttributeValue::M(entry) => Ok(RetiredKey {
                id: get_parsed(entry, RETIRED_KEY, KeyId::parse)?,
                stopped_at: get_time(entry, RETIRED_STOPPED_AT)?,
            }),
            _ => Err(Failure::corrupt("retired key is not a map")),
        })
        .collect::<Result<_, _>>()?;
    Ok(Keyring {
        active: entries(ACTIVE_KEYS)?,
        rolled: entries(ROLLED_KEYS)?,
        retired,
        version: get_count(item, VERSION)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;

    #[test]
    fn a_keyring_survives_its_item_form() {
        let mut ring = Keyring::default();
        ring.active.insert(
            KeyId::new(),
            LiveKey {
                hash: KeyHash([1; 32]),
                expires_at: None,
            },
        );
        ring.rolled.insert(
            KeyId::new(),
            LiveKey {
                hash: KeyHash([2; 32]),
                expires_at: Some(Timestamp::from_epoch_seconds(5)),
            },
        );
        ring.retire(KeyId::new(), Timestamp::from_epoch_seconds(3));
        ring.version = 7;
        let update = replace_if_unchanged(
            "t",
            &MerchantId::from_claim("m").unwrap(),
            ApplicationId::new(),
            &ring,
        )
        .build()
        .unwrap();
        let values = update.expression_attribute_values().unwrap();
        let item = Item::from([
            (ACTIVE_KEYS.to_owned(), values[":active"].clone()),
            (ROLLED_KEYS.to_owned(), values[":rolled"].clone()),
            (RETIRED_KEYS.to_owned(), values[":retired"].clone()),
            (VERSION.to_owned(), values[":seen"].clone()),
        ]);
        assert_eq!(from_item(&item).unwrap(), ring);
    }
}

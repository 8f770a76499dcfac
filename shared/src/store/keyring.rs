//! The keyring: one item per application that records which of its keys may verify, so that
//! the writers that must touch every working key's lookup record (disable, enable) read one item
//! instead of the application's whole key history, and so that the history stays bounded.
//!
//! - `activeKeys`: keys that count toward `MAX_KEYS_PER_APPLICATION` (created, not rolled, not
//!   revoked). Expired ones stay here until a write reclaims them: the authorizer refuses them
//!   by their `expiresAt` at once, and creation at the limit reclaims their places in its own
//!   transaction, so expiry needs no write when it happens.
//! - `rolledKeys`: rolled keys in their grace window; they verify until `expiresAt` and do not
//!   count toward the limit.
//! - `retiredKeys`: keys that no longer verify, oldest retirement first. Past
//!   [`RETIRED_KEYS_KEPT`], the oldest key items are deleted in the retiring transaction.
//! - `version`: bumped by every write, so that a writer that read the keyring can condition its
//!   transaction on nothing having changed since.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::builders::{ConditionCheckBuilder, PutBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, Update};

use super::codec::{
    get_count, get_list, get_map, get_optional_time, get_string, number_value, string_value,
    time_value, Item,
};
use super::keys::{keyring_sk, merchant_pk, PK, SK};
use super::transaction::MAX_TRANSACTION_ITEMS;
use crate::domain::{ApplicationId, KeyId, MerchantId};
use crate::error::StoreError;
use crate::time::Timestamp;

/// Revoked and expired keys an application keeps listing (the contract's bound).
pub const RETIRED_KEYS_KEPT: usize = 100;

/// Keys of one application that may verify at once (active and rolled in their window).
/// Disabling or enabling an application rewrites each one's lookup record in one transaction,
/// beside the application, its keyring and the audit event: 100 items at most.
pub const LIVE_KEYS_MAX: usize = MAX_TRANSACTION_ITEMS - 3;

/// A key whose lookup record may still allow: where that record is, and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveKey {
    pub hash_hex: String,
    pub expires_at: Option<Timestamp>,
}

impl LiveKey {
    pub fn works_at(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|expires| now < expires)
    }

    fn to_value(&self) -> AttributeValue {
        let mut entry = Item::from([("hash".to_owned(), string_value(&self.hash_hex))]);
        if let Some(expires) = self.expires_at {
            entry.insert("expiresAt".to_owned(), time_value(expires));
        }
        AttributeValue::M(entry)
    }

    fn from_value(value: &AttributeValue) -> Result<Self, StoreError> {
        let AttributeValue::M(entry) = value else {
            return Err(StoreError::CorruptItem("keyring entry is not a map".into()));
        };
        Ok(Self {
            hash_hex: get_string(entry, "hash")?.to_owned(),
            expires_at: get_optional_time(entry, "expiresAt")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyring {
    pub active: BTreeMap<KeyId, LiveKey>,
    pub rolled: BTreeMap<KeyId, LiveKey>,
    pub retired: Vec<KeyId>,
    pub version: u64,
}

impl Keyring {
    pub fn empty() -> Self {
        Self {
            active: BTreeMap::new(),
            rolled: BTreeMap::new(),
            retired: Vec::new(),
            version: 0,
        }
    }

    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        let entries = |name: &str| -> Result<BTreeMap<KeyId, LiveKey>, StoreError> {
            get_map(item, name)?
                .iter()
                .map(|(id, entry)| Ok((parse_key_id(id)?, LiveKey::from_value(entry)?)))
                .collect()
        };
        let retired = get_list(item, "retiredKeys")?
            .iter()
            .map(|value| match value {
                AttributeValue::S(id) => parse_key_id(id),
                _ => Err(StoreError::CorruptItem(
                    "retired key id is not a string".into(),
                )),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            active: entries("activeKeys")?,
            rolled: entries("rolledKeys")?,
            retired,
            version: get_count(item, "version")?,
        })
    }

    /// Active keys that have not expired: what counts toward the key limit.
    pub fn counted(&self, now: Timestamp) -> usize {
        self.active.values().filter(|key| key.works_at(now)).count()
    }

    /// Every key whose lookup record may allow at `now`.
    pub fn working(&self, now: Timestamp) -> impl Iterator<Item = (&KeyId, &LiveKey)> {
        self.active
            .iter()
            .chain(&self.rolled)
            .filter(move |(_, key)| key.works_at(now))
    }

    /// Moves keys that have expired by `now` to the retired list, in the order they expired.
    pub fn reclaim_expired(&mut self, now: Timestamp) {
        let mut expired: Vec<(Timestamp, KeyId)> = Vec::new();
        for entries in [&mut self.active, &mut self.rolled] {
            entries.retain(|id, key| match key.expires_at {
                Some(expires) if expires <= now => {
                    expired.push((expires, *id));
                    false
                }
                _ => true,
            });
        }
        expired.sort();
        self.retired.extend(expired.into_iter().map(|(_, id)| id));
    }

    /// Takes the oldest retired keys beyond [`RETIRED_KEYS_KEPT`] off the list (at most
    /// `room` of them: what the transaction has room to delete) and returns them, for their key
    /// items to be deleted in the same transaction. Any excess left goes at the next write.
    pub fn drop_oldest_retired(&mut self, room: usize) -> Vec<KeyId> {
        let excess = self
            .retired
            .len()
            .saturating_sub(RETIRED_KEYS_KEPT)
            .min(room);
        self.retired.drain(..excess).collect()
    }

    /// Puts the keyring of a new application; it must not exist.
    pub fn create(table: &str, merchant: &MerchantId, application: ApplicationId) -> PutBuilder {
        let empty = Self::empty();
        Put::builder()
            .table_name(table)
            .item(PK, string_value(merchant_pk(merchant)))
            .item(SK, string_value(keyring_sk(application)))
            .item("activeKeys", AttributeValue::M(Item::new()))
            .item("rolledKeys", AttributeValue::M(Item::new()))
            .item("retiredKeys", AttributeValue::L(Vec::new()))
            .item("version", number_value(empty.version))
            .condition_expression("attribute_not_exists(PK)")
    }

    /// Adds one active key without reading the keyring first: conditioned on the application
    /// existing and having room under `max` (expired keys not yet reclaimed still take room;
    /// the caller then reads and rewrites instead).
    pub fn add_active_key(
        table: &str,
        merchant: &MerchantId,
        application: ApplicationId,
        key: KeyId,
        entry: &LiveKey,
        max: u32,
    ) -> UpdateBuilder {
        Update::builder()
            .table_name(table)
            .key(PK, string_value(merchant_pk(merchant)))
            .key(SK, string_value(keyring_sk(application)))
            .update_expression("SET activeKeys.#key = :entry, version = version + :one")
            .condition_expression("attribute_exists(PK) AND size(activeKeys) < :max")
            .expression_attribute_names("#key", key.to_string())
            .expression_attribute_values(":entry", entry.to_value())
            .expression_attribute_values(":one", number_value(1))
            .expression_attribute_values(":max", number_value(max))
    }

    /// Writes this keyring in place of the one read at `self.version`, which it must still be.
    pub fn replace(
        &self,
        table: &str,
        merchant: &MerchantId,
        application: ApplicationId,
    ) -> UpdateBuilder {
        let entries = |keys: &BTreeMap<KeyId, LiveKey>| {
            AttributeValue::M(
                keys.iter()
                    .map(|(id, key)| (id.to_string(), key.to_value()))
                    .collect(),
            )
        };
        let retired = self
            .retired
            .iter()
            .map(|id| string_value(id.to_string()))
            .collect();
        Update::builder()
            .table_name(table)
            .key(PK, string_value(merchant_pk(merchant)))
            .key(SK, string_value(keyring_sk(application)))
            .update_expression(
                "SET activeKeys = :active, rolledKeys = :rolled, retiredKeys = :retired, version = :next",
            )
            .condition_expression("version = :seen")
            .expression_attribute_values(":active", entries(&self.active))
            .expression_attribute_values(":rolled", entries(&self.rolled))
            .expression_attribute_values(":retired", AttributeValue::L(retired))
            .expression_attribute_values(":seen", number_value(self.version))
            .expression_attribute_values(":next", number_value(self.version + 1))
    }

    /// Conditions a transaction on the keyring being still as read, without writing it.
    pub fn unchanged(
        &self,
        table: &str,
        merchant: &MerchantId,
        application: ApplicationId,
    ) -> ConditionCheckBuilder {
        ConditionCheck::builder()
            .table_name(table)
            .key(PK, string_value(merchant_pk(merchant)))
            .key(SK, string_value(keyring_sk(application)))
            .condition_expression("version = :seen")
            .expression_attribute_values(":seen", number_value(self.version))
    }
}

fn parse_key_id(id: &str) -> Result<KeyId, StoreError> {
    KeyId::parse(id).ok_or_else(|| StoreError::CorruptItem(format!("keyring key id {id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(expires: Option<i64>) -> LiveKey {
        LiveKey {
            hash_hex: "ab".repeat(32),
            expires_at: expires.map(Timestamp::from_epoch_seconds),
        }
    }

    #[test]
    fn expired_keys_stop_counting_and_are_reclaimed_in_expiry_order() {
        let now = Timestamp::from_epoch_seconds(1000);
        let mut ring = Keyring::empty();
        let (a, b, c, d) = (KeyId::new(), KeyId::new(), KeyId::new(), KeyId::new());
        ring.active.insert(a, live(None));
        ring.active.insert(b, live(Some(900)));
        ring.active.insert(c, live(Some(1000)));
        ring.rolled.insert(d, live(Some(800)));
        assert_eq!(ring.counted(now), 1);
        assert_eq!(
            ring.working(now).map(|(id, _)| *id).collect::<Vec<_>>(),
            vec![a]
        );
        ring.reclaim_expired(now);
        assert_eq!(ring.active.keys().copied().collect::<Vec<_>>(), vec![a]);
        assert!(ring.rolled.is_empty());
        assert_eq!(ring.retired, vec![d, b, c]);
    }

    #[test]
    fn only_retired_keys_past_the_bound_are_dropped_oldest_first_within_room() {
        let mut ring = Keyring::empty();
        ring.retired = (0..RETIRED_KEYS_KEPT + 5).map(|_| KeyId::new()).collect();
        let oldest: Vec<KeyId> = ring.retired[..5].to_vec();
        assert_eq!(ring.drop_oldest_retired(3), oldest[..3]);
        assert_eq!(ring.drop_oldest_retired(10), oldest[3..]);
        assert_eq!(ring.retired.len(), RETIRED_KEYS_KEPT);
        assert!(ring.drop_oldest_retired(10).is_empty());
    }

    #[test]
    fn a_keyring_survives_its_item_form() {
        let mut ring = Keyring::empty();
        ring.active.insert(KeyId::new(), live(None));
        ring.rolled.insert(KeyId::new(), live(Some(5)));
        ring.retired.push(KeyId::new());
        ring.version = 7;
        let update = ring
            .replace(
                "t",
                &MerchantId::from_claim("m").unwrap(),
                ApplicationId::new(),
            )
            .build()
            .unwrap();
        let values = update.expression_attribute_values().unwrap();
        let item = Item::from([
            ("activeKeys".to_owned(), values[":active"].clone()),
            ("rolledKeys".to_owned(), values[":rolled"].clone()),
            ("retiredKeys".to_owned(), values[":retired"].clone()),
            ("version".to_owned(), values[":seen"].clone()),
        ]);
        assert_eq!(Keyring::from_item(&item).unwrap(), ring);
    }
}

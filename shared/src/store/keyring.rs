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
//! - `retiredKeys`: keys that no longer verify, with when they stopped, oldest first. Past
//!   [`RETIRED_KEYS_KEPT`], the oldest key items are deleted in the retiring transaction.
//! - `version`: bumped by every write, so that a writer that read the keyring can condition its
//!   transaction on nothing having changed since.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::builders::{ConditionCheckBuilder, PutBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, Update};

use super::codec::{
    get_count, get_list, get_map, get_optional_time, get_string, get_time, number_value,
    string_value, time_value, Item,
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

/// How far apart two functions' clocks may be. A key that expired less than this ago may still
/// be allowed by an authorizer whose clock is behind, so disabling its application still
/// rewrites its lookup record, and it only leaves the keyring's working keys after this. (Lambda
/// hosts keep time with the Amazon Time Sync Service, far closer than this.)
pub const CLOCK_SKEW_MARGIN_SECONDS: i64 = 60;

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

    /// Whether some authorizer, its clock up to the skew margin behind, may still allow it.
    fn may_work_somewhere_at(&self, now: Timestamp) -> bool {
        self.works_at(now.plus_seconds(-CLOCK_SKEW_MARGIN_SECONDS))
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

/// A key that no longer verifies, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetiredKey {
    pub id: KeyId,
    pub stopped_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyring {
    pub active: BTreeMap<KeyId, LiveKey>,
    pub rolled: BTreeMap<KeyId, LiveKey>,
    /// Oldest stop first.
    pub retired: Vec<RetiredKey>,
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
                AttributeValue::M(entry) => Ok(RetiredKey {
                    id: parse_key_id(get_string(entry, "key")?)?,
                    stopped_at: get_time(entry, "stoppedAt")?,
                }),
                _ => Err(StoreError::CorruptItem("retired key is not a map".into())),
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

    /// Every key whose lookup record an authorizer may still allow at `now` (give or take the
    /// clock skew margin): what disabling or enabling the application must rewrite.
    pub fn working(&self, now: Timestamp) -> impl Iterator<Item = (&KeyId, &LiveKey)> {
        self.active
            .iter()
            .chain(&self.rolled)
            .filter(move |(_, key)| key.may_work_somewhere_at(now))
    }

    /// Records that `id` stopped working at `stopped_at` (once, however often it is told).
    pub fn retire(&mut self, id: KeyId, stopped_at: Timestamp) {
        self.active.remove(&id);
        self.rolled.remove(&id);
        if self.retired.iter().any(|retired| retired.id == id) {
            return;
        }
        let at = self
            .retired
            .partition_point(|retired| retired.stopped_at <= stopped_at);
        self.retired.insert(at, RetiredKey { id, stopped_at });
    }

    /// Stops counting active keys that have expired by `now`: those that expired more than the
    /// clock skew margin ago retire; the others wait among the rolled keys (which do not count
    /// but which disabling still rewrites) until the margin has passed.
    pub fn reclaim_expired(&mut self, now: Timestamp) {
        let expired: Vec<(KeyId, LiveKey)> = self
            .active
            .iter()
            .filter(|(_, key)| !key.works_at(now))
            .map(|(id, key)| (*id, key.clone()))
            .collect();
        for (id, key) in expired {
            self.active.remove(&id);
            self.rolled.insert(id, key);
        }
        let gone: Vec<(KeyId, Timestamp)> = self
            .rolled
            .iter()
            .filter(|(_, key)| !key.may_work_somewhere_at(now))
            .filter_map(|(id, key)| key.expires_at.map(|expires| (*id, expires)))
            .collect();
        for (id, expires) in gone {
            self.retire(id, expires);
        }
    }

    /// Takes the longest-stopped retired keys beyond [`RETIRED_KEYS_KEPT`] off the list (at
    /// most `room` of them: what the transaction has room to delete) and returns them, for their
    /// key items to be deleted in the same transaction. Any excess goes at the next write.
    pub fn drop_oldest_retired(&mut self, room: usize) -> Vec<KeyId> {
        let excess = self
            .retired
            .len()
            .saturating_sub(RETIRED_KEYS_KEPT)
            .min(room);
        self.retired
            .drain(..excess)
            .map(|retired| retired.id)
            .collect()
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
            .map(|retired| {
                AttributeValue::M(Item::from([
                    ("key".to_owned(), string_value(retired.id.to_string())),
                    ("stoppedAt".to_owned(), time_value(retired.stopped_at)),
                ]))
            })
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

    fn ids(retired: &[RetiredKey]) -> Vec<KeyId> {
        retired.iter().map(|retired| retired.id).collect()
    }

    #[test]
    fn expired_keys_stop_counting_at_once_and_retire_in_expiry_order_after_the_skew_margin() {
        let now = Timestamp::from_epoch_seconds(1000);
        let mut ring = Keyring::empty();
        let (a, b, c, d, e) = (
            KeyId::new(),
            KeyId::new(),
            KeyId::new(),
            KeyId::new(),
            KeyId::new(),
        );
        ring.active.insert(a, live(None));
        ring.active.insert(b, live(Some(900)));
        ring.active.insert(c, live(Some(1000)));
        ring.rolled.insert(d, live(Some(800)));
        // Expired 30 s ago: a slow clock may still allow it.
        ring.active.insert(e, live(Some(970)));
        assert_eq!(ring.counted(now), 1);
        let working: Vec<KeyId> = ring.working(now).map(|(id, _)| *id).collect();
        assert_eq!(working.len(), 3, "a, and c and e within the margin");
        assert!(working.contains(&a) && working.contains(&c) && working.contains(&e));
        ring.reclaim_expired(now);
        assert_eq!(ring.active.keys().copied().collect::<Vec<_>>(), vec![a]);
        assert_eq!(
            ring.rolled.len(),
            2,
            "c and e wait out the margin without counting"
        );
        assert_eq!(ids(&ring.retired), vec![d, b]);
        ring.reclaim_expired(now.plus_seconds(CLOCK_SKEW_MARGIN_SECONDS));
        assert!(ring.rolled.is_empty());
        assert_eq!(ids(&ring.retired), vec![d, b, e, c]);
    }

    #[test]
    fn the_retired_list_is_ordered_by_when_keys_stopped_and_holds_each_once() {
        let mut ring = Keyring::empty();
        let (early, late, revoked) = (KeyId::new(), KeyId::new(), KeyId::new());
        ring.retire(revoked, Timestamp::from_epoch_seconds(80));
        ring.retire(late, Timestamp::from_epoch_seconds(90));
        // An expiry found only now, but which happened first, sorts first.
        ring.retire(early, Timestamp::from_epoch_seconds(1));
        ring.retire(revoked, Timestamp::from_epoch_seconds(95));
        assert_eq!(ids(&ring.retired), vec![early, revoked, late]);
    }

    #[test]
    fn only_retired_keys_past_the_bound_are_dropped_longest_stopped_first_within_room() {
        let mut ring = Keyring::empty();
        let keys: Vec<KeyId> = (0..RETIRED_KEYS_KEPT + 5).map(|_| KeyId::new()).collect();
        for (i, id) in keys.iter().enumerate().rev() {
            ring.retire(*id, Timestamp::from_epoch_seconds(i as i64));
        }
        assert_eq!(ring.drop_oldest_retired(3), keys[..3]);
        assert_eq!(ring.drop_oldest_retired(10), keys[3..5]);
        assert_eq!(ring.retired.len(), RETIRED_KEYS_KEPT);
        assert!(ring.drop_oldest_retired(10).is_empty());
    }

    #[test]
    fn a_keyring_survives_its_item_form() {
        let mut ring = Keyring::empty();
        ring.active.insert(KeyId::new(), live(None));
        ring.rolled.insert(KeyId::new(), live(Some(5)));
        ring.retire(KeyId::new(), Timestamp::from_epoch_seconds(3));
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

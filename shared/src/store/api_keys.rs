//! API keys: create and revoke. The store never sees a full key: it gets the key's display
//! prefix and its keyed hash.

#[cfg(feature = "test-util")]
use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_sdk_dynamodb::types::{ConditionCheck, Update};

use super::audit::{event_put, Subject};
use super::codec::{bool_value, get_bool, string_value, time_value};
use super::idempotency::{record_put, IdempotencyClaim, Idempotent, StoredResponse, Written};
use super::key_items::{
    delete_key_item, forget_after, key_item, lookup_record, StoredKey, STORED_ACTIVE,
    STORED_REVOKED,
};
use super::keyring::{Keyring, LiveKey, LIVE_KEYS_MAX};
use super::keys::{application_sk, key_sk, lookup_pk_from_hex, merchant_pk, LOOKUP_SK, PK, SK};
use super::transaction::{self, Outcome, Retry, Slot, Transaction, MAX_TRANSACTION_ITEMS};
use super::{Store, TTL_ATTRIBUTE};
use crate::api_key::KeyHash;
use crate::audit::{EventType, Origin};
use crate::domain::{ApplicationId, Description, IssuedKey, KeyId, KeyStatus, MerchantId};
use crate::error::StoreError;
use crate::time::Timestamp;

/// A key about to be stored: what the merchant will see of it, and its keyed hash.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub description: Description,
    /// The first characters of the full key, as listings show them.
    pub key_prefix: String,
    pub hash: KeyHash,
    pub expires_at: Option<Timestamp>,
}

/// The create-key transaction and where each of its items sits.
struct CreateKey {
    transaction: Transaction,
    /// The keyring: the key added, conditioned on room under the limit.
    keyring: Slot,
    /// The application: conditioned on its `isEnabled` being the value copied into the lookup.
    application: Slot,
    /// The key item, under a fresh id.
    key: Slot,
    /// The request's idempotency record, conditioned on its key being free.
    record: Option<Slot>,
}

/// How the create-key transaction changes the keyring.
enum KeyringChange {
    /// Add the key without having read the keyring (the common case).
    Add,
    /// Replace the keyring read at its version with this one (expired keys' places reclaimed,
    /// the new key added); the retired keys it drops past the bound have their items deleted in
    /// the same transaction.
    Replace(Keyring),
}

impl Store {
    #[allow(clippy::too_many_arguments)]
    fn create_key_transaction(
        &self,
        merchant: &MerchantId,
        issued: &IssuedKey,
        hash: &KeyHash,
        enabled: bool,
        change: KeyringChange,
        origin: &Origin,
        record: Option<(&IdempotencyClaim, &StoredResponse)>,
    ) -> Result<CreateKey, StoreError> {
        let (table, max_keys) = (self.table.as_str(), self.limits.max_keys_per_application);
        let application = issued.application_id;
        let mut transaction = Transaction::new();
        let application_slot = transaction.condition_check(
            ConditionCheck::builder()
                .table_name(table)
                .key(PK, string_value(merchant_pk(merchant)))
                .key(SK, string_value(application_sk(application)))
                .condition_expression("attribute_exists(PK) AND isEnabled = :enabled")
                .expression_attribute_values(":enabled", bool_value(enabled)),
        )?;
        let key = transaction.put(key_item(table, merchant, issued, hash))?;
        transaction.put(lookup_record(table, merchant, issued, hash, enabled))?;
        transaction.put(event_put(
            table,
            merchant,
            application,
            &Subject::key(EventType::ApiKeyCreated, issued.id, &issued.key_prefix),
            origin,
            issued.created_at,
        ))?;
        let record = match record {
            Some((claim, response)) => {
                Some(transaction.put(record_put(table, merchant, claim, response))?)
            }
            None => None,
        };
        // The keyring last: a rewrite trims the history with the room the transaction has left.
        let keyring = match change {
            KeyringChange::Add => transaction.update(Keyring::add_active_key(
                table,
                merchant,
                application,
                issued.id,
                &LiveKey {
                    hash_hex: hash.to_hex(),
                    expires_at: issued.expires_at,
                },
                max_keys,
            ))?,
            KeyringChange::Replace(next) => {
                replace_keyring(&mut transaction, table, merchant, application, next)?
            }
        };
        Ok(CreateKey {
            transaction,
            keyring,
            application: application_slot,
            key,
            record,
        })
    }
}

/// Adds the keyring's replacement to `transaction`, last, with the deletion of the key items of
/// the oldest retired keys past the bound, as many as the transaction has room for.
pub(super) fn replace_keyring(
    transaction: &mut Transaction,
    table: &str,
    merchant: &MerchantId,
    application: ApplicationId,
    mut next: Keyring,
) -> Result<Slot, StoreError> {
    let room = MAX_TRANSACTION_ITEMS.saturating_sub(transaction.len() + 1);
    let dropped = next.drop_oldest_retired(room);
    let slot = transaction.update(next.replace(table, merchant, application))?;
    for old in dropped {
        transaction.delete(delete_key_item(table, merchant, application, old))?;
    }
    Ok(slot)
}

/// The items of the create-key transaction's common case, for the benchmark's raw floor.
#[cfg(feature = "test-util")]
pub fn create_key_transaction_items(
    store: &Store,
    merchant: &MerchantId,
    application: ApplicationId,
    new: &NewKey,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let issued = issue(application, new, store.clock.now());
    let write = store.create_key_transaction(
        merchant,
        &issued,
        &new.hash,
        true,
        KeyringChange::Add,
        &Origin::system("benchmark"),
        None,
    )?;
    Ok(write.transaction.items().to_vec())
}

fn issue(application: ApplicationId, new: &NewKey, now: Timestamp) -> IssuedKey {
    IssuedKey {
        id: KeyId::new(),
        application_id: application,
        key_prefix: new.key_prefix.clone(),
        description: new.description.clone(),
        created_at: now,
        expires_at: new.expires_at,
    }
}

impl Store {
    /// One transaction: add the key to its application's keyring (conditioned on room under
    /// the limit), check the application's `isEnabled` against the value copied into the lookup
    /// record, write the key and its lookup record. Most applications are enabled and have room,
    /// so the first attempt assumes both and reads nothing; only when a condition fails are the
    /// application and its keyring read, to tell "not found", "limit reached" and "disabled"
    /// apart, and to reclaim the places of expired keys.
    pub async fn create_api_key(
        &self,
        merchant: &MerchantId,
        application: ApplicationId,
        new: NewKey,
        origin: &Origin,
        idempotency: Option<Idempotent<'_, IssuedKey>>,
    ) -> Result<Written<IssuedKey>, StoreError> {
        let max = self.limits.max_keys_per_application;
        let issued = issue(application, &new, self.clock.now());
        let mut attempts = self.attempts();
        let (mut enabled, mut change) = (true, KeyringChange::Add);
        let mut read_before = false;
        let rendered = match idempotency {
            Some(idempotent) => Some((idempotent.claim, (idempotent.render)(&issued)?)),
            None => None,
        };
        let record = rendered
            .as_ref()
            .map(|(claim, response)| (*claim, response));
        loop {
            let write = self.create_key_transaction(
                merchant, &issued, &new.hash, enabled, change, origin, record,
            )?;
            match transaction::run(&self.client, &write.transaction, &mut attempts).await? {
                Outcome::Committed => return Ok(Written::Fresh(issued)),
                // The key item has this request's fresh id: only an earlier attempt of this very
                // transaction can have written it (the SDK retried after losing the response).
                Outcome::Cancelled(cancel) if cancel.failed(write.key) => {
                    return Ok(Written::Fresh(issued))
                }
                // Another request holds the idempotency key: its answer is this one's.
                Outcome::Cancelled(cancel)
                    if write.record.is_some_and(|slot| cancel.failed(slot)) =>
                {
                    let claim = record
                        .map(|(claim, _)| claim)
                        .ok_or_else(|| cancel.unexpected())?;
                    if let Some(theirs) =
                        self.replay_or_retry(merchant, claim, &mut attempts).await?
                    {
                        return Ok(Written::Replayed(theirs));
                    }
                    change = KeyringChange::Add;
                    continue;
                }
                Outcome::Cancelled(cancel)
                    if cancel.failed(write.keyring) || cancel.failed(write.application) => {}
                Outcome::Cancelled(cancel) => return Err(cancel.unexpected()),
            }
            // Missing, full, or not as assumed: read what is there.
            if read_before {
                attempts.wait(Retry::Changed).await?;
            }
            read_before = true;
            let (item, keyring) = self
                .application_and_keyring(merchant, application, &mut attempts)
                .await?;
            enabled = get_bool(&item, "isEnabled")?;
            let now = self.clock.now();
            if keyring.counted(now) >= max as usize {
                return Err(StoreError::KeyLimitReached { max });
            }
            change = if keyring.active.len() < max as usize {
                KeyringChange::Add
            } else {
                let mut next = keyring;
                next.reclaim_expired(now);
                // The keys just reclaimed wait among the rolled keys for the clock skew margin,
                // and disabling rewrites every one of them with the active keys in one
                // transaction: their number stays within what the roll allows.
                let max_waiting = LIVE_KEYS_MAX.saturating_sub(max as usize);
                if next.rolled.len() > max_waiting {
                    return Err(StoreError::TooManyKeysWindingDown { max: max_waiting });
                }
                next.active.insert(
                    issued.id,
                    LiveKey {
                        hash_hex: new.hash.to_hex(),
                        expires_at: issued.expires_at,
                    },
                );
                KeyringChange::Replace(next)
            };
        }
    }

    /// What a revocation reads of the key and its keyring: nothing else, so that the leaked-key
    /// report function, which revokes this way, may be granted just these (`dynamodb:Attributes`)
    /// and cannot read what else a merchant's partition holds (sealed full keys in idempotency
    /// records above all: found by review).
    pub const REVOCATION_READS: &'static [&'static str] = &[
        // The key (`StoredKey::from_item`).
        "keyStatus",
        "expiresAt",
        "keyHash",
        "keyPrefix",
        "description",
        "revocationId",
        "rolledTo",
        // The keyring (`Keyring::from_item`).
        "activeKeys",
        "rolledKeys",
        "retiredKeys",
        "version",
    ];

    /// One transaction: mark the key revoked (only if it is still active and unexpired), mark its
    /// lookup record, and move it from its application's keyring to the retired list (which
    /// frees its place under the limit). Of concurrent revocations, exactly one passes the
    /// `keyStatus = active` condition; the keyring's version condition makes the list exact.
    pub async fn revoke_api_key(
        &self,
        merchant: &MerchantId,
        application: ApplicationId,
        key: KeyId,
        origin: &Origin,
    ) -> Result<(), StoreError> {
        // Marks the revocation as this request's, so that a retry of an attempt whose response
        // was lost can tell its own revocation from another request's.
        let revocation = uuid::Uuid::now_v7().to_string();
        let pk = merchant_pk(merchant);
        let (key_sk, keyring_sk) = (
            key_sk(application, key),
            super::keys::keyring_sk(application),
        );
        let mut attempts = self.attempts();
        let mut attempted = false;
        loop {
            if attempted {
                attempts.wait(Retry::Changed).await?;
            }
            attempted = true;
            let mut items = self
                .get_consistent_many(
                    &pk,
                    &[&key_sk, &keyring_sk],
                    Some(Self::REVOCATION_READS),
                    &mut attempts,
                )
                .await?;
            let (Some(key_item), Some(keyring_item)) =
                (items.remove(&key_sk), items.remove(&keyring_sk))
            else {
                return Err(StoreError::KeyNotFound);
            };
            let stored = StoredKey::from_item(&key_item)?;
            if stored.revocation_id.as_deref() == Some(revocation.as_str()) {
                return Ok(());
            }
            let now = self.clock.now();
            match stored.status(now) {
                KeyStatus::Revoked => return Err(StoreError::KeyAlreadyRevoked),
                KeyStatus::Expired => return Err(StoreError::KeyExpired),
                KeyStatus::Active => {}
            }
            let mut next = Keyring::from_item(&keyring_item)?;
            next.reclaim_expired(now);
            next.retire(key, now);

            let mut transaction = Transaction::new();
            let key_slot = transaction.update(
                Update::builder()
                    .table_name(&self.table)
                    .key(PK, string_value(&pk))
                    .key(SK, string_value(&key_sk))
                    .update_expression("SET keyStatus = :revoked, revokedAt = :now, revocationId = :revocation, #ttl = :forget")
                    .condition_expression("keyStatus = :active AND (attribute_not_exists(expiresAt) OR expiresAt > :now)")
                    .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                    .expression_attribute_values(":revoked", string_value(STORED_REVOKED))
                    .expression_attribute_values(":active", string_value(STORED_ACTIVE))
                    .expression_attribute_values(":now", time_value(now))
                    .expression_attribute_values(":revocation", string_value(&revocation))
                    .expression_attribute_values(":forget", time_value(forget_after(now))),
            )?;
            transaction.update(
                Update::builder()
                    .table_name(&self.table)
                    .key(PK, string_value(lookup_pk_from_hex(&stored.hash_hex)))
                    .key(SK, string_value(LOOKUP_SK))
                    .update_expression("SET keyStatus = :revoked, #ttl = :forget")
                    .condition_expression("attribute_exists(PK)")
                    .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                    .expression_attribute_values(":revoked", string_value(STORED_REVOKED))
                    .expression_attribute_values(":forget", time_value(forget_after(now))),
            )?;
            transaction.put(event_put(
                &self.table,
                merchant,
                application,
                &Subject::key(EventType::ApiKeyRevoked, key, &stored.key_prefix),
                origin,
                now,
            ))?;
            let keyring =
                replace_keyring(&mut transaction, &self.table, merchant, application, next)?;
            match transaction::run(&self.client, &transaction, &mut attempts).await? {
                Outcome::Committed => return Ok(()),
                // Another request revoked it, the key expired, or this request's own earlier
                // attempt was applied and its response lost: the next read tells which.
                Outcome::Cancelled(cancel) if cancel.failed(key_slot) || cancel.failed(keyring) => {
                    continue
                }
                Outcome::Cancelled(cancel) => return Err(cancel.unexpected()),
            }
        }
    }
}

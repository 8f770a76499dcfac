//! Rolling a key: a new key replaces it, and the old one keeps working for a grace window so
//! that a merchant can deploy the new key before the old one stops.

use aws_sdk_dynamodb::types::{ConditionCheck, Update};

use super::api_keys::replace_keyring;
use super::audit::{event_put, Subject};
use super::codec::{bool_value, get_bool, string_value, time_value};
use super::idempotency::{record_put, Idempotent, Written};
use super::key_items::{
    forget_after, key_item, lookup_record, StoredKey, STORED_ACTIVE, STORED_REVOKED,
};
use super::keyring::{LiveKey, LIVE_KEYS_MAX};
use super::keys::{
    application_sk, key_sk, keyring_sk, lookup_pk_from_hex, merchant_pk, LOOKUP_SK, PK, SK,
};
use super::transaction::{self, Outcome, Retry, Transaction};
use super::{Store, TTL_ATTRIBUTE};
use crate::api_key::KeyHash;
use crate::audit::{EventType, Origin};
use crate::domain::{ApplicationId, IssuedKey, KeyId, KeyStatus, MerchantId};
use crate::error::StoreError;
use crate::time::Timestamp;

/// The longest grace window a roll may give the old key: 7 days, as Stripe allows.
pub const MAX_GRACE_SECONDS: i64 = 7 * 24 * 60 * 60;

/// A roll about to be stored: how long the old key keeps working, and the new key's prefix and
/// keyed hash (its description and expiry are the old key's).
#[derive(Debug, Clone)]
pub struct Roll {
    /// 0 revokes the old key at once.
    pub grace_seconds: i64,
    pub key_prefix: String,
    pub hash: KeyHash,
}

/// What a roll did: the new key, and the old key's id and new end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rolled {
    pub new_key: IssuedKey,
    pub old_key: KeyId,
    /// When the old key stops working (now, for a grace window of 0).
    pub old_expires_at: Timestamp,
}

impl Store {
    /// One transaction: the old key's item and lookup record get the shorter of their expiry and
    /// the end of the grace window (or are revoked, for a window of 0) and the id of the key that
    /// replaced them; the new key and its lookup record are written with the old key's
    /// description and expiry; the keyring moves the old key from the active ones (which count
    /// toward the limit) to the rolled ones (which still verify) and adds the new one, so a roll
    /// neither frees nor takes a place. The old key's conditions (active, unexpired, not rolled)
    /// let exactly one of concurrent rolls through; the application's `isEnabled` and the
    /// keyring's version make the new lookup record exact against a concurrent disable.
    pub async fn roll_api_key(
        &self,
        merchant: &MerchantId,
        application: ApplicationId,
        key: KeyId,
        roll: Roll,
        origin: &Origin,
        idempotency: Option<Idempotent<'_, Rolled>>,
    ) -> Result<Written<Rolled>, StoreError> {
        let grace = roll.grace_seconds.clamp(0, MAX_GRACE_SECONDS);
        let new_id = KeyId::new();
        let pk = merchant_pk(merchant);
        let (application_sk, keyring_sk, old_sk) = (
            application_sk(application),
            keyring_sk(application),
            key_sk(application, key),
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
                    &[&application_sk, &keyring_sk, &old_sk],
                    None,
                    &mut attempts,
                )
                .await?;
            let (Some(application_item), Some(keyring_item), Some(old_item)) = (
                items.remove(&application_sk),
                items.remove(&keyring_sk),
                items.remove(&old_sk),
            ) else {
                return Err(StoreError::KeyNotFound);
            };
            let old = StoredKey::from_item(&old_item)?;
            let now = self.clock.now();
            let new_key = IssuedKey {
                id: new_id,
                application_id: application,
                key_prefix: roll.key_prefix.clone(),
                description: old.description.clone(),
                created_at: now,
                expires_at: old.expires_at,
            };
            // This request's own earlier attempt, applied and its response lost.
            if old.rolled_to.as_deref() == Some(new_id.to_string().as_str()) {
                let old_expires_at = old.expires_at.unwrap_or(now);
                return Ok(Written::Fresh(Rolled {
                    new_key,
                    old_key: key,
                    old_expires_at,
                }));
            }
            if old.rolled_to.is_some() {
                return Err(StoreError::KeyAlreadyRolled);
            }
            match old.status(now) {
                KeyStatus::Revoked => return Err(StoreError::KeyAlreadyRevoked),
                KeyStatus::Expired => return Err(StoreError::KeyExpired),
                KeyStatus::Active => {}
            }
            let enabled = get_bool(&application_item, "isEnabled")?;
            let window_end = now.plus_seconds(grace);
            let old_expires_at = old
                .expires_at
                .map_or(window_end, |current| current.min(window_end));

            let mut next = super::keyring::Keyring::from_item(&keyring_item)?;
            next.active.remove(&key);
            next.rolled.remove(&key);
            if grace == 0 {
                next.retire(key, now);
            } else {
                next.rolled.insert(
                    key,
                    LiveKey {
                        hash_hex: old.hash_hex.clone(),
                        expires_at: Some(old_expires_at),
                    },
                );
            }
            next.active.insert(
                new_id,
                LiveKey {
                    hash_hex: roll.hash.to_hex(),
                    expires_at: new_key.expires_at,
                },
            );
            next.reclaim_expired(now);
            let max_rolled =
                LIVE_KEYS_MAX.saturating_sub(self.limits.max_keys_per_application as usize);
            if next.rolled.len() > max_rolled {
                return Err(StoreError::TooManyRolledKeys { max: max_rolled });
            }

            let mut transaction = Transaction::new();
            let application_slot = transaction.condition_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .key(PK, string_value(&pk))
                    .key(SK, string_value(&application_sk))
                    .condition_expression("attribute_exists(PK) AND isEnabled = :enabled")
                    .expression_attribute_values(":enabled", bool_value(enabled)),
            )?;
            let (old_key_update, old_lookup_update) = if grace == 0 {
                (
                    Update::builder()
                        .update_expression("SET keyStatus = :revoked, revokedAt = :now, rolledTo = :new, #ttl = :forget")
                        .expression_attribute_values(":revoked", string_value(STORED_REVOKED))
                        .expression_attribute_values(":new", string_value(new_id.to_string())),
                    Update::builder()
                        .update_expression("SET keyStatus = :revoked, #ttl = :forget")
                        .expression_attribute_values(":revoked", string_value(STORED_REVOKED)),
                )
            } else {
                (
                    Update::builder()
                        .update_expression(
                            "SET expiresAt = :expires, rolledTo = :new, #ttl = :forget",
                        )
                        .expression_attribute_values(":expires", time_value(old_expires_at))
                        .expression_attribute_values(":new", string_value(new_id.to_string())),
                    Update::builder()
                        .update_expression("SET expiresAt = :expires, #ttl = :forget")
                        .expression_attribute_values(":expires", time_value(old_expires_at)),
                )
            };
            let old_slot = transaction.update(
                old_key_update
                    .table_name(&self.table)
                    .key(PK, string_value(&pk))
                    .key(SK, string_value(&old_sk))
                    .condition_expression(
                        "keyStatus = :active AND attribute_not_exists(rolledTo) AND (attribute_not_exists(expiresAt) OR expiresAt > :now)",
                    )
                    .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                    .expression_attribute_values(":active", string_value(STORED_ACTIVE))
                    .expression_attribute_values(":now", time_value(now))
                    .expression_attribute_values(":forget", time_value(forget_after(old_expires_at))),
            )?;
            transaction.update(
                old_lookup_update
                    .table_name(&self.table)
                    .key(PK, string_value(lookup_pk_from_hex(&old.hash_hex)))
                    .key(SK, string_value(LOOKUP_SK))
                    .condition_expression("attribute_exists(PK)")
                    .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                    .expression_attribute_values(
                        ":forget",
                        time_value(forget_after(old_expires_at)),
                    ),
            )?;
            let rolled = Rolled {
                new_key: new_key.clone(),
                old_key: key,
                old_expires_at,
            };
            let mut subject = Subject::key(EventType::ApiKeyRolled, key, &old.key_prefix);
            subject.new_key = Some((new_id, &new_key.key_prefix));
            transaction.put(event_put(
                &self.table,
                merchant,
                application,
                &subject,
                origin,
                now,
            ))?;
            let rendered = match idempotency {
                Some(idempotent) => Some((idempotent.claim, (idempotent.render)(&rolled)?)),
                None => None,
            };
            let record_slot = match &rendered {
                Some((claim, response)) => {
                    Some(transaction.put(record_put(&self.table, merchant, claim, response))?)
                }
                None => None,
            };
            let new_slot =
                transaction.put(key_item(&self.table, merchant, &new_key, &roll.hash))?;
            transaction.put(lookup_record(
                &self.table,
                merchant,
                &new_key,
                &roll.hash,
                enabled,
            ))?;
            let keyring_slot =
                replace_keyring(&mut transaction, &self.table, merchant, application, next)?;
            match transaction::run(&self.client, &transaction, &mut attempts).await? {
                Outcome::Committed => return Ok(Written::Fresh(rolled)),
                // The new key item has this request's fresh id: only an earlier attempt of this
                // very transaction can have written it.
                Outcome::Cancelled(cancel) if cancel.failed(new_slot) => {
                    return Ok(Written::Fresh(rolled))
                }
                // Another request holds the idempotency key: its answer is this one's.
                Outcome::Cancelled(cancel)
                    if record_slot.is_some_and(|slot| cancel.failed(slot)) =>
                {
                    let claim = rendered
                        .as_ref()
                        .map(|(claim, _)| *claim)
                        .ok_or_else(|| cancel.unexpected())?;
                    if let Some(theirs) = self.recorded(merchant, claim, &attempts).await? {
                        return Ok(Written::Replayed(theirs));
                    }
                }
                // Rolled, revoked or expired meanwhile, or the application or keyring changed:
                // the next read tells which.
                Outcome::Cancelled(cancel)
                    if cancel.failed(old_slot)
                        || cancel.failed(application_slot)
                        || cancel.failed(keyring_slot) => {}
                Outcome::Cancelled(cancel) => return Err(cancel.unexpected()),
            }
        }
    }
}

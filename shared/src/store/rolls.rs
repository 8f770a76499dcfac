//! Rolling a key: a new key replaces it, and the old one keeps working for a grace window so
//! that a merchant can deploy the new key before the old one stops.

use super::items::{
    application, audit_event, idempotency_record, key, keyring, lookup_record, merchant_pk,
};
use super::keys::replace_keyring;
use super::retry::{Attempts, Retry};
use super::transaction::{self, Outcome, Transaction};
use super::{Caller, Recorder, Store, Written};
use crate::domain::audit::Subject;
use crate::domain::error::Missing;
use crate::domain::key::{rolled_key_end, IssuedKey, KeyStatus, Roll, Rolled};
use crate::domain::keyring::LiveKey;
use crate::domain::limits::MAX_GRACE_SECONDS;
use crate::domain::{ApplicationId, Error, KeyId, Refusal};

impl Store {
    /// One transaction: the old key's item and lookup record end at the grace window's end (or
    /// are revoked, for a window of 0) and name the key that replaced them; the new key and its
    /// lookup record are written with the old key's description and expiry, and its permissions
    /// unless the roll names others; the keyring moves the
    /// old key from the active ones to the rolled ones and adds the new one (`Keyring::roll`).
    /// The old key's condition (active, unexpired, not rolled) lets exactly one of concurrent
    /// rolls through; the application's `isEnabled` and the keyring's version keep the new lookup
    /// record exact against a concurrent disable.
    pub async fn roll_api_key(
        &self,
        caller: &Caller<'_>,
        application_id: ApplicationId,
        old_id: KeyId,
        roll: Roll,
        record: Option<&dyn Recorder<Rolled>>,
    ) -> Result<Written<Rolled>, Error> {
        let (table, merchant) = (self.table.as_str(), caller.merchant);
        let grace = roll.grace_seconds.clamp(0, MAX_GRACE_SECONDS);
        let new_id = KeyId::new();
        let pk = merchant_pk(merchant);
        let (application_sk, keyring_sk, old_sk) = (
            application::sk(application_id),
            keyring::sk(application_id),
            key::sk(application_id, old_id),
        );
        let mut attempts = Attempts::until(caller.deadline);
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
                return Err(Refusal::NotFound(Missing::Key).into());
            };
            let old = key::from_item(&old_item)?;
            let old_permissions = key::permissions_of(&old_item)?;
            let now = self.clock.now();
            let new_key = IssuedKey {
                id: new_id,
                application_id,
                key_prefix: roll.key_prefix.clone(),
                description: old.description.clone(),
                created_at: now,
                expires_at: old.expires_at,
                permissions: roll
                    .permissions
                    .clone()
                    .unwrap_or_else(|| old_permissions.clone()),
            };
            // This request's own earlier attempt, applied and its response lost.
            if old.rolled_to == Some(new_id) {
                return Ok(Written::Fresh(Rolled {
                    new_key,
                    old_key: old_id,
                    old_expires_at: old.expires_at.unwrap_or(now),
                }));
            }
            if old.rolled_to.is_some() {
                return Err(Refusal::KeyAlreadyRolled.into());
            }
            match old.status(now) {
                KeyStatus::Revoked => return Err(Refusal::KeyAlreadyRevoked.into()),
                KeyStatus::Expired => return Err(Refusal::KeyExpired.into()),
                KeyStatus::Active => {}
            }
            let enabled = application::from_item(&application_item)?.is_enabled;
            let old_end = rolled_key_end(old.expires_at, now, grace);
            let mut next = keyring::from_item(&keyring_item)?;
            next.roll(
                old_id,
                old.hash,
                old_end,
                grace == 0,
                new_id,
                LiveKey {
                    hash: roll.hash,
                    expires_at: new_key.expires_at,
                },
                now,
                self.limits,
            )?;
            let rolled = Rolled {
                new_key,
                old_key: old_id,
                old_expires_at: old_end,
            };

            let mut transaction = Transaction::new();
            let application_slot = transaction.condition_check(
                application::exists_with_enabled(table, merchant, application_id, enabled),
            )?;
            let old_slot = transaction.update(key::roll_if_active(
                table,
                merchant,
                application_id,
                old_id,
                new_id,
                old_end,
                now,
                &old_permissions,
            ))?;
            transaction.update(lookup_record::end_at(table, &old.hash, old_end, now))?;
            transaction.put(audit_event::put_new(
                table,
                merchant,
                application_id,
                &Subject::roll(
                    (old_id, &old.key_prefix),
                    (new_id, &rolled.new_key.key_prefix),
                ),
                caller.origin,
                now,
            ))?;
            let record_slot = match record {
                Some(recorder) => Some(transaction.put(idempotency_record::put_if_free(
                    table,
                    merchant,
                    recorder.claim(),
                    &recorder.response(&rolled)?,
                ))?),
                None => None,
            };
            let new_slot =
                transaction.put(key::put_new(table, merchant, &rolled.new_key, &roll.hash))?;
            transaction.put(lookup_record::put_new(
                table,
                merchant,
                &rolled.new_key,
                &roll.hash,
                enabled,
            ))?;
            let keyring_slot =
                replace_keyring(&mut transaction, table, merchant, application_id, next)?;
            match transaction::run(&self.client, &transaction, &mut attempts).await? {
                Outcome::Committed => return Ok(Written::Fresh(rolled)),
                // The new key item has this request's fresh id: only an earlier attempt of this
                // very transaction can have written it.
                Outcome::Cancelled(cancel) if cancel.failed(new_slot) => {
                    return Ok(Written::Fresh(rolled))
                }
                Outcome::Cancelled(cancel)
                    if record_slot.is_some_and(|slot| cancel.failed(slot)) =>
                {
                    return Ok(Written::KeyHeld)
                }
                // Rolled, revoked or expired meanwhile, or the application or keyring changed:
                // the next read tells which.
                Outcome::Cancelled(cancel)
                    if cancel.failed(old_slot)
                        || cancel.failed(application_slot)
                        || cancel.failed(keyring_slot) => {}
                Outcome::Cancelled(cancel) => return Err(cancel.unexpected().into()),
            }
        }
    }
}

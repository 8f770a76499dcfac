//! API keys: create and revoke. The store never sees a full key: it gets the key's display
//! prefix and its keyed hash.

use super::items::{
    application, audit_event, idempotency_record, key, keyring, lookup_record, merchant_pk,
};
use super::retry::{Attempts, Retry};
use super::transaction::{self, Outcome, Slot, Transaction};
use super::{Caller, Recorder, Store, Written};
use crate::domain::audit::{EventType, Subject};
use crate::domain::error::Missing;
use crate::domain::key::{IssuedKey, KeyStatus, NewKey};
use crate::domain::keyring::{Admission, Keyring, LiveKey};
use crate::domain::limits::room_left;
use crate::domain::{ApplicationId, Error, Failure, KeyId, MerchantId, Refusal};

/// The create-key transaction and where each of its items sits.
pub struct CreateKey {
    pub(crate) transaction: Transaction,
    /// The keyring: the key added (conditioned on room under the limit), or replaced.
    keyring: Slot,
    /// The application: conditioned on its `isEnabled` being the value copied into the lookup.
    application: Slot,
    /// The key item, under a fresh id.
    key: Slot,
    /// The request's idempotency record, conditioned on its key being free.
    record: Option<Slot>,
}

/// Adds the keyring's replacement to `transaction`, last, with the deletion of the key items of
/// the oldest retired keys past the bound, as many as the transaction has room for.
pub(super) fn replace_keyring(
    transaction: &mut Transaction,
    table: &str,
    merchant: &MerchantId,
    application: ApplicationId,
    mut next: Keyring,
) -> Result<Slot, Failure> {
    let dropped = next.drop_oldest_retired(room_left(transaction.len()));
    let slot = transaction.update(keyring::replace_if_unchanged(
        table,
        merchant,
        application,
        &next,
    ))?;
    for old in dropped {
        transaction.delete(key::delete(table, merchant, application, old))?;
    }
    Ok(slot)
}

impl Store {
    /// One transaction: the key and its lookup record (which copies the application's
    /// `isEnabled`, checked in the same transaction), its audit event, the request's idempotency
    /// record, and the keyring, last: added to without a read while it has room, or replaced.
    pub(crate) fn create_key_transaction(
        &self,
        caller: &Caller<'_>,
        issued: &IssuedKey,
        new: &NewKey,
        enabled: bool,
        admission: Admission,
        record: Option<&dyn Recorder<IssuedKey>>,
    ) -> Result<CreateKey, Failure> {
        let (table, merchant) = (self.table.as_str(), caller.merchant);
        let id = issued.application_id;
        let mut transaction = Transaction::new();
        let application_slot = transaction.condition_check(application::exists_with_enabled(
            table, merchant, id, enabled,
        ))?;
        let key_slot = transaction.put(key::put_new(table, merchant, issued, &new.hash))?;
        transaction.put(lookup_record::put_new(
            table, merchant, issued, &new.hash, enabled,
        ))?;
        transaction.put(audit_event::put_new(
            table,
            merchant,
            id,
            &Subject::key(EventType::ApiKeyCreated, issued.id, &issued.key_prefix),
            caller.origin,
            issued.created_at,
        ))?;
        let record = match record {
            Some(recorder) => Some(transaction.put(idempotency_record::put_if_free(
                table,
                merchant,
                recorder.claim(),
                &recorder.response(issued)?,
            ))?),
            None => None,
        };
        let keyring_slot = match admission {
            Admission::Add => transaction.update(keyring::add_if_room(
                table,
                merchant,
                id,
                issued.id,
                &live(issued, new),
                self.limits.max_keys_per_application,
            ))?,
            Admission::Replace(next) => {
                replace_keyring(&mut transaction, table, merchant, id, next)?
            }
        };
        Ok(CreateKey {
            transaction,
            keyring: keyring_slot,
            application: application_slot,
            key: key_slot,
            record,
        })
    }

    /// Most applications are enabled and have room, so the first attempt assumes both and reads
    /// nothing; only when a condition fails are the application and its keyring read, to tell
    /// "not found", "limit reached" and "disabled" apart, and to reclaim the places of expired
    /// keys (`Keyring::admit` decides).
    pub async fn create_api_key(
        &self,
        caller: &Caller<'_>,
        application: ApplicationId,
        new: NewKey,
        record: Option<&dyn Recorder<IssuedKey>>,
    ) -> Result<Written<IssuedKey>, Error> {
        let issued = new.issue(application, self.clock.now());
        let mut attempts = Attempts::until(caller.deadline);
        let (mut enabled, mut admission) = (true, Admission::Add);
        let mut read_before = false;
        loop {
            let write =
                self.create_key_transaction(caller, &issued, &new, enabled, admission, record)?;
            match transaction::run(&self.client, &write.transaction, &mut attempts).await? {
                Outcome::Committed => return Ok(Written::Fresh(issued)),
                // The key item has this request's fresh id: only an earlier attempt of this very
                // transaction can have written it (the SDK retried after losing the response).
                Outcome::Cancelled(cancel) if cancel.failed(write.key) => {
                    return Ok(Written::Fresh(issued))
                }
                Outcome::Cancelled(cancel)
                    if write.record.is_some_and(|slot| cancel.failed(slot)) =>
                {
                    return Ok(Written::KeyHeld)
                }
                Outcome::Cancelled(cancel)
                    if cancel.failed(write.keyring) || cancel.failed(write.application) => {}
                Outcome::Cancelled(cancel) => return Err(cancel.unexpected().into()),
            }
            // Missing, full, or not as assumed: read what is there.
            if read_before {
                attempts.wait(Retry::Changed).await?;
            }
            read_before = true;
            let (item, ring) = self
                .application_and_keyring(caller.merchant, application, &mut attempts)
                .await?;
            enabled = application::from_item(&item)?.is_enabled;
            admission = ring.admit(
                issued.id,
                live(&issued, &new),
                self.clock.now(),
                self.limits,
            )?;
        }
    }

    /// One transaction: mark the key revoked (only if it is still active and unexpired), mark its
    /// lookup record, and move it from its application's keyring to the retired list (which
    /// frees its place under the limit). Of concurrent revocations, exactly one passes the key's
    /// condition; the keyring's version makes the list exact.
    pub async fn revoke_api_key(
        &self,
        caller: &Caller<'_>,
        application: ApplicationId,
        id: KeyId,
    ) -> Result<(), Error> {
        let (table, merchant) = (self.table.as_str(), caller.merchant);
        // Marks the revocation as this request's, so that a retry of an attempt whose response
        // was lost can tell its own revocation from another request's.
        let revocation = uuid::Uuid::now_v7().to_string();
        let pk = merchant_pk(merchant);
        let (key_sk, keyring_sk) = (key::sk(application, id), keyring::sk(application));
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
                    &[&key_sk, &keyring_sk],
                    Some(Self::REVOCATION_READS),
                    &mut attempts,
                )
                .await?;
            let (Some(key_item), Some(keyring_item)) =
                (items.remove(&key_sk), items.remove(&keyring_sk))
            else {
                return Err(Refusal::NotFound(Missing::Key).into());
            };
            let stored = key::from_item(&key_item)?;
            if stored.revocation_id.as_deref() == Some(revocation.as_str()) {
                return Ok(());
            }
            let now = self.clock.now();
            match stored.status(now) {
                KeyStatus::Revoked => return Err(Refusal::KeyAlreadyRevoked.into()),
                KeyStatus::Expired => return Err(Refusal::KeyExpired.into()),
                KeyStatus::Active => {}
            }
            let mut next = keyring::from_item(&keyring_item)?;
            next.revoke(id, now);

            let mut transaction = Transaction::new();
            let key_slot = transaction.update(key::revoke_if_active(
                table,
                merchant,
                application,
                id,
                now,
                &revocation,
            ))?;
            transaction.update(lookup_record::revoke(table, &stored.hash, now))?;
            transaction.put(audit_event::put_new(
                table,
                merchant,
                application,
                &Subject::key(EventType::ApiKeyRevoked, id, &stored.key_prefix),
                caller.origin,
                now,
            ))?;
            let keyring_slot =
                replace_keyring(&mut transaction, table, merchant, application, next)?;
            match transaction::run(&self.client, &transaction, &mut attempts).await? {
                Outcome::Committed => return Ok(()),
                // Another request revoked it, the key expired, or this request's own earlier
                // attempt was applied and its response lost: the next read tells which.
                Outcome::Cancelled(cancel)
                    if cancel.failed(key_slot) || cancel.failed(keyring_slot) => {}
                Outcome::Cancelled(cancel) => return Err(cancel.unexpected().into()),
            }
        }
    }

    /// What a revocation reads of the key and its keyring, and nothing else: the leaked-key
    /// report function, which revokes this way, is granted just these (`dynamodb:Attributes`), so
    /// it cannot read what else a merchant's partition holds (sealed full keys in idempotency
    /// records above all).
    pub const REVOCATION_READS: &'static [&'static str] = &REVOCATION_READS;
}

/// The keyring's entry for a new key.
fn live(issued: &IssuedKey, new: &NewKey) -> LiveKey {
    LiveKey {
        hash: new.hash,
        expires_at: issued.expires_at,
    }
}

/// The items of the create-key transaction's common case, without an idempotency key: what the
/// benchmark sends raw, as the floor of the operation's cost.
#[cfg(feature = "test-util")]
pub fn create_key_items(
    store: &Store,
    caller: &Caller<'_>,
    application: ApplicationId,
    new: &NewKey,
) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, Failure> {
    let issued = new.issue(application, store.clock.now());
    let write = store.create_key_transaction(caller, &issued, new, true, Admission::Add, None)?;
    Ok(write.transaction.items().to_vec())
}

const REVOCATION_READS: [&str; key::STATE.len() + keyring::ATTRIBUTES.len()] =
    concat(key::STATE, keyring::ATTRIBUTES);

/// `a` then `b`, at compile time.
const fn concat<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        out[i + j] = b[j];
        j += 1;
    }
    out
}

//! Changing a key's permissions or description (`PATCH …/api-keys/{keyId}`).

use super::items::{audit_event, key, lookup_record, merchant_pk};
use super::retry::{Attempts, Retry};
use super::transaction::{self, Outcome, Transaction};
use super::{Caller, Store};
use crate::domain::audit::Subject;
use crate::domain::error::Missing;
use crate::domain::key::{ApiKeySummary, KeyChange, KeyStatus};
use crate::domain::{ApplicationId, Error, KeyId, Refusal};

impl Store {
    /// One transaction: the key's new permissions and description (only if it is still active,
    /// unexpired, and its permissions are still the ones read), the same permissions on its
    /// lookup record, which the authorizer reads on the key's next call, and an `api_key.updated`
    /// event with the old and new values. A change to what the key already has writes nothing.
    /// Of concurrent changes each applies after the one before it; a revocation or roll between
    /// the read and the write cancels it, and the next read tells what happened.
    pub async fn change_api_key(
        &self,
        caller: &Caller<'_>,
        application: ApplicationId,
        id: KeyId,
        change: &KeyChange,
    ) -> Result<ApiKeySummary, Error> {
        let (table, merchant) = (self.table.as_str(), caller.merchant);
        let (pk, sk) = (merchant_pk(merchant), key::sk(application, id));
        let mut attempts = Attempts::until(caller.deadline);
        let mut attempted = false;
        loop {
            if attempted {
                attempts.wait(Retry::Changed).await?;
            }
            attempted = true;
            let now = self.clock.now();
            let item = self
                .get_consistent(&pk, &sk, &attempts)
                .await?
                .ok_or(Refusal::NotFound(Missing::Key))?;
            let mut summary =
                key::summary_from_item(&item, now)?.ok_or(Refusal::NotFound(Missing::Key))?;
            match summary.status {
                KeyStatus::Revoked => return Err(Refusal::KeyAlreadyRevoked.into()),
                KeyStatus::Expired => return Err(Refusal::KeyExpired.into()),
                KeyStatus::Active => {}
            }
            let stored = key::from_item(&item)?;
            let old_permissions = summary.permissions.clone();
            let permissions = change.permissions.as_ref().unwrap_or(&old_permissions);
            let description = change.description.as_ref().unwrap_or(&summary.description);
            let permissions_change = *permissions != old_permissions;
            let description_change = *description != summary.description;
            if !permissions_change && !description_change {
                return Ok(summary);
            }

            let mut transaction = Transaction::new();
            let key_slot = transaction.update(key::change_if_active(
                table,
                merchant,
                application,
                id,
                now,
                &old_permissions,
                (permissions, description),
            ))?;
            if permissions_change {
                transaction.update(lookup_record::set_permissions(
                    table,
                    &stored.hash,
                    permissions,
                ))?;
            }
            transaction.put(audit_event::put_new(
                table,
                merchant,
                application,
                &Subject::update(
                    (id, &stored.key_prefix),
                    (&old_permissions, permissions),
                    description_change.then_some((&summary.description, description)),
                ),
                caller.origin,
                now,
            ))?;
            match transaction::run(&self.client, &transaction, &mut attempts).await? {
                Outcome::Committed => {
                    summary.permissions = permissions.clone();
                    summary.description = description.clone();
                    return Ok(summary);
                }
                // Changed, revoked, rolled into another key's place or expired meanwhile.
                Outcome::Cancelled(cancel) if cancel.failed(key_slot) => {}
                Outcome::Cancelled(cancel) => return Err(cancel.unexpected().into()),
            }
        }
    }
}

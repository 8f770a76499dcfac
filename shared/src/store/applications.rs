//! Applications: create, list (with their keys), read one, enable or disable.

use std::collections::HashMap;

use super::items::codec::Item;
use super::items::{
    application, audit_event, idempotency_record, key, keyring, lookup_record, merchant_counter,
    merchant_pk, name_reservation, PK, SK,
};
use super::retry::{Attempts, Retry};
use super::transaction::{self, Outcome, Slot, Transaction};
use super::{Caller, Recorder, Store, Written};
use crate::domain::application::{Application, NewApplication};
use crate::domain::audit::{EventType, Subject};
use crate::domain::error::Missing;
use crate::domain::key::{listed, ApiKeySummary};
use crate::domain::keyring::Keyring;
use crate::domain::page::{Page, PageRequest};
use crate::domain::{ApplicationId, Deadline, Error, Failure, MerchantId, Refusal};

/// The create-application transaction and where each of its items sits.
pub struct CreateApplication {
    pub(crate) transaction: Transaction,
    /// The merchant's application counter, conditioned on room under the limit.
    counter: Slot,
    /// The folded name's reservation, conditioned on the name being free.
    name: Slot,
    /// The application itself, under a fresh id.
    application: Slot,
    /// The request's idempotency record, conditioned on its key being free.
    record: Option<Slot>,
}

impl Store {
    /// One transaction: count the application under the merchant's limit, reserve its folded
    /// name, write it, its empty keyring, its audit event and (with an idempotency key) the
    /// response it will be answered with.
    pub(crate) fn create_application_transaction(
        &self,
        caller: &Caller<'_>,
        new: &NewApplication,
        created: &Application,
        record: Option<&dyn Recorder<Application>>,
    ) -> Result<CreateApplication, Failure> {
        let (table, merchant) = (self.table.as_str(), caller.merchant);
        let mut transaction = Transaction::new();
        let counter = transaction.update(merchant_counter::count_if_room(
            table,
            merchant,
            self.limits.max_applications_per_merchant,
        ))?;
        let name = transaction.put(name_reservation::reserve_if_free(
            table, merchant, &new.name, created.id,
        ))?;
        let application =
            transaction.put(application::create_if_absent(table, merchant, created))?;
        transaction.put(keyring::create_empty(table, merchant, created.id))?;
        transaction.put(audit_event::put_new(
            table,
            merchant,
            created.id,
            &Subject::application(EventType::ApplicationCreated),
            caller.origin,
            created.created_at,
        ))?;
        let record = match record {
            Some(recorder) => Some(transaction.put(idempotency_record::put_if_free(
                table,
                merchant,
                recorder.claim(),
                &recorder.response(created)?,
            ))?),
            None => None,
        };
        Ok(CreateApplication {
            transaction,
            counter,
            name,
            application,
            record,
        })
    }

    /// Creates an application; any failed condition cancels all of it.
    pub async fn create_application(
        &self,
        caller: &Caller<'_>,
        new: NewApplication,
        record: Option<&dyn Recorder<Application>>,
    ) -> Result<Written<Application>, Error> {
        let created = Application::create(&new, self.clock.now());
        let write = self.create_application_transaction(caller, &new, &created, record)?;
        let mut attempts = Attempts::until(caller.deadline);
        match transaction::run(&self.client, &write.transaction, &mut attempts).await? {
            Outcome::Committed => Ok(Written::Fresh(created)),
            // The application has this request's fresh id: only an earlier attempt of this very
            // transaction can have written it (its answer was lost).
            Outcome::Cancelled(cancel) if cancel.failed(write.application) => {
                Ok(Written::Fresh(created))
            }
            Outcome::Cancelled(cancel) if write.record.is_some_and(|slot| cancel.failed(slot)) => {
                Ok(Written::KeyHeld)
            }
            Outcome::Cancelled(cancel) if cancel.failed(write.name) => {
                Err(Refusal::NameTaken.into())
            }
            Outcome::Cancelled(cancel) if cancel.failed(write.counter) => {
                Err(Refusal::ApplicationLimitReached {
                    max: self.limits.max_applications_per_merchant,
                }
                .into())
            }
            Outcome::Cancelled(cancel) => Err(cancel.unexpected().into()),
        }
    }

    /// Newest first. Requests per page: one GetItem (the count), one Query for the applications
    /// up to the end of the page, and with keys one Query for the keys of exactly the page's
    /// applications (their sort keys are contiguous because application ids sort by time). The
    /// keys read are bounded per application (its working keys and at most the retired ones the
    /// contract lists), whatever its history.
    pub async fn list_applications(
        &self,
        merchant: &MerchantId,
        request: PageRequest,
        deadline: Deadline,
    ) -> Result<Page<Application>, Failure> {
        let pk = merchant_pk(merchant);
        let attempts = Attempts::until(deadline);
        let counter = self
            .get_consistent(&pk, merchant_counter::SK_VALUE, &attempts)
            .await?;
        let total_items = merchant_counter::from_item(counter.as_ref())?;
        let offset = request.offset();
        if offset >= total_items {
            return Ok(Page::new(Vec::new(), request, total_items));
        }
        let wanted = usize::try_from(offset + u64::from(request.limit)).unwrap_or(usize::MAX);
        let newest_first = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(format!("{PK} = :pk AND begins_with({SK}, :app)"))
            .expression_attribute_values(":pk", super::items::codec::string_value(&pk))
            .expression_attribute_values(
                ":app",
                super::items::codec::string_value(application::SK_PREFIX),
            )
            .scan_index_forward(false)
            .consistent_read(true);
        let rows = self
            .query_all(newest_first, Some(wanted), &attempts)
            .await?;
        let mut applications = rows
            .iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(request.limit as usize)
            .map(application::from_item)
            .collect::<Result<Vec<_>, _>>()?;
        if let (true, Some(newest), Some(oldest)) = (
            request.include_api_keys,
            applications.first(),
            applications.last(),
        ) {
            // Newest first, so the first application has the highest id.
            let mut keys = self
                .keys_of_applications(&pk, oldest.id, newest.id, &attempts)
                .await?;
            for application in &mut applications {
                let listed_keys = listed(keys.remove(&application.id).unwrap_or_default());
                application.api_keys = Some(listed_keys);
            }
        }
        Ok(Page::new(applications, request, total_items))
    }

    /// The keys of the applications from `oldest` to `newest` (a contiguous range of sort keys,
    /// since application ids sort by time), by application, in one strongly consistent query.
    async fn keys_of_applications(
        &self,
        pk: &str,
        oldest: ApplicationId,
        newest: ApplicationId,
        attempts: &Attempts,
    ) -> Result<HashMap<ApplicationId, Vec<ApiKeySummary>>, Failure> {
        use super::items::codec::string_value;
        let keys = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(format!("{PK} = :pk AND {SK} BETWEEN :from AND :to"))
            .expression_attribute_values(":pk", string_value(pk))
            .expression_attribute_values(":from", string_value(key::first_sk(oldest)))
            .expression_attribute_values(":to", string_value(key::past_last_sk(newest)))
            .scan_index_forward(false)
            .consistent_read(true);
        let now = self.clock.now();
        let mut by_application: HashMap<ApplicationId, Vec<ApiKeySummary>> = HashMap::new();
        for item in self.query_all(keys, None, attempts).await? {
            if let Some(summary) = key::summary_from_item(&item, now)? {
                by_application
                    .entry(key::application_of(&item)?)
                    .or_default()
                    .push(summary);
            }
        }
        Ok(by_application)
    }

    /// One application with its keys, read strongly consistently: a key created or revoked a
    /// moment ago shows as such. Two requests: the application, then its keys.
    pub async fn get_application(
        &self,
        merchant: &MerchantId,
        id: ApplicationId,
        deadline: Deadline,
    ) -> Result<Application, Error> {
        let pk = merchant_pk(merchant);
        let attempts = Attempts::until(deadline);
        let item = self
            .get_consistent(&pk, &application::sk(id), &attempts)
            .await?
            .ok_or(Refusal::NotFound(Missing::Application))?;
        let mut found = application::from_item(&item)?;
        let keys = self
            .keys_of_applications(&pk, id, id, &attempts)
            .await?
            .remove(&id)
            .unwrap_or_default();
        found.api_keys = Some(listed(keys));
        Ok(found)
    }

    /// The application and its keyring, read together; not found if either is absent.
    pub(super) async fn application_and_keyring(
        &self,
        merchant: &MerchantId,
        id: ApplicationId,
        attempts: &mut Attempts,
    ) -> Result<(Item, Keyring), Error> {
        let (application_sk, keyring_sk) = (application::sk(id), keyring::sk(id));
        let mut items = self
            .get_consistent_many(
                &merchant_pk(merchant),
                &[&application_sk, &keyring_sk],
                None,
                attempts,
            )
            .await?;
        match (items.remove(&application_sk), items.remove(&keyring_sk)) {
            (Some(found), Some(ring)) => Ok((found, keyring::from_item(&ring)?)),
            (None, _) => Err(Refusal::NotFound(Missing::Application).into()),
            (Some(_), None) => {
                Err(Failure::corrupt(format!("application {id} has no keyring")).into())
            }
        }
    }

    /// Flips `isEnabled` and, in the same transaction, `applicationEnabled` on the lookup record
    /// of every key that may still verify (the keyring lists them), conditioned on the keyring
    /// not having changed since it was read, with the change's audit event. Setting the current
    /// value again writes nothing.
    pub async fn set_application_enabled(
        &self,
        caller: &Caller<'_>,
        id: ApplicationId,
        enabled: bool,
    ) -> Result<Application, Error> {
        let (table, merchant) = (self.table.as_str(), caller.merchant);
        let mut attempts = Attempts::until(caller.deadline);
        loop {
            let (item, ring) = self
                .application_and_keyring(merchant, id, &mut attempts)
                .await?;
            let mut current = application::from_item(&item)?;
            if current.is_enabled == enabled {
                return Ok(current);
            }
            let now = self.clock.now();
            let mut transaction = Transaction::new();
            transaction.update(application::set_enabled(table, merchant, id, enabled))?;
            let kind = if enabled {
                EventType::ApplicationEnabled
            } else {
                EventType::ApplicationDisabled
            };
            // The event has a fresh id: only this very transaction, sent again by the SDK after
            // its answer was lost, can find it there.
            let event = transaction.put(audit_event::put_new(
                table,
                merchant,
                id,
                &Subject::application(kind),
                caller.origin,
                now,
            ))?;
            let unchanged =
                transaction.condition_check(keyring::unchanged(table, merchant, id, &ring))?;
            for (_, live) in ring.working(now) {
                transaction.update(lookup_record::set_application_enabled(
                    table, &live.hash, enabled,
                ))?;
            }
            match transaction::run(&self.client, &transaction, &mut attempts).await? {
                Outcome::Committed => {
                    current.is_enabled = enabled;
                    return Ok(current);
                }
                Outcome::Cancelled(cancel) if cancel.failed(event) => {
                    current.is_enabled = enabled;
                    return Ok(current);
                }
                Outcome::Cancelled(cancel) if cancel.failed(unchanged) => {
                    attempts.wait(Retry::Changed).await?;
                }
                Outcome::Cancelled(cancel) => return Err(cancel.unexpected().into()),
            }
        }
    }
}

/// The items of the create-application transaction without an idempotency key: what the
/// benchmark sends raw, as the floor of the operation's cost.
#[cfg(feature = "test-util")]
pub fn create_application_items(
    store: &Store,
    caller: &Caller<'_>,
    new: &NewApplication,
) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, Failure> {
    let created = Application::create(new, store.clock.now());
    let write = store.create_application_transaction(caller, new, &created, None)?;
    Ok(write.transaction.items().to_vec())
}

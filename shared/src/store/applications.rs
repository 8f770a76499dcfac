//! Applications: create, list (with their keys), and enable or disable.

use std::collections::HashMap;

#[cfg(feature = "test-util")]
use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_sdk_dynamodb::types::{Put, Update};

use super::audit::{event_put, Subject};
use super::codec::{
    bool_value, get_bool, get_count, get_optional_string, get_string, get_time, number_value,
    string_value, time_value, Item,
};
use super::idempotency::{record_put, IdempotencyClaim, Idempotent, StoredResponse, Written};
use super::key_items::key_summary_from_item;
use super::keyring::Keyring;
use super::keys::{
    application_sk, first_key_sk, keyring_sk, lookup_pk_from_hex, merchant_pk, name_reservation_sk,
    past_last_key_sk, APPLICATION_SK_PREFIX, MERCHANT_COUNTER_SK, PK, SK,
};
use super::transaction::{self, Attempts, Outcome, Retry, Slot, Transaction};
use super::{Store, RETIRED_KEYS_KEPT};
use crate::audit::{EventType, Origin};
use crate::domain::{
    ApiKeySummary, Application, ApplicationId, Description, KeyStatus, MerchantId, NewApplication,
    Page, PageRequest,
};
use crate::error::StoreError;
use crate::time::Timestamp;

/// The create-application transaction and where each of its items sits.
struct CreateApplication {
    transaction: Transaction,
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
    fn create_application_transaction(
        &self,
        merchant: &MerchantId,
        new: &NewApplication,
        application: &Application,
        id: ApplicationId,
        origin: &Origin,
        record: Option<(&IdempotencyClaim, &StoredResponse)>,
    ) -> Result<CreateApplication, StoreError> {
        let (table, pk) = (self.table.as_str(), merchant_pk(merchant));
        let mut transaction = Transaction::new();
        let counter = transaction.update(
            Update::builder()
                .table_name(table)
                .key(PK, string_value(&pk))
                .key(SK, string_value(MERCHANT_COUNTER_SK))
                .update_expression(
                    "SET applicationCount = if_not_exists(applicationCount, :zero) + :one",
                )
                .condition_expression(
                    "attribute_not_exists(applicationCount) OR applicationCount < :max",
                )
                .expression_attribute_values(":zero", number_value(0))
                .expression_attribute_values(":one", number_value(1))
                .expression_attribute_values(
                    ":max",
                    number_value(self.limits.max_applications_per_merchant),
                ),
        )?;
        let name = transaction.put(
            Put::builder()
                .table_name(table)
                .item(PK, string_value(&pk))
                .item(SK, string_value(name_reservation_sk(new.name.folded())))
                .item("applicationId", string_value(id.to_string()))
                .condition_expression("attribute_not_exists(PK)"),
        )?;
        let mut item = Put::builder()
            .table_name(table)
            .item(PK, string_value(&pk))
            .item(SK, string_value(application_sk(id)))
            .item("id", string_value(id.to_string()))
            .item("name", string_value(new.name.as_str()))
            .item("isEnabled", bool_value(true))
            .item("createdAt", time_value(application.created_at))
            .condition_expression("attribute_not_exists(PK)");
        if let Some(description) = &new.description {
            item = item.item("description", string_value(description.as_str()));
        }
        let application_slot = transaction.put(item)?;
        transaction.put(Keyring::create(table, merchant, id))?;
        transaction.put(event_put(
            table,
            merchant,
            id,
            &Subject::application(EventType::ApplicationCreated),
            origin,
            application.created_at,
        ))?;
        let record = match record {
            Some((claim, response)) => {
                Some(transaction.put(record_put(table, merchant, claim, response))?)
            }
            None => None,
        };
        Ok(CreateApplication {
            transaction,
            counter,
            name,
            application: application_slot,
            record,
        })
    }
}

/// The items the create-application transaction writes (without an idempotency key), for the
/// benchmark's raw floor.
#[cfg(feature = "test-util")]
pub fn create_application_transaction_items(
    store: &Store,
    merchant: &MerchantId,
    new: &NewApplication,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let id = ApplicationId::new();
    let application = new_application(id, new, store.clock.now());
    let write = store.create_application_transaction(
        merchant,
        new,
        &application,
        id,
        &Origin::system("benchmark"),
        None,
    )?;
    Ok(write.transaction.items().to_vec())
}

fn new_application(id: ApplicationId, new: &NewApplication, created_at: Timestamp) -> Application {
    Application {
        id: id.to_string(),
        name: new.name.as_str().to_owned(),
        description: new.description.clone(),
        is_enabled: true,
        created_at,
        api_keys: None,
    }
}

impl Store {
    /// One transaction: count the application under the merchant's limit, reserve its folded
    /// name, write it, its empty keyring, its audit event and (with an idempotency key) the
    /// response it will be answered with. Any failed condition cancels all of it.
    pub async fn create_application(
        &self,
        merchant: &MerchantId,
        new: NewApplication,
        origin: &Origin,
        idempotency: Option<Idempotent<'_, Application>>,
    ) -> Result<Written<Application>, StoreError> {
        let id = ApplicationId::new();
        let application = new_application(id, &new, self.clock.now());
        let mut attempts = self.attempts();
        loop {
            let rendered = match idempotency {
                Some(idempotent) => Some((idempotent.claim, (idempotent.render)(&application)?)),
                None => None,
            };
            let record = rendered
                .as_ref()
                .map(|(claim, response)| (*claim, response));
            let write = self.create_application_transaction(
                merchant,
                &new,
                &application,
                id,
                origin,
                record,
            )?;
            match transaction::run(&self.client, &write.transaction, &mut attempts).await? {
                Outcome::Committed => return Ok(Written::Fresh(application)),
                // The application item has this request's fresh id: only an earlier attempt of
                // this very transaction can have written it (the response was lost).
                Outcome::Cancelled(cancel) if cancel.failed(write.application) => {
                    return Ok(Written::Fresh(application))
                }
                // Another request holds the idempotency key: its answer is this one's.
                Outcome::Cancelled(cancel)
                    if write.record.is_some_and(|slot| cancel.failed(slot)) =>
                {
                    let claim = rendered
                        .as_ref()
                        .map(|(claim, _)| *claim)
                        .ok_or_else(|| cancel.unexpected())?;
                    if let Some(theirs) =
                        self.replay_or_retry(merchant, claim, &mut attempts).await?
                    {
                        return Ok(Written::Replayed(theirs));
                    }
                }
                Outcome::Cancelled(cancel) if cancel.failed(write.name) => {
                    return Err(StoreError::NameTaken)
                }
                Outcome::Cancelled(cancel) if cancel.failed(write.counter) => {
                    return Err(StoreError::ApplicationLimitReached {
                        max: self.limits.max_applications_per_merchant,
                    })
                }
                Outcome::Cancelled(cancel) => return Err(cancel.unexpected()),
            }
        }
    }

    /// Newest first. Requests per page: one GetItem (the count), one Query for the applications
    /// up to the end of the page, and with keys one Query for the keys of exactly the page's
    /// applications (their sort keys are contiguous because application ids sort by time). The
    /// keys read are bounded per application (its working keys and at most
    /// [`RETIRED_KEYS_KEPT`] retired ones), whatever its history.
    pub async fn list_applications(
        &self,
        merchant: &MerchantId,
        request: PageRequest,
    ) -> Result<Page<Application>, StoreError> {
        let pk = merchant_pk(merchant);
        let attempts = self.attempts();
        let total_items = match self
            .get_consistent(&pk, MERCHANT_COUNTER_SK, &attempts)
            .await?
        {
            Some(item) => get_count(&item, "applicationCount")?,
            None => 0,
        };
        let offset = u64::from(request.page - 1) * u64::from(request.limit);
        if offset >= total_items {
            return Ok(Page::new(Vec::new(), request, total_items));
        }
        let wanted = usize::try_from(offset + u64::from(request.limit)).unwrap_or(usize::MAX);
        let newest_first = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :app)")
            .expression_attribute_values(":pk", string_value(&pk))
            .expression_attribute_values(":app", string_value(APPLICATION_SK_PREFIX))
            .scan_index_forward(false)
            .consistent_read(true);
        let rows = self
            .query_all(newest_first, Some(wanted), &attempts)
            .await?;
        let mut applications = rows
            .iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(request.limit as usize)
            .map(application_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        if request.include_api_keys && !applications.is_empty() {
            self.attach_keys(&pk, &mut applications, &attempts).await?;
        }
        Ok(Page::new(applications, request, total_items))
    }

    async fn attach_keys(
        &self,
        pk: &str,
        applications: &mut [Application],
        attempts: &Attempts,
    ) -> Result<(), StoreError> {
        let parse = |id: &str| {
            ApplicationId::parse(id)
                .ok_or_else(|| StoreError::CorruptItem(format!("application id {id}")))
        };
        let (Some(newest), Some(oldest)) = (applications.first(), applications.last()) else {
            return Ok(());
        };
        // Newest first, so the first application has the highest id.
        let (newest, oldest) = (parse(&newest.id)?, parse(&oldest.id)?);
        let mut by_application = self
            .keys_of_applications(pk, oldest, newest, attempts)
            .await?;
        for application in applications {
            let keys = by_application.remove(&application.id).unwrap_or_default();
            application.api_keys = Some(bounded_history(keys));
        }
        Ok(())
    }

    /// The keys of the applications from `oldest` to `newest` (a contiguous range of sort keys,
    /// since application ids sort by time), by application id, in one strongly consistent query.
    async fn keys_of_applications(
        &self,
        pk: &str,
        oldest: ApplicationId,
        newest: ApplicationId,
        attempts: &Attempts,
    ) -> Result<HashMap<String, Vec<ApiKeySummary>>, StoreError> {
        let keys = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
            .expression_attribute_values(":pk", string_value(pk))
            .expression_attribute_values(":from", string_value(first_key_sk(oldest)))
            .expression_attribute_values(":to", string_value(past_last_key_sk(newest)))
            .scan_index_forward(false)
            .consistent_read(true);
        let now = self.clock.now();
        let mut by_application: HashMap<String, Vec<ApiKeySummary>> = HashMap::new();
        for item in self.query_all(keys, None, attempts).await? {
            if let Some(key) = key_summary_from_item(&item, now)? {
                let application_id = get_string(&item, "applicationId")?.to_owned();
                by_application.entry(application_id).or_default().push(key);
            }
        }
        Ok(by_application)
    }

    /// One application with its keys, read strongly consistently: a key created or revoked a
    /// moment ago shows as such. Two requests: the application, then its keys.
    pub async fn get_application(
        &self,
        merchant: &MerchantId,
        application: ApplicationId,
    ) -> Result<Application, StoreError> {
        let pk = merchant_pk(merchant);
        let attempts = self.attempts();
        let item = self
            .get_consistent(&pk, &application_sk(application), &attempts)
            .await?
            .ok_or(StoreError::ApplicationNotFound)?;
        let mut found = application_from_item(&item)?;
        let keys = self
            .keys_of_applications(&pk, application, application, &attempts)
            .await?
            .remove(&found.id)
            .unwrap_or_default();
        found.api_keys = Some(bounded_history(keys));
        Ok(found)
    }

    /// The application and its keyring, read together. `ApplicationNotFound` if either is absent.
    pub(super) async fn application_and_keyring(
        &self,
        merchant: &MerchantId,
        application: ApplicationId,
        attempts: &mut transaction::Attempts,
    ) -> Result<(Item, Keyring), StoreError> {
        let (application_sk, keyring_sk) = (application_sk(application), keyring_sk(application));
        let mut items = self
            .get_consistent_many(
                &merchant_pk(merchant),
                &[&application_sk, &keyring_sk],
                None,
                attempts,
            )
            .await?;
        match (items.remove(&application_sk), items.remove(&keyring_sk)) {
            (Some(application), Some(keyring)) => Ok((application, Keyring::from_item(&keyring)?)),
            (None, _) => Err(StoreError::ApplicationNotFound),
            (Some(_), None) => Err(StoreError::CorruptItem(format!(
                "application {application} has no keyring"
            ))),
        }
    }

    /// Flips `isEnabled` and, in the same transaction, `applicationEnabled` on the lookup record
    /// of every key that may still verify (its keyring says which). The transaction is
    /// conditioned on the keyring being as read, so a key created or rolled in between (whose
    /// lookup record it does not include) forces a re-read instead of leaving that key with a
    /// stale flag. Setting the current value again writes nothing.
    pub async fn set_application_enabled(
        &self,
        merchant: &MerchantId,
        application: ApplicationId,
        enabled: bool,
        origin: &Origin,
    ) -> Result<Application, StoreError> {
        let mut attempts = self.attempts();
        loop {
            let (item, keyring) = self
                .application_and_keyring(merchant, application, &mut attempts)
                .await?;
            let mut current = application_from_item(&item)?;
            if current.is_enabled == enabled {
                return Ok(current);
            }
            let mut transaction = Transaction::new();
            transaction.update(
                Update::builder()
                    .table_name(&self.table)
                    .key(PK, string_value(merchant_pk(merchant)))
                    .key(SK, string_value(application_sk(application)))
                    .update_expression("SET isEnabled = :enabled")
                    .condition_expression("attribute_exists(PK)")
                    .expression_attribute_values(":enabled", bool_value(enabled)),
            )?;
            let kind = if enabled {
                EventType::ApplicationEnabled
            } else {
                EventType::ApplicationDisabled
            };
            // The event has a fresh id: only this very transaction, sent again by the SDK after
            // its answer was lost, can find it there.
            let event = transaction.put(event_put(
                &self.table,
                merchant,
                application,
                &Subject::application(kind),
                origin,
                self.clock.now(),
            ))?;
            let keyring_unchanged = transaction.condition_check(keyring.unchanged(
                &self.table,
                merchant,
                application,
            ))?;
            for (_, key) in keyring.working(self.clock.now()) {
                transaction.update(
                    Update::builder()
                        .table_name(&self.table)
                        .key(PK, string_value(lookup_pk_from_hex(&key.hash_hex)))
                        .key(SK, string_value(super::keys::LOOKUP_SK))
                        .update_expression("SET applicationEnabled = :enabled")
                        .condition_expression("attribute_exists(PK)")
                        .expression_attribute_values(":enabled", bool_value(enabled)),
                )?;
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
                Outcome::Cancelled(cancel) if cancel.failed(keyring_unchanged) => {
                    attempts.wait(Retry::Changed).await?;
                }
                Outcome::Cancelled(cancel) => return Err(cancel.unexpected()),
            }
        }
    }
}

/// Every working key, and the most recently stopped of the others up to the contract's bound
/// (retired ones past it leave at the next write; this keeps the listing exact meanwhile),
/// newest first.
fn bounded_history(keys: Vec<ApiKeySummary>) -> Vec<ApiKeySummary> {
    let (mut kept, mut stopped): (Vec<_>, Vec<_>) = keys
        .into_iter()
        .partition(|key| key.status == KeyStatus::Active);
    stopped.sort_by_key(|key| std::cmp::Reverse(key.stopped_at()));
    stopped.truncate(RETIRED_KEYS_KEPT);
    kept.append(&mut stopped);
    // Ids are UUID v7: by id is by creation time.
    kept.sort_by(|a, b| b.id.cmp(&a.id));
    kept
}

pub(super) fn application_from_item(item: &Item) -> Result<Application, StoreError> {
    Ok(Application {
        id: get_string(item, "id")?.to_owned(),
        name: get_string(item, "name")?.to_owned(),
        description: get_optional_string(item, "description")?
            .map(|value| Description::from_stored(value.to_owned())),
        is_enabled: get_bool(item, "isEnabled")?,
        created_at: get_time(item, "createdAt")?,
        api_keys: None,
    })
}

//! The DynamoDB single-table store. Every key shape and condition expression lives here, and
//! only here; `docs/data-model.md` describes the same design in prose.
//!
//! Items (PK / SK):
//! - merchant counter      `MERCHANT#<m>` / `MERCHANT`                  applicationCount
//! - application           `MERCHANT#<m>` / `APP#<appId>`               name, isEnabled, activeKeyCount, keysCreated…
//! - name reservation      `MERCHANT#<m>` / `APPNAME#<sha256(folded)>`  applicationId
//! - API key               `MERCHANT#<m>` / `KEY#<appId>#<keyId>`       keyPrefix, keyStatus, keyHash…
//! - key lookup            `KEYHASH#<hmac hex>` / `KEYHASH`             merchantId, applicationId, keyId, keyStatus, applicationEnabled

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use sha2::{Digest, Sha256};

use crate::api_key::{FullKey, KeyHash};
use crate::config::Limits;
use crate::domain::{
    now_rfc3339, ApiKeySummary, Application, ApplicationId, CreatedApiKey, Description, KeyId,
    KeyStatus, MerchantId, NewApplication, Page, PageRequest,
};
use crate::error::StoreError;

type Item = HashMap<String, AttributeValue>;

/// How often a transaction is re-run when DynamoDB cancels it for a conflict with a concurrent
/// transaction, or when a value it was conditioned on changed between read and write.
const TRANSACTION_ATTEMPTS: u32 = 5;

const PK: &str = "PK";
const SK: &str = "SK";

mod keys {
    use super::*;

    pub fn merchant_pk(merchant: &MerchantId) -> String {
        format!("MERCHANT#{}", merchant.as_str())
    }
    pub const MERCHANT_SK: &str = "MERCHANT";
    pub const APP_SK_PREFIX: &str = "APP#";
    pub fn app_sk(app: ApplicationId) -> String {
        format!("APP#{app}")
    }
    /// Hashing the folded name bounds the sort key's size and keeps user text out of keys.
    pub fn app_name_sk(folded_name: &str) -> String {
        format!(
            "APPNAME#{}",
            hex::encode(Sha256::digest(folded_name.as_bytes()))
        )
    }
    pub fn key_sk_prefix(app: ApplicationId) -> String {
        format!("KEY#{app}#")
    }
    /// One past every key of `app`: `$` sorts right after `#`.
    pub fn key_sk_upper_bound(app: ApplicationId) -> String {
        format!("KEY#{app}$")
    }
    pub fn key_sk(app: ApplicationId, key: KeyId) -> String {
        format!("KEY#{app}#{key}")
    }
    /// Built with a single allocation: it is on every payment call's path.
    pub fn lookup_pk(hash: &KeyHash) -> String {
        let mut digits = [0u8; 64];
        hex::encode_to_slice(hash.0, &mut digits).expect("32 bytes are 64 hex digits");
        let mut pk = String::with_capacity(8 + 64);
        pk.push_str("KEYHASH#");
        pk.push_str(std::str::from_utf8(&digits).expect("hex digits are ASCII"));
        pk
    }
    pub fn lookup_pk_from_hex(hash_hex: &str) -> String {
        format!("KEYHASH#{hash_hex}")
    }
    pub const LOOKUP_SK: &str = "KEYHASH";
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}
fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
fn b(value: bool) -> AttributeValue {
    AttributeValue::Bool(value)
}

fn backend(err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(err))
}

fn sdk_failure<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    // DisplayErrorContext carries the whole cause chain into the log line; the HTTP edge never
    // shows it to a caller.
    StoreError::Backend(DisplayErrorContext(err).to_string().into())
}

/// The lookup record's partition key (its sort key is constant), for the benchmark's raw
/// `GetItem` floor.
pub fn lookup_record_key(hash: &KeyHash) -> [(&'static str, AttributeValue); 2] {
    [(PK, s(keys::lookup_pk(hash))), (SK, s(keys::LOOKUP_SK))]
}

/// A key about to be written: everything but the application's state.
pub struct NewKey<'a> {
    pub id: KeyId,
    pub created_at: String,
    pub description: Description,
    pub full_key: &'a FullKey,
    pub hash: KeyHash,
}

/// What the authorizer needs to decide, in one record reachable from the key's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLookup {
    pub merchant_id: String,
    pub application_id: String,
    pub key_id: String,
    pub key_status: KeyStatus,
    pub application_enabled: bool,
}

impl KeyLookup {
    pub fn allows(&self) -> bool {
        self.key_status == KeyStatus::Active && self.application_enabled
    }
}

/// The outcome of a cancelled transaction: the reason code of each item, in request order.
enum Transact {
    Done,
    Cancelled(Vec<Option<String>>),
}

#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
    limits: Limits,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>, limits: Limits) -> Self {
        Self {
            client,
            table: table.into(),
            limits,
        }
    }

    /// The store a function uses: the table and limits of its configuration.
    pub fn from_config(sdk: &aws_config::SdkConfig, config: &crate::Config) -> Self {
        Self::new(Client::new(sdk), &config.table_name, config.limits)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Creates the table with the production schema (also used by tests and `scripts/dev`;
    /// `infra/template.yaml` declares the same).
    pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(backend)
        };
        let key = |name: &str, key_type| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(backend)
        };
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute(PK)?)
            .attribute_definitions(attribute(SK)?)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .send()
            .await
            .map_err(sdk_failure)?;
        for _ in 0..120 {
            let described = client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(sdk_failure)?;
            let status = described
                .table()
                .and_then(|t| t.table_status())
                .map(|s| s.as_str().to_owned());
            if status.as_deref() == Some("ACTIVE") {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(StoreError::Backend(
            format!("table {table} did not become active").into(),
        ))
    }

    // ---------------------------------------------------------------- applications

    /// One transaction: bump the merchant's application count under the limit, reserve the
    /// folded name, and write the application. Any failed condition cancels all three.
    pub async fn create_application(
        &self,
        merchant: &MerchantId,
        new: NewApplication,
    ) -> Result<Application, StoreError> {
        let id = ApplicationId::new();
        let created_at = now_rfc3339();
        let items = self.create_application_transaction(merchant, &new, id, &created_at)?;
        let application = Application {
            id: id.to_string(),
            name: new.name.as_str().to_owned(),
            description: new.description,
            is_enabled: true,
            created_at,
            api_keys: None,
        };
        match self.transact(items).await? {
            Transact::Done => Ok(application),
            // The application item has this request's fresh id: only an earlier attempt of this
            // very transaction can have written it (the SDK retried after losing the response).
            Transact::Cancelled(reasons) if failed_condition(&reasons, 2) => Ok(application),
            Transact::Cancelled(reasons) if failed_condition(&reasons, 1) => {
                Err(StoreError::NameTaken)
            }
            Transact::Cancelled(reasons) if failed_condition(&reasons, 0) => {
                Err(StoreError::ApplicationLimitReached {
                    max: self.limits.max_applications_per_merchant,
                })
            }
            Transact::Cancelled(reasons) => Err(unexpected_cancellation(&reasons)),
        }
    }

    /// The items of the create-application transaction (public so the benchmark can issue exactly
    /// the same write as its floor).
    pub fn create_application_transaction(
        &self,
        merchant: &MerchantId,
        new: &NewApplication,
        id: ApplicationId,
        created_at: &str,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let pk = keys::merchant_pk(merchant);
        let count_application = Update::builder()
            .table_name(&self.table)
            .key(PK, s(&pk))
            .key(SK, s(keys::MERCHANT_SK))
            .update_expression(
                "SET applicationCount = if_not_exists(applicationCount, :zero) + :one",
            )
            .condition_expression(
                "attribute_not_exists(applicationCount) OR applicationCount < :max",
            )
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(self.limits.max_applications_per_merchant))
            .build()
            .map_err(backend)?;
        let reserve_name = Put::builder()
            .table_name(&self.table)
            .item(PK, s(&pk))
            .item(SK, s(keys::app_name_sk(new.name.folded())))
            .item("applicationId", s(id.to_string()))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(backend)?;
        let mut application = Put::builder()
            .table_name(&self.table)
            .item(PK, s(&pk))
            .item(SK, s(keys::app_sk(id)))
            .item("id", s(id.to_string()))
            .item("name", s(new.name.as_str()))
            .item("isEnabled", b(true))
            .item("createdAt", s(created_at))
            .item("activeKeyCount", n(0))
            .item("keysCreated", n(0))
            .condition_expression("attribute_not_exists(PK)");
        if let Some(description) = &new.description {
            application = application.item("description", s(description.as_str()));
        }
        Ok(vec![
            TransactWriteItem::builder()
                .update(count_application)
                .build(),
            TransactWriteItem::builder().put(reserve_name).build(),
            TransactWriteItem::builder()
                .put(application.build().map_err(backend)?)
                .build(),
        ])
    }

    /// Newest first. Requests per page: one GetItem (the count), one Query for the applications
    /// up to the end of the page, and with keys one Query for the keys of exactly the page's
    /// applications (their sort keys are contiguous because application ids sort by time).
    pub async fn list_applications(
        &self,
        merchant: &MerchantId,
        request: PageRequest,
    ) -> Result<Page<Application>, StoreError> {
        let pk = keys::merchant_pk(merchant);
        let total_items = match self.consistent_item(&pk, keys::MERCHANT_SK).await? {
            Some(item) => number(&item, "applicationCount")?,
            None => 0,
        };
        let offset = u64::from(request.page - 1) * u64::from(request.limit);
        if offset >= total_items {
            return Ok(Page::new(Vec::new(), request, total_items));
        }
        let wanted = (offset + u64::from(request.limit)) as usize;
        let newest_first = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :app)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":app", s(keys::APP_SK_PREFIX))
            .scan_index_forward(false)
            .consistent_read(true);
        let rows = self.query_all(newest_first, Some(wanted)).await?;
        let mut applications = rows
            .iter()
            .skip(offset as usize)
            .take(request.limit as usize)
            .map(application_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        if request.include_api_keys && !applications.is_empty() {
            self.attach_keys(&pk, &mut applications).await?;
        }
        Ok(Page::new(applications, request, total_items))
    }

    async fn attach_keys(
        &self,
        pk: &str,
        applications: &mut [Application],
    ) -> Result<(), StoreError> {
        let parse = |id: &str| {
            ApplicationId::parse(id)
                .ok_or_else(|| StoreError::CorruptItem(format!("application id {id}")))
        };
        // Newest first, so the first application has the highest id.
        let newest = parse(&applications[0].id)?;
        let oldest = parse(&applications[applications.len() - 1].id)?;
        let page_keys = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":from", s(keys::key_sk_prefix(oldest)))
            .expression_attribute_values(":to", s(keys::key_sk_upper_bound(newest)))
            .scan_index_forward(false)
            .consistent_read(true);
        let mut by_application: HashMap<String, Vec<ApiKeySummary>> = HashMap::new();
        for item in self.query_all(page_keys, None).await? {
            let application_id = string(&item, "applicationId")?.to_owned();
            by_application
                .entry(application_id)
                .or_default()
                .push(key_summary_from_item(&item)?);
        }
        for application in applications {
            application.api_keys = Some(by_application.remove(&application.id).unwrap_or_default());
        }
        Ok(())
    }

    async fn get_application_item(
        &self,
        merchant: &MerchantId,
        application: ApplicationId,
    ) -> Result<Item, StoreError> {
        self.consistent_item(&keys::merchant_pk(merchant), &keys::app_sk(application))
            .await?
            .ok_or(StoreError::ApplicationNotFound)
    }

    /// One item, read strongly consistently.
    async fn consistent_item(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        Ok(self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_failure)?
            .item)
    }

    /// Flips `isEnabled` and, in the same transaction, `applicationEnabled` on the lookup record
    /// of every active key. The transaction is conditioned on `keysCreated` being what we read,
    /// so a key created in between (whose lookup we did not include) forces a re-read instead
    /// of leaving that key with a stale flag.
    pub async fn set_application_enabled(
        &self,
        merchant: &MerchantId,
        application: ApplicationId,
        enabled: bool,
    ) -> Result<Application, StoreError> {
        for _ in 0..TRANSACTION_ATTEMPTS {
            let item = self.get_application_item(merchant, application).await?;
            let mut current = application_from_item(&item)?;
            if current.is_enabled == enabled {
                return Ok(current);
            }
            let keys_created = number(&item, "keysCreated")?;
            let active_hashes = self.active_key_hashes(merchant, application).await?;
            let mut items = Vec::with_capacity(1 + active_hashes.len());
            items.push(
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(&self.table)
                            .key(PK, s(keys::merchant_pk(merchant)))
                            .key(SK, s(keys::app_sk(application)))
                            .update_expression("SET isEnabled = :enabled")
                            .condition_expression("attribute_exists(PK) AND keysCreated = :seen")
                            .expression_attribute_values(":enabled", b(enabled))
                            .expression_attribute_values(":seen", n(keys_created))
                            .build()
                            .map_err(backend)?,
                    )
                    .build(),
            );
            for hash_hex in &active_hashes {
                items.push(
                    TransactWriteItem::builder()
                        .update(
                            Update::builder()
                                .table_name(&self.table)
                                .key(PK, s(keys::lookup_pk_from_hex(hash_hex)))
                                .key(SK, s(keys::LOOKUP_SK))
                                .update_expression("SET applicationEnabled = :enabled")
                                .condition_expression("attribute_exists(PK)")
                                .expression_attribute_values(":enabled", b(enabled))
                                .build()
                                .map_err(backend)?,
                        )
                        .build(),
                );
            }
            match self.transact(items).await? {
                Transact::Done => {
                    current.is_enabled = enabled;
                    return Ok(current);
                }
                // The application changed under us (a key was created): read again.
                Transact::Cancelled(reasons) if failed_condition(&reasons, 0) => continue,
                Transact::Cancelled(reasons) => return Err(unexpected_cancellation(&reasons)),
            }
        }
        Err(StoreError::Contention)
    }

    async fn active_key_hashes(
        &self,
        merchant: &MerchantId,
        application: ApplicationId,
    ) -> Result<Vec<String>, StoreError> {
        let active_keys = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :keys)")
            .filter_expression("keyStatus = :active")
            .projection_expression("keyHash")
            .expression_attribute_values(":pk", s(keys::merchant_pk(merchant)))
            .expression_attribute_values(":keys", s(keys::key_sk_prefix(application)))
            .expression_attribute_values(":active", s(KeyStatus::Active.as_str()))
            .consistent_read(true);
        self.query_all(active_keys, None)
            .await?
            .iter()
            .map(|item| string(item, "keyHash").map(str::to_owned))
            .collect()
    }

    /// Follows `LastEvaluatedKey` until the query is exhausted or `enough` items have come.
    async fn query_all(
        &self,
        query: QueryFluentBuilder,
        enough: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start_key = None;
        loop {
            let mut page_query = query.clone().set_exclusive_start_key(start_key);
            if let Some(enough) = enough {
                page_query =
                    page_query.limit(i32::try_from(enough - items.len()).unwrap_or(i32::MAX));
            }
            let page = page_query.send().await.map_err(sdk_failure)?;
            items.extend(page.items.unwrap_or_default());
            start_key = page.last_evaluated_key;
            if start_key.is_none() || enough.is_some_and(|enough| items.len() >= enough) {
                return Ok(items);
            }
        }
    }

    // ---------------------------------------------------------------- API keys

    /// One transaction: count the key on the application (conditioned on room under the limit
    /// and on the `isEnabled` value copied into the lookup record), write the key, write its
    /// lookup record. Most applications are enabled, so the first attempt assumes it and needs
    /// no read; only when a condition fails is the application read, to tell "not found", "key
    /// limit reached" and "disabled" apart (and to retry with the value read).
    pub async fn create_api_key(
        &self,
        merchant: &MerchantId,
        application: ApplicationId,
        description: Description,
        full_key: &FullKey,
        hash: KeyHash,
    ) -> Result<CreatedApiKey, StoreError> {
        let max = self.limits.max_keys_per_application;
        let key = NewKey {
            id: KeyId::new(),
            created_at: now_rfc3339(),
            description,
            full_key,
            hash,
        };
        let mut enabled = true;
        for attempt in 0..TRANSACTION_ATTEMPTS {
            if attempt > 0 {
                let item = self.get_application_item(merchant, application).await?;
                if number(&item, "activeKeyCount")? >= u64::from(max) {
                    return Err(StoreError::KeyLimitReached { max });
                }
                enabled = boolean(&item, "isEnabled")?;
            }
            let items = self.create_api_key_transaction(merchant, application, &key, enabled)?;
            let created = match self.transact(items).await? {
                Transact::Done => true,
                // The key item has this request's fresh key id: only an earlier attempt of this
                // very transaction can have written it (the SDK retried after losing the response).
                Transact::Cancelled(reasons) if failed_condition(&reasons, 1) => true,
                // Missing, full, or isEnabled not as assumed: the read at the next attempt tells.
                Transact::Cancelled(reasons) if failed_condition(&reasons, 0) => false,
                Transact::Cancelled(reasons) => return Err(unexpected_cancellation(&reasons)),
            };
            if created {
                return Ok(CreatedApiKey {
                    id: key.id.to_string(),
                    application_id: application.to_string(),
                    full_key: full_key.clone(),
                    key_prefix: full_key.display_prefix().to_owned(),
                    description: key.description,
                    created_at: key.created_at,
                });
            }
        }
        Err(StoreError::Contention)
    }

    /// The items of the create-key transaction (public so the benchmark can issue exactly the
    /// same write as its floor).
    pub fn create_api_key_transaction(
        &self,
        merchant: &MerchantId,
        application: ApplicationId,
        key: &NewKey<'_>,
        enabled: bool,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let count_key = Update::builder()
            .table_name(&self.table)
            .key(PK, s(keys::merchant_pk(merchant)))
            .key(SK, s(keys::app_sk(application)))
            .update_expression(
                "SET activeKeyCount = activeKeyCount + :one, keysCreated = keysCreated + :one",
            )
            .condition_expression(
                "attribute_exists(PK) AND activeKeyCount < :max AND isEnabled = :enabled",
            )
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(self.limits.max_keys_per_application))
            .expression_attribute_values(":enabled", b(enabled))
            .build()
            .map_err(backend)?;
        let key_item = Put::builder()
            .table_name(&self.table)
            .item(PK, s(keys::merchant_pk(merchant)))
            .item(SK, s(keys::key_sk(application, key.id)))
            .item("id", s(key.id.to_string()))
            .item("applicationId", s(application.to_string()))
            .item("keyPrefix", s(key.full_key.display_prefix()))
            .item("description", s(key.description.as_str()))
            .item("keyStatus", s(KeyStatus::Active.as_str()))
            .item("createdAt", s(&key.created_at))
            .item("keyHash", s(key.hash.to_hex()))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(backend)?;
        let lookup = Put::builder()
            .table_name(&self.table)
            .item(PK, s(keys::lookup_pk(&key.hash)))
            .item(SK, s(keys::LOOKUP_SK))
            .item("merchantId", s(merchant.as_str()))
            .item("applicationId", s(application.to_string()))
            .item("keyId", s(key.id.to_string()))
            .item("keyStatus", s(KeyStatus::Active.as_str()))
            .item("applicationEnabled", b(enabled))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(backend)?;
        Ok(vec![
            TransactWriteItem::builder().update(count_key).build(),
            TransactWriteItem::builder().put(key_item).build(),
            TransactWriteItem::builder().put(lookup).build(),
        ])
    }

    /// One transaction: mark the key revoked (only if it is active), mark its lookup record,
    /// and free its place under the key limit. Of concurrent revocations, exactly one passes
    /// the `keyStatus = active` condition.
    pub async fn revoke_api_key(
        &self,
        merchant: &MerchantId,
        application: ApplicationId,
        key: KeyId,
    ) -> Result<(), StoreError> {
        let pk = keys::merchant_pk(merchant);
        let key_sk = keys::key_sk(application, key);
        let item = self
            .consistent_item(&pk, &key_sk)
            .await?
            .ok_or(StoreError::KeyNotFound)?;
        if key_status(&item)? == KeyStatus::Revoked {
            return Err(StoreError::KeyAlreadyRevoked);
        }
        let hash_hex = string(&item, "keyHash")?;
        // Marks the revocation as this request's, so that a retry of an attempt whose response
        // was lost can tell its own revocation from another request's.
        let revocation = uuid::Uuid::now_v7().to_string();
        let revoke_key = Update::builder()
            .table_name(&self.table)
            .key(PK, s(&pk))
            .key(SK, s(&key_sk))
            .update_expression(
                "SET keyStatus = :revoked, revokedAt = :now, revocationId = :revocation",
            )
            .condition_expression("keyStatus = :active")
            .expression_attribute_values(":revoked", s(KeyStatus::Revoked.as_str()))
            .expression_attribute_values(":active", s(KeyStatus::Active.as_str()))
            .expression_attribute_values(":now", s(now_rfc3339()))
            .expression_attribute_values(":revocation", s(&revocation))
            .build()
            .map_err(backend)?;
        let revoke_lookup = Update::builder()
            .table_name(&self.table)
            .key(PK, s(keys::lookup_pk_from_hex(hash_hex)))
            .key(SK, s(keys::LOOKUP_SK))
            .update_expression("SET keyStatus = :revoked")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":revoked", s(KeyStatus::Revoked.as_str()))
            .build()
            .map_err(backend)?;
        let uncount_key = Update::builder()
            .table_name(&self.table)
            .key(PK, s(&pk))
            .key(SK, s(keys::app_sk(application)))
            .update_expression("SET activeKeyCount = activeKeyCount - :one")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(backend)?;
        let items = vec![
            TransactWriteItem::builder().update(revoke_key).build(),
            TransactWriteItem::builder().update(revoke_lookup).build(),
            TransactWriteItem::builder().update(uncount_key).build(),
        ];
        match self.transact(items).await? {
            Transact::Done => Ok(()),
            Transact::Cancelled(reasons) if failed_condition(&reasons, 0) => {
                let revoked_by = self
                    .consistent_item(&pk, &key_sk)
                    .await?
                    .and_then(|item| item.get("revocationId").cloned());
                if revoked_by == Some(s(&revocation)) {
                    Ok(())
                } else {
                    Err(StoreError::KeyAlreadyRevoked)
                }
            }
            Transact::Cancelled(reasons) => Err(unexpected_cancellation(&reasons)),
        }
    }

    /// The authorizer's only read: one strongly consistent GetItem.
    pub async fn find_key_lookup(&self, hash: &KeyHash) -> Result<Option<KeyLookup>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(keys::lookup_pk(hash)))
            .key(SK, s(keys::LOOKUP_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_failure)?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        Ok(Some(KeyLookup {
            merchant_id: string(&item, "merchantId")?.to_owned(),
            application_id: string(&item, "applicationId")?.to_owned(),
            key_id: string(&item, "keyId")?.to_owned(),
            key_status: key_status(&item)?,
            application_enabled: boolean(&item, "applicationEnabled")?,
        }))
    }

    /// Runs a transaction, retrying with backoff while DynamoDB cancels it for a conflict with
    /// another transaction. Cancellations for failed conditions go back to the caller.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<Transact, StoreError> {
        let mut backoff = Duration::from_millis(20);
        for attempt in 1..=TRANSACTION_ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(Transact::Done),
                Err(err) => err,
            };
            let reasons = match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => cancelled
                    .cancellation_reasons()
                    .iter()
                    .map(|reason| reason.code().map(str::to_owned))
                    .collect::<Vec<_>>(),
                _ => return Err(sdk_failure(err)),
            };
            if !reasons
                .iter()
                .any(|code| code.as_deref() == Some("TransactionConflict"))
            {
                return Ok(Transact::Cancelled(reasons));
            }
            if attempt < TRANSACTION_ATTEMPTS {
                tokio::time::sleep(backoff + jitter(backoff)).await;
                backoff *= 2;
            }
        }
        tracing::warn!(
            attempts = TRANSACTION_ATTEMPTS,
            "transaction kept conflicting; giving up"
        );
        Err(StoreError::Contention)
    }
}

/// Up to half of `base` of random extra wait, so retrying writers spread out.
fn jitter(base: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    base / 2 * u32::from(byte[0]) / 255
}

fn failed_condition(reasons: &[Option<String>], index: usize) -> bool {
    reasons.get(index).and_then(|code| code.as_deref()) == Some("ConditionalCheckFailed")
}

fn unexpected_cancellation(reasons: &[Option<String>]) -> StoreError {
    StoreError::Backend(format!("transaction cancelled unexpectedly: {reasons:?}").into())
}

fn string<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(StoreError::CorruptItem(format!(
            "missing string attribute {name}"
        ))),
    }
}

fn number(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map_err(|_| StoreError::CorruptItem(format!("attribute {name} is not a count"))),
        _ => Err(StoreError::CorruptItem(format!(
            "missing number attribute {name}"
        ))),
    }
}

fn boolean(item: &Item, name: &str) -> Result<bool, StoreError> {
    match item.get(name) {
        Some(AttributeValue::Bool(value)) => Ok(*value),
        _ => Err(StoreError::CorruptItem(format!(
            "missing boolean attribute {name}"
        ))),
    }
}

fn key_status(item: &Item) -> Result<KeyStatus, StoreError> {
    KeyStatus::parse(string(item, "keyStatus")?)
        .ok_or_else(|| StoreError::CorruptItem("unknown keyStatus".into()))
}

fn application_from_item(item: &Item) -> Result<Application, StoreError> {
    Ok(Application {
        id: string(item, "id")?.to_owned(),
        name: string(item, "name")?.to_owned(),
        description: match item.get("description") {
            Some(AttributeValue::S(value)) => Some(Description::from_stored(value.clone())),
            _ => None,
        },
        is_enabled: boolean(item, "isEnabled")?,
        created_at: string(item, "createdAt")?.to_owned(),
        api_keys: None,
    })
}

fn key_summary_from_item(item: &Item) -> Result<ApiKeySummary, StoreError> {
    Ok(ApiKeySummary {
        id: string(item, "id")?.to_owned(),
        key_prefix: string(item, "keyPrefix")?.to_owned(),
        description: Description::from_stored(string(item, "description")?.to_owned()),
        status: key_status(item)?,
        created_at: string(item, "createdAt")?.to_owned(),
    })
}

/// Real DynamoDB cancels contending transactions with `TransactionConflict`; the local server
/// never does, so these tests stub the SDK's response.
#[cfg(test)]
mod transaction_conflict_tests {
    use super::*;
    use crate::domain::ApplicationName;
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn conflict() -> TransactWriteItemsError {
        let reason = |code: &str| CancellationReason::builder().code(code).build();
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .message("Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict, None]")
                .cancellation_reasons(reason("None"))
                .cancellation_reasons(reason("TransactionConflict"))
                .cancellation_reasons(reason("None"))
                .build(),
        )
    }

    fn new_application() -> NewApplication {
        NewApplication {
            name: ApplicationName::parse("Prod").unwrap(),
            description: None,
        }
    }

    fn merchant() -> MerchantId {
        MerchantId::from_claim("m_1").unwrap()
    }

    #[tokio::test]
    async fn conflicts_are_retried_then_the_write_succeeds() {
        let conflicting = mock!(aws_sdk_dynamodb::Client::transact_write_items)
            .sequence()
            .error(conflict)
            .times(2)
            .output(|| TransactWriteItemsOutput::builder().build())
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&conflicting]);
        let store = Store::new(client, "t", Limits::default());
        let created = store
            .create_application(&merchant(), new_application())
            .await
            .unwrap();
        assert_eq!(created.name, "Prod");
        assert_eq!(conflicting.num_calls(), 3);
    }

    #[tokio::test]
    async fn persistent_conflicts_end_in_a_clean_contention_error_after_bounded_attempts() {
        let conflicting = mock!(aws_sdk_dynamodb::Client::transact_write_items)
            .sequence()
            .error(conflict)
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&conflicting]);
        let store = Store::new(client, "t", Limits::default());
        let err = store
            .create_application(&merchant(), new_application())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Contention), "{err:?}");
        assert_eq!(conflicting.num_calls(), TRANSACTION_ATTEMPTS as usize);
        let response = crate::http::ApiError::from(err).into_response("req-1");
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
    }

    #[tokio::test]
    async fn condition_failures_are_not_retried() {
        let taken = mock!(aws_sdk_dynamodb::Client::transact_write_items).then_error(|| {
            let reason = |code: &str| CancellationReason::builder().code(code).build();
            TransactWriteItemsError::TransactionCanceledException(
                TransactionCanceledException::builder()
                    .cancellation_reasons(reason("None"))
                    .cancellation_reasons(reason("ConditionalCheckFailed"))
                    .cancellation_reasons(reason("None"))
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&taken]);
        let store = Store::new(client, "t", Limits::default());
        let err = store
            .create_application(&merchant(), new_application())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NameTaken), "{err:?}");
        assert_eq!(taken.num_calls(), 1);
    }
}

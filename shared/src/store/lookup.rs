//! The authorizer's read: one strongly consistent `GetItem` of the key's lookup record, which
//! every write that changes the decision keeps exact in the same transaction.

#[cfg(feature = "test-util")]
use aws_sdk_dynamodb::types::AttributeValue;

use aws_sdk_dynamodb::types::Update;

use super::codec::{get_bool, get_optional_time, get_string, string_value, time_value, Item};
use super::failure::sdk_error;
use super::keys::{key_sk, lookup_pk, merchant_pk, LOOKUP_SK, PK, SK};
use super::transaction::{self, Attempts, Outcome, RetryPolicy, Transaction};
use super::Store;
use crate::api_key::KeyHash;
use crate::domain::{ApplicationId, KeyId, MerchantId};
use crate::error::StoreError;
use crate::time::Timestamp;

/// What the authorizer needs to decide, in one record reachable from the key's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLookup {
    pub merchant_id: String,
    pub application_id: String,
    pub key_id: String,
    pub revoked: bool,
    pub expires_at: Option<Timestamp>,
    pub application_enabled: bool,
    pub last_used_at: Option<Timestamp>,
}

/// How stale a key's recorded last use may get: the authorizer records it at most once per key
/// per this many seconds (as GitLab and Supabase do, every 10 and 15 minutes).
pub const LAST_USE_ACCURACY_SECONDS: i64 = 15 * 60;

impl KeyLookup {
    /// Whether an allowed call at `now` should record itself as the key's last use.
    pub fn last_use_is_due(&self, now: Timestamp) -> bool {
        self.last_used_at
            .is_none_or(|last| last.plus_seconds(LAST_USE_ACCURACY_SECONDS) <= now)
    }

    fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            merchant_id: get_string(item, "merchantId")?.to_owned(),
            application_id: get_string(item, "applicationId")?.to_owned(),
            key_id: get_string(item, "keyId")?.to_owned(),
            revoked: match get_string(item, "keyStatus")? {
                "active" => false,
                "revoked" => true,
                other => return Err(StoreError::CorruptItem(format!("keyStatus {other}"))),
            },
            expires_at: get_optional_time(item, "expiresAt")?,
            application_enabled: get_bool(item, "applicationEnabled")?,
            last_used_at: get_optional_time(item, "lastUsedAt")?,
        })
    }
}

/// The lookup record's key, for the benchmark's raw `GetItem` floor.
#[cfg(feature = "test-util")]
pub fn lookup_record_key(hash: &KeyHash) -> [(&'static str, AttributeValue); 2] {
    [
        (PK, string_value(lookup_pk(hash))),
        (SK, string_value(LOOKUP_SK)),
    ]
}

impl Store {
    /// Records `now` as the key's last use, on its lookup record and its key item, in one
    /// transaction conditioned on the lookup's last use being older than the accuracy window,
    /// so that however many instances allow calls with the key, one write lands per window.
    /// A lost race means another call recorded it; `Ok(false)` when nothing was written.
    pub async fn record_last_use(
        &self,
        hash: &KeyHash,
        lookup: &KeyLookup,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let (Some(merchant), Some(application), Some(key)) = (
            MerchantId::from_claim(&lookup.merchant_id),
            ApplicationId::parse(&lookup.application_id),
            KeyId::parse(&lookup.key_id),
        ) else {
            return Err(StoreError::CorruptItem("lookup record ids".into()));
        };
        let mut transaction = Transaction::new();
        transaction.update(
            Update::builder()
                .table_name(&self.table)
                .key(PK, string_value(lookup_pk(hash)))
                .key(SK, string_value(LOOKUP_SK))
                .update_expression("SET lastUsedAt = :now")
                .condition_expression(
                    "attribute_exists(PK) AND (attribute_not_exists(lastUsedAt) OR lastUsedAt <= :stale)",
                )
                .expression_attribute_values(":now", time_value(now))
                .expression_attribute_values(
                    ":stale",
                    time_value(now.plus_seconds(-LAST_USE_ACCURACY_SECONDS)),
                ),
        )?;
        transaction.update(
            Update::builder()
                .table_name(&self.table)
                .key(PK, string_value(merchant_pk(&merchant)))
                .key(SK, string_value(key_sk(application, key)))
                .update_expression("SET lastUsedAt = :now")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":now", time_value(now)),
        )?;
        // Bounded like the authorizer's own read; nobody waits for it.
        let mut attempts = Attempts::start(RetryPolicy {
            budget: std::time::Duration::from_millis(1500),
            ..RetryPolicy::MANAGEMENT
        });
        match transaction::run(&self.client, &transaction, &mut attempts).await {
            Ok(Outcome::Committed) => Ok(true),
            // Another call recorded it, or is recording it: nothing to do.
            Ok(Outcome::Cancelled(_)) | Err(StoreError::Contention) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// The lookup records of many keys (a leaked-key report's), aligned with `hashes`: `None`
    /// for a key that is not ours. Strongly consistent, in `BatchGetItem`s of 100 distinct keys,
    /// not one request per key.
    pub async fn find_key_lookups(
        &self,
        hashes: &[KeyHash],
    ) -> Result<Vec<Option<KeyLookup>>, StoreError> {
        let pks: Vec<String> = hashes.iter().map(lookup_pk).collect();
        let mut distinct: Vec<(&str, &str)> =
            pks.iter().map(|pk| (pk.as_str(), LOOKUP_SK)).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let found = self
            .get_consistent_keys(&distinct, None, &mut self.attempts())
            .await?;
        pks.iter()
            .map(|pk| {
                found
                    .get(&(pk.clone(), LOOKUP_SK.to_owned()))
                    .map(KeyLookup::from_item)
                    .transpose()
            })
            .collect()
    }

    /// The authorizer's only read: one strongly consistent GetItem.
    pub async fn find_key_lookup(&self, hash: &KeyHash) -> Result<Option<KeyLookup>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, string_value(lookup_pk(hash)))
            .key(SK, string_value(LOOKUP_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        output.item.as_ref().map(KeyLookup::from_item).transpose()
    }
}

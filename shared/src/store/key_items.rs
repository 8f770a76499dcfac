//! How a key is stored: its item in the merchant's partition, its lookup record, the state a
//! writer reads back, and the summary a listing shows.

use aws_sdk_dynamodb::types::builders::{DeleteBuilder, PutBuilder};
use aws_sdk_dynamodb::types::{Delete, Put};

use super::codec::{
    bool_value, get_optional_string, get_optional_time, get_string, get_time, string_value,
    time_value, Item,
};
use super::keys::{key_sk, lookup_pk, merchant_pk, LOOKUP_SK, PK, SK};
use super::{HISTORY_RETENTION_SECONDS, TTL_ATTRIBUTE};
use crate::api_key::KeyHash;
use crate::domain::{
    ApiKeySummary, ApplicationId, Description, IssuedKey, KeyId, KeyStatus, MerchantId,
};
use crate::error::StoreError;
use crate::time::Timestamp;

/// How a key's state is written in its item and its lookup record.
pub(super) const STORED_ACTIVE: &str = "active";
pub(super) const STORED_REVOKED: &str = "revoked";

/// When a stopped key's items leave the table (DynamoDB's TTL deletes them).
pub(super) fn forget_after(stopped: Timestamp) -> Timestamp {
    stopped.plus_seconds(HISTORY_RETENTION_SECONDS)
}

pub(super) fn key_item(
    table: &str,
    merchant: &MerchantId,
    issued: &IssuedKey,
    hash: &KeyHash,
) -> PutBuilder {
    let mut put = Put::builder()
        .table_name(table)
        .item(PK, string_value(merchant_pk(merchant)))
        .item(SK, string_value(key_sk(issued.application_id, issued.id)))
        .item("id", string_value(issued.id.to_string()))
        .item(
            "applicationId",
            string_value(issued.application_id.to_string()),
        )
        .item("keyPrefix", string_value(&issued.key_prefix))
        .item("description", string_value(issued.description.as_str()))
        .item("keyStatus", string_value(STORED_ACTIVE))
        .item("createdAt", time_value(issued.created_at))
        .item("keyHash", string_value(hash.to_hex()))
        .condition_expression("attribute_not_exists(PK)");
    if let Some(expires) = issued.expires_at {
        put = put
            .item("expiresAt", time_value(expires))
            .item(TTL_ATTRIBUTE, time_value(forget_after(expires)));
    }
    put
}

/// What the authorizer reads: one item, addressed by the key's hash.
pub(super) fn lookup_record(
    table: &str,
    merchant: &MerchantId,
    issued: &IssuedKey,
    hash: &KeyHash,
    enabled: bool,
) -> PutBuilder {
    let mut put = Put::builder()
        .table_name(table)
        .item(PK, string_value(lookup_pk(hash)))
        .item(SK, string_value(LOOKUP_SK))
        .item("merchantId", string_value(merchant.as_str()))
        .item(
            "applicationId",
            string_value(issued.application_id.to_string()),
        )
        .item("keyId", string_value(issued.id.to_string()))
        .item("keyStatus", string_value(STORED_ACTIVE))
        .item("applicationEnabled", bool_value(enabled))
        .condition_expression("attribute_not_exists(PK)");
    if let Some(expires) = issued.expires_at {
        put = put
            .item("expiresAt", time_value(expires))
            .item(TTL_ATTRIBUTE, time_value(forget_after(expires)));
    }
    put
}

pub(super) fn delete_key_item(
    table: &str,
    merchant: &MerchantId,
    application: ApplicationId,
    key: KeyId,
) -> DeleteBuilder {
    // No condition: a key item TTL already deleted is as good as this one.
    Delete::builder()
        .table_name(table)
        .key(PK, string_value(merchant_pk(merchant)))
        .key(SK, string_value(key_sk(application, key)))
}

/// What the writers need to know of a stored key.
pub(super) struct StoredKey {
    pub revoked: bool,
    pub expires_at: Option<Timestamp>,
    pub hash_hex: String,
    pub key_prefix: String,
    pub description: Description,
    /// Set by the request that revoked it, so that its retry can recognise its own write.
    pub revocation_id: Option<String>,
    /// The key that replaced it, once rolled.
    pub rolled_to: Option<String>,
}

impl StoredKey {
    pub fn from_item(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            revoked: stored_revoked(item)?,
            expires_at: get_optional_time(item, "expiresAt")?,
            hash_hex: get_string(item, "keyHash")?.to_owned(),
            key_prefix: get_string(item, "keyPrefix")?.to_owned(),
            description: Description::from_stored(get_string(item, "description")?.to_owned()),
            revocation_id: get_optional_string(item, "revocationId")?.map(str::to_owned),
            rolled_to: get_optional_string(item, "rolledTo")?.map(str::to_owned),
        })
    }

    pub fn status(&self, now: Timestamp) -> KeyStatus {
        key_status(self.revoked, self.expires_at, now)
    }
}

fn stored_revoked(item: &Item) -> Result<bool, StoreError> {
    match get_string(item, "keyStatus")? {
        STORED_ACTIVE => Ok(false),
        STORED_REVOKED => Ok(true),
        other => Err(StoreError::CorruptItem(format!("keyStatus {other}"))),
    }
}

pub(super) fn key_status(
    revoked: bool,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> KeyStatus {
    match expires_at {
        _ if revoked => KeyStatus::Revoked,
        Some(expires) if expires <= now => KeyStatus::Expired,
        _ => KeyStatus::Active,
    }
}

/// A key as listings show it at `now`; `None` for a key past its retention whose item DynamoDB's
/// TTL has not deleted yet (TTL deletes within days, not at once).
pub(super) fn key_summary_from_item(
    item: &Item,
    now: Timestamp,
) -> Result<Option<ApiKeySummary>, StoreError> {
    if get_optional_time(item, TTL_ATTRIBUTE)?.is_some_and(|forget| forget <= now) {
        return Ok(None);
    }
    let expires_at = get_optional_time(item, "expiresAt")?;
    Ok(Some(ApiKeySummary {
        id: get_string(item, "id")?.to_owned(),
        key_prefix: get_string(item, "keyPrefix")?.to_owned(),
        description: Description::from_stored(get_string(item, "description")?.to_owned()),
        status: key_status(stored_revoked(item)?, expires_at, now),
        created_at: get_time(item, "createdAt")?,
        expires_at,
        revoked_at: get_optional_time(item, "revokedAt")?,
        last_used_at: get_optional_time(item, "lastUsedAt")?,
    }))
}

//! The authorizer's read: one strongly consistent `GetItem` of the key's lookup record, which
//! every write that changes the decision keeps exact in the same transaction.

#[cfg(feature = "test-util")]
use aws_sdk_dynamodb::types::AttributeValue;

use super::codec::{get_bool, get_optional_time, get_string, string_value, Item};
use super::failure::sdk_error;
use super::keys::{lookup_pk, LOOKUP_SK, PK, SK};
use super::Store;
use crate::api_key::KeyHash;
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

impl KeyLookup {
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

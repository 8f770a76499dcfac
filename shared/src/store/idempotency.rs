//! Idempotency records: the response of a creating request, kept 24 hours under the merchant, the
//! route and the caller's `Idempotency-Key`, written in the same transaction as the change it
//! answers (so a replay costs one read, and the common path no extra request).
//!
//! `MERCHANT#<m>` / `IDEMPOTENCY#<route>#<sha256(key)>`: `fingerprint` (of the request),
//! `status`, `body`, `location`?, `noStore`, `secret`? (the encrypted full key of a key
//! creation), `expiresAt` (and `ttl`, for DynamoDB to delete it). The store keeps the response as
//! given: it knows no HTTP.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::builders::PutBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Put};

use super::codec::{
    bool_value, get_bool, get_count, get_optional_string, get_string, get_time, number_value,
    string_value, time_value, Item,
};
use super::keys::{merchant_pk, PK, SK};
use super::transaction::{Attempts, Retry};
use super::{Store, TTL_ATTRIBUTE};
use crate::domain::MerchantId;
use crate::error::StoreError;
use crate::time::Timestamp;

/// How long a key's record answers for it.
pub const RECORD_LIFETIME_SECONDS: i64 = 24 * 60 * 60;

/// A request's claim on an idempotency key: where its record is, and what the request was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// `IDEMPOTENCY#<route>#<sha256(key)>`: the key itself is never stored.
    pub sort_key: String,
    /// Hex SHA-256 of the request (route, path ids, parsed body).
    pub fingerprint: String,
    pub now: Timestamp,
}

impl IdempotencyClaim {
    pub fn new(route: &str, key_digest_hex: &str, fingerprint: String, now: Timestamp) -> Self {
        Self {
            sort_key: format!("IDEMPOTENCY#{route}#{key_digest_hex}"),
            fingerprint,
            now,
        }
    }

    fn expires_at(&self) -> Timestamp {
        self.now.plus_seconds(RECORD_LIFETIME_SECONDS)
    }
}

/// A response as recorded, replayed as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    pub no_store: bool,
    /// Encrypted by the caller; only key creations have one.
    pub secret: Option<Vec<u8>>,
}

/// Renders the response a writer's result will be answered with, to record in its transaction.
pub type Render<'a, T> = &'a (dyn Fn(&T) -> Result<StoredResponse, StoreError> + Send + Sync);

/// A writer's idempotency: the claim, and how to render what it will have written.
pub struct Idempotent<'a, T> {
    pub claim: &'a IdempotencyClaim,
    pub render: Render<'a, T>,
}

impl<T> Clone for Idempotent<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Idempotent<'_, T> {}

/// What a creating write did: wrote now, or found its key's record of an earlier request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written<T> {
    Fresh(T),
    Replayed(StoredResponse),
}

#[cfg(feature = "test-util")]
impl<T> Written<T> {
    /// For tests and the benchmark, which make changes without idempotency keys.
    pub fn unwrap_fresh(self) -> T {
        match self {
            Self::Fresh(value) => value,
            Self::Replayed(_) => panic!("a replay where a fresh write was expected"),
        }
    }
}

impl<T> Written<T> {
    /// What was written now, or `None` for a replay.
    pub fn fresh(self) -> Option<T> {
        match self {
            Self::Fresh(value) => Some(value),
            Self::Replayed(_) => None,
        }
    }
}

/// The record, to put in the change's transaction: only if the key is free or its record expired.
pub(super) fn record_put(
    table: &str,
    merchant: &MerchantId,
    claim: &IdempotencyClaim,
    response: &StoredResponse,
) -> PutBuilder {
    let mut put = Put::builder()
        .table_name(table)
        .item(PK, string_value(merchant_pk(merchant)))
        .item(SK, string_value(&claim.sort_key))
        .item("fingerprint", string_value(&claim.fingerprint))
        .item("status", number_value(response.status))
        .item("body", string_value(&response.body))
        .item("noStore", bool_value(response.no_store))
        .item("expiresAt", time_value(claim.expires_at()))
        .item(TTL_ATTRIBUTE, time_value(claim.expires_at()))
        .condition_expression("attribute_not_exists(PK) OR expiresAt <= :now")
        .expression_attribute_values(":now", time_value(claim.now));
    if let Some(location) = &response.location {
        put = put.item("location", string_value(location));
    }
    if let Some(secret) = &response.secret {
        put = put.item("secret", AttributeValue::B(Blob::new(secret.clone())));
    }
    put
}

fn response_from_item(item: &Item) -> Result<StoredResponse, StoreError> {
    Ok(StoredResponse {
        status: u16::try_from(get_count(item, "status")?)
            .map_err(|_| StoreError::CorruptItem("idempotency status".into()))?,
        body: get_string(item, "body")?.to_owned(),
        location: get_optional_string(item, "location")?.map(str::to_owned),
        no_store: get_bool(item, "noStore")?,
        secret: match item.get("secret") {
            Some(AttributeValue::B(blob)) => Some(blob.as_ref().to_vec()),
            _ => None,
        },
    })
}

impl Store {
    /// The response recorded for `claim`'s key, if a live record exists: `None` if there is none
    /// or it expired (it is then free again), `IdempotencyKeyReused` if it answers another
    /// request.
    pub(super) async fn recorded(
        &self,
        merchant: &MerchantId,
        claim: &IdempotencyClaim,
        attempts: &Attempts,
    ) -> Result<Option<StoredResponse>, StoreError> {
        let Some(item) = self
            .get_consistent(&merchant_pk(merchant), &claim.sort_key, attempts)
            .await?
        else {
            return Ok(None);
        };
        if get_time(&item, "expiresAt")? <= claim.now {
            return Ok(None);
        }
        if get_string(&item, "fingerprint")? != claim.fingerprint {
            return Err(StoreError::IdempotencyKeyReused);
        }
        response_from_item(&item).map(Some)
    }

    /// The response recorded for `claim`'s key, read on its own (see
    /// `idempotency::replay_if_recorded`); `IdempotencyKeyReused` if it answers another request.
    pub async fn recorded_response(
        &self,
        merchant: &MerchantId,
        claim: &IdempotencyClaim,
    ) -> Result<Option<StoredResponse>, StoreError> {
        self.recorded(merchant, claim, &self.attempts()).await
    }

    /// After a transaction was cancelled on its idempotency record: the record that holds the
    /// key, to replay, or (if it expired meanwhile) `None` after a backoff, to try again.
    pub(super) async fn replay_or_retry(
        &self,
        merchant: &MerchantId,
        claim: &IdempotencyClaim,
        attempts: &mut Attempts,
    ) -> Result<Option<StoredResponse>, StoreError> {
        match self.recorded(merchant, claim, attempts).await? {
            Some(response) => Ok(Some(response)),
            None => {
                attempts.wait(Retry::Changed).await?;
                Ok(None)
            }
        }
    }

    /// Records a refusal the contract keeps (a 4xx such as `name_taken`) under `claim`'s key,
    /// alone: the change it refused wrote nothing. If another request holds the key, its record.
    pub async fn record_refusal(
        &self,
        merchant: &MerchantId,
        claim: &IdempotencyClaim,
        response: &StoredResponse,
    ) -> Result<Written<()>, StoreError> {
        let mut attempts = self.attempts();
        loop {
            let put = record_put(&self.table, merchant, claim, response)
                .build()
                .map_err(super::failure::build_error)?;
            let sent = self
                .client
                .put_item()
                .table_name(put.table_name())
                .set_item(Some(put.item().clone()))
                .set_condition_expression(put.condition_expression().map(str::to_owned))
                .set_expression_attribute_values(put.expression_attribute_values().cloned())
                .send();
            match attempts.bounded(sent).await? {
                Ok(_) => return Ok(Written::Fresh(())),
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    if let Some(theirs) =
                        self.replay_or_retry(merchant, claim, &mut attempts).await?
                    {
                        return Ok(Written::Replayed(theirs));
                    }
                }
                Err(err) => return Err(super::failure::sdk_error(err)),
            }
        }
    }
}

//! `MERCHANT#<m>` / `IDEMPOTENCY#<route>#<sha256(Idempotency-Key)>`: the response a creating
//! request was answered with, kept 24 hours, written in the same transaction as the change it
//! answers (so a replay costs one read, and the common path no extra request). The store keeps the
//! response as given: it knows no HTTP. A full key in it is sealed by the caller. The record
//! answers only the request it was made for, from the caller who made it ([`Recorded::answers`]).

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::builders::PutBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Put};

use super::codec::{
    bool_value, get_bool, get_count, get_optional_string, get_string, get_time, number_value,
    string_value, time_value, Item,
};
use super::{merchant_pk, PK, SK, TTL};
use crate::domain::limits::RECORD_LIFETIME_SECONDS;
use crate::domain::{Failure, MerchantId, Timestamp};

pub const FINGERPRINT: &str = "fingerprint";
/// Hex SHA-256 of the token's `sub` that made the request: a replay goes to that caller only.
pub const CALLER: &str = "caller";
pub const STATUS: &str = "status";
pub const BODY: &str = "body";
pub const LOCATION: &str = "location";
pub const NO_STORE: &str = "noStore";
/// The sealed full key of a key creation's response (only those have one).
pub const SECRET: &str = "secret";
pub const EXPIRES_AT: &str = "expiresAt";

pub const ATTRIBUTES: &[&str] = &[
    FINGERPRINT,
    CALLER,
    STATUS,
    BODY,
    LOCATION,
    NO_STORE,
    SECRET,
    EXPIRES_AT,
    TTL,
];

/// A request's claim on an idempotency key: where its record is, and what the request was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// `IDEMPOTENCY#<route>#<sha256(key)>`: the key itself is never stored.
    pub sort_key: String,
    /// Hex SHA-256 of the request (route, path ids, parsed body).
    pub fingerprint: String,
    /// Hex SHA-256 of the caller's `sub`.
    pub caller: String,
    /// When the request claimed it.
    pub now: Timestamp,
}

impl Claim {
    pub fn new(
        route: &str,
        key_digest_hex: &str,
        fingerprint: String,
        caller: String,
        now: Timestamp,
    ) -> Self {
        Self {
            sort_key: format!("IDEMPOTENCY#{route}#{key_digest_hex}"),
            fingerprint,
            caller,
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
    pub secret: Option<Vec<u8>>,
}

/// A record as read: whose request it answers, until when, and with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub fingerprint: String,
    /// Absent from records written before callers were kept: those answer nobody.
    pub caller: Option<String>,
    pub expires_at: Timestamp,
    pub response: StoredResponse,
}

impl Recorded {
    /// Whether this record answers `claim`: the same request from the same caller. Anything
    /// else holding the key is `idempotency_key_reused`, and never sees the recorded answer.
    pub fn answers(&self, claim: &Claim) -> bool {
        self.fingerprint == claim.fingerprint && self.caller.as_deref() == Some(&claim.caller)
    }
}

/// The record of `claim`'s request: written only if the key is free or its record expired.
pub fn put_if_free(
    table: &str,
    merchant: &MerchantId,
    claim: &Claim,
    response: &StoredResponse,
) -> PutBuilder {
    let mut put = Put::builder()
        .table_name(table)
        .item(PK, string_value(merchant_pk(merchant)))
        .item(SK, string_value(&claim.sort_key))
        .item(FINGERPRINT, string_value(&claim.fingerprint))
        .item(CALLER, string_value(&claim.caller))
        .item(STATUS, number_value(response.status))
        .item(BODY, string_value(&response.body))
        .item(NO_STORE, bool_value(response.no_store))
        .item(EXPIRES_AT, time_value(claim.expires_at()))
        .item(TTL, time_value(claim.expires_at()))
        .condition_expression(format!(
            "attribute_not_exists({PK}) OR {EXPIRES_AT} <= :now"
        ))
        .expression_attribute_values(":now", time_value(claim.now));
    if let Some(location) = &response.location {
        put = put.item(LOCATION, string_value(location));
    }
    if let Some(secret) = &response.secret {
        put = put.item(SECRET, AttributeValue::B(Blob::new(secret.clone())));
    }
    put
}

pub fn from_item(item: &Item) -> Result<Recorded, Failure> {
    Ok(Recorded {
        fingerprint: get_string(item, FINGERPRINT)?.to_owned(),
        caller: get_optional_string(item, CALLER)?.map(str::to_owned),
        expires_at: get_time(item, EXPIRES_AT)?,
        response: StoredResponse {
            status: u16::try_from(get_count(item, STATUS)?)
                .map_err(|_| Failure::corrupt("idempotency status"))?,
            body: get_string(item, BODY)?.to_owned(),
            location: get_optional_string(item, LOCATION)?.map(str::to_owned),
            no_store: get_bool(item, NO_STORE)?,
            secret: match item.get(SECRET) {
                Some(AttributeValue::B(blob)) => Some(blob.as_ref().to_vec()),
                _ => None,
            },
        },
    })
}

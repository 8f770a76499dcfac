//! API keys: what a key is at a given moment (the one rule of "is this key working at time t"),
//! what a merchant asks for, and what the API shows of a key. The full key itself is shown once,
//! in [`CreatedApiKey`]; everything else carries at most its 12-character prefix.

use serde::Serialize;

use super::error::FieldError;
use super::ids::{ApplicationId, KeyId, MerchantId};
use super::key_format::{FullKey, KeyHash};
use super::limits::{KEY_LIFETIME_MAX_SECONDS, LAST_USE_ACCURACY_SECONDS, RETIRED_KEYS_KEPT};
use super::permissions::Permissions;
use super::text::Description;
use super::time::Timestamp;

/// What a key is to its owner at a given moment. A key is stored as active or revoked; it is
/// expired once its `expiresAt` has passed, which needs no write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Revoked,
    Expired,
}

/// The one rule of a key's state at `now`: revoked stays revoked; otherwise a key works until
/// its `expires_at` (exclusive) and is expired from then on.
pub fn status_at(revoked: bool, expires_at: Option<Timestamp>, now: Timestamp) -> KeyStatus {
    match expires_at {
        _ if revoked => KeyStatus::Revoked,
        Some(expires) if expires <= now => KeyStatus::Expired,
        _ => KeyStatus::Active,
    }
}

/// Whether a key that is not revoked works at `now`.
pub fn works_at(expires_at: Option<Timestamp>, now: Timestamp) -> bool {
    status_at(false, expires_at, now) == KeyStatus::Active
}

/// When a rolled key stops working: the end of its grace window, never later than it would have
/// stopped anyway (a roll never extends a key's life). A window of 0 ends it now.
pub fn rolled_key_end(expires_at: Option<Timestamp>, now: Timestamp, grace: i64) -> Timestamp {
    let window_end = now.plus_seconds(grace);
    expires_at.map_or(window_end, |current| current.min(window_end))
}

/// What a key creation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRequest {
    pub description: Description,
    pub expires_at: Option<Timestamp>,
    pub permissions: Permissions,
}

/// `expiresAt`: an RFC 3339 date-time with a UTC offset, after `now` (the server's clock), at most
/// 10 years ahead. Fractions of a second are dropped (the API shows whole seconds).
pub fn parse_expiry(raw: &str, now: Timestamp) -> Result<Timestamp, FieldError> {
    let field = "expiresAt";
    let expires = Timestamp::parse_rfc3339(raw).ok_or_else(|| {
        FieldError::new(
            field,
            "must be an RFC 3339 date-time with a UTC offset, e.g. 2027-01-31T00:00:00Z",
        )
    })?;
    if expires <= now {
        return Err(FieldError::new(
            field,
            format!("must be in the future (now is {})", now.to_rfc3339()),
        ));
    }
    if expires > now.plus_seconds(KEY_LIFETIME_MAX_SECONDS) {
        return Err(FieldError::new(field, "must be at most 10 years ahead"));
    }
    Ok(expires)
}

/// A key about to be stored: what the merchant will see of it, and its keyed hash. The store
/// never sees the full key.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub description: Description,
    pub key_prefix: String,
    pub hash: KeyHash,
    pub expires_at: Option<Timestamp>,
    pub permissions: Permissions,
}

impl NewKey {
    /// The key `full_key`, hashed with `hash` (the pepper's), for `request`.
    pub fn new(request: KeyRequest, full_key: &FullKey, hash: KeyHash) -> Self {
        Self {
            description: request.description,
            key_prefix: full_key.display_prefix().to_owned(),
            hash,
            expires_at: request.expires_at,
            permissions: request.permissions,
        }
    }

    /// The key as issued under a fresh id at `now`.
    pub fn issue(&self, application: ApplicationId, now: Timestamp) -> IssuedKey {
        IssuedKey {
            id: KeyId::new(),
            application_id: application,
            key_prefix: self.key_prefix.clone(),
            description: self.description.clone(),
            created_at: now,
            expires_at: self.expires_at,
            permissions: self.permissions.clone(),
        }
    }
}

/// A key as the store wrote it: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKey {
    pub id: KeyId,
    pub application_id: ApplicationId,
    pub key_prefix: String,
    pub description: Description,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub permissions: Permissions,
}

/// A roll about to be stored: how long the old key keeps working, and the new key's prefix and
/// keyed hash (its description and expiry are the old key's).
#[derive(Debug, Clone)]
pub struct Roll {
    /// 0 revokes the old key at once.
    pub grace_seconds: i64,
    pub key_prefix: String,
    pub hash: KeyHash,
    /// The new key's permissions; `None` takes the old key's.
    pub permissions: Option<Permissions>,
}

/// A change of a key's permissions, description, or both (`PATCH …/api-keys/{keyId}`); at least
/// one is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    pub permissions: Option<Permissions>,
    pub description: Option<Description>,
}

/// What a roll did: the new key, and the old key's id and new end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rolled {
    pub new_key: IssuedKey,
    pub old_key: KeyId,
    /// When the old key stops working (now, for a grace window of 0).
    pub old_expires_at: Timestamp,
}

/// A key as listings show it: never the hash, never the full key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeySummary {
    pub id: KeyId,
    pub key_prefix: String,
    pub description: Description,
    pub status: KeyStatus,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub permissions: Permissions,
}

impl ApiKeySummary {
    /// When a key that no longer works stopped working; `None` while it works.
    pub fn stopped_at(&self) -> Option<Timestamp> {
        match self.status {
            KeyStatus::Active => None,
            KeyStatus::Revoked => self.revoked_at,
            KeyStatus::Expired => self.expires_at,
        }
    }
}

/// What an application lists of its keys: every working key, and the most recently stopped of
/// the others up to the contract's bound (retired ones past it leave at the next write; this
/// keeps the listing exact meanwhile), newest first.
pub fn listed(keys: Vec<ApiKeySummary>) -> Vec<ApiKeySummary> {
    let (mut kept, mut stopped): (Vec<_>, Vec<_>) = keys
        .into_iter()
        .partition(|key| key.status == KeyStatus::Active);
    stopped.sort_by_key(|key| std::cmp::Reverse(key.stopped_at()));
    stopped.truncate(RETIRED_KEYS_KEPT);
    kept.append(&mut stopped);
    // Ids are UUID v7: by id is by creation time.
    kept.sort_by_key(|key| std::cmp::Reverse(key.id));
    kept
}

/// The one response that carries a full key. Its `Debug` shows only the key's prefix.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    pub id: KeyId,
    pub application_id: ApplicationId,
    pub full_key: FullKey,
    pub key_prefix: String,
    pub description: Description,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub permissions: Permissions,
}

impl CreatedApiKey {
    pub fn new(issued: &IssuedKey, full_key: &FullKey) -> Self {
        Self {
            id: issued.id,
            application_id: issued.application_id,
            full_key: full_key.clone(),
            key_prefix: issued.key_prefix.clone(),
            description: issued.description.clone(),
            created_at: issued.created_at,
            expires_at: issued.expires_at,
            permissions: issued.permissions.clone(),
        }
    }
}

/// A roll's answer: the new key as on creation, and the old key's new end.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolledApiKey {
    #[serde(flatten)]
    pub key: CreatedApiKey,
    pub rolled_key: RolledKey,
}

impl RolledApiKey {
    pub fn new(rolled: &Rolled, full_key: &FullKey) -> Self {
        Self {
            key: CreatedApiKey::new(&rolled.new_key, full_key),
            rolled_key: RolledKey {
                id: rolled.old_key,
                expires_at: rolled.old_expires_at,
            },
        }
    }
}

/// The key a roll replaced: it keeps working until `expiresAt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolledKey {
    pub id: KeyId,
    pub expires_at: Timestamp,
}

/// What the authorizer needs to decide, in one record reachable from the key's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLookup {
    pub merchant_id: MerchantId,
    pub application_id: ApplicationId,
    pub key_id: KeyId,
    pub revoked: bool,
    pub expires_at: Option<Timestamp>,
    pub application_enabled: bool,
    pub last_used_at: Option<Timestamp>,
    /// As stored: `None` for an unrestricted key ([`Permissions::stored`]).
    pub permissions: Option<String>,
}

impl KeyLookup {
    pub fn status_at(&self, now: Timestamp) -> KeyStatus {
        status_at(self.revoked, self.expires_at, now)
    }

    /// Whether an allowed call at `now` should record itself as the key's last use.
    pub fn last_use_is_due(&self, now: Timestamp) -> bool {
        self.last_used_at
            .is_none_or(|last| last.plus_seconds(LAST_USE_ACCURACY_SECONDS) <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::key_format::KeyMode;
    use crate::domain::limits::KEY_DESCRIPTION_MAX;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_epoch_seconds(seconds)
    }

    #[test]
    fn a_key_works_until_its_expiry_and_revoked_stays_revoked() {
        assert_eq!(status_at(false, None, at(10)), KeyStatus::Active);
        assert_eq!(status_at(false, Some(at(11)), at(10)), KeyStatus::Active);
        assert_eq!(status_at(false, Some(at(10)), at(10)), KeyStatus::Expired);
        assert_eq!(status_at(true, Some(at(5)), at(10)), KeyStatus::Revoked);
        assert!(works_at(Some(at(11)), at(10)) && !works_at(Some(at(10)), at(10)));
    }

    #[test]
    fn a_roll_never_extends_a_key() {
        assert_eq!(rolled_key_end(None, at(100), 60), at(160));
        assert_eq!(rolled_key_end(Some(at(120)), at(100), 60), at(120));
        assert_eq!(rolled_key_end(Some(at(500)), at(100), 0), at(100));
    }

    #[test]
    fn a_created_key_prints_only_its_prefix() {
        let full_key = FullKey::generate(KeyMode::Live);
        let issued = IssuedKey {
            id: KeyId::new(),
            application_id: ApplicationId::new(),
            key_prefix: full_key.display_prefix().to_owned(),
            description: Description::parse("description", "checkout", KEY_DESCRIPTION_MAX)
                .unwrap(),
            created_at: at(1_700_000_000),
            expires_at: None,
            permissions: Permissions::Unrestricted,
        };
        let created = CreatedApiKey::new(&issued, &full_key);
        let printed = format!("{created:?}");
        assert!(
            !printed.contains(&full_key.expose_secret()[12..]),
            "{printed}"
        );
        assert!(printed.contains(full_key.display_prefix()), "{printed}");
        // The response body is the one place it is written out.
        let body = serde_json::to_value(&created).unwrap();
        assert_eq!(body["fullKey"], full_key.expose_secret());
    }
}

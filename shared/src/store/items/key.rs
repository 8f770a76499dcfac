//! `MERCHANT#<m>` / `KEY#<appId>#<keyId>`: an API key as its merchant sees it (never the full key;
//! its keyed hash, to find its lookup record). Ids are UUID v7, so an application's keys sort by
//! creation between [`first_sk`] and [`past_last_sk`].

use aws_sdk_dynamodb::types::builders::{DeleteBuilder, PutBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{Delete, Put, Update};

use super::codec::{
    get_optional_parsed, get_optional_string, get_optional_time, get_parsed, get_string, get_time,
    string_value, time_value, Item,
};
use super::{merchant_pk, PK, SK, TTL};
use crate::domain::key::{status_at, ApiKeySummary, IssuedKey, KeyStatus};
use crate::domain::key_format::KeyHash;
use crate::domain::limits::HISTORY_RETENTION_SECONDS;
use crate::domain::permissions::Permissions;
use crate::domain::text::Description;
use crate::domain::{ApplicationId, Failure, KeyId, MerchantId, Timestamp};

pub const ID: &str = "id";
pub const APPLICATION_ID: &str = "applicationId";
pub const KEY_PREFIX: &str = "keyPrefix";
pub const DESCRIPTION: &str = "description";
pub const KEY_STATUS: &str = "keyStatus";
pub const CREATED_AT: &str = "createdAt";
pub const KEY_HASH: &str = "keyHash";
pub const EXPIRES_AT: &str = "expiresAt";
pub const REVOKED_AT: &str = "revokedAt";
/// Set by the request that revoked it, so that its retry can recognise its own write.
pub const REVOCATION_ID: &str = "revocationId";
/// The key that replaced it, once rolled.
pub const ROLLED_TO: &str = "rolledTo";
pub const LAST_USED_AT: &str = "lastUsedAt";
/// A restricted key's permissions, space-separated and sorted; absent for an unrestricted key.
/// A reserved word in expressions: always `#permissions` there.
pub const PERMISSIONS: &str = "permissions";

pub const ATTRIBUTES: &[&str] = &[
    ID,
    APPLICATION_ID,
    KEY_PREFIX,
    DESCRIPTION,
    KEY_STATUS,
    CREATED_AT,
    KEY_HASH,
    EXPIRES_AT,
    REVOKED_AT,
    REVOCATION_ID,
    ROLLED_TO,
    LAST_USED_AT,
    PERMISSIONS,
    TTL,
];

/// What a writer reads of a key to change it ([`StoredKey`]): nothing else, so that a role may
/// be narrowed to just these (`dynamodb:Attributes`).
pub const STATE: &[&str] = &[
    KEY_STATUS,
    EXPIRES_AT,
    KEY_HASH,
    KEY_PREFIX,
    DESCRIPTION,
    REVOCATION_ID,
    ROLLED_TO,
];

/// How a key's state is written, here and on its lookup record.
pub const STATUS_ACTIVE: &str = "active";
pub const STATUS_REVOKED: &str = "revoked";

pub fn sk(application: ApplicationId, key: KeyId) -> String {
    format!("KEY#{application}#{key}")
}

/// The first sort key of `application`'s keys.
pub fn first_sk(application: ApplicationId) -> String {
    format!("KEY#{application}#")
}

/// One past the last sort key of `application`'s keys: `$` sorts right after `#`.
pub fn past_last_sk(application: ApplicationId) -> String {
    format!("KEY#{application}$")
}

/// When a stopped key's items leave the table (DynamoDB's TTL deletes them).
pub fn forget_after(stopped: Timestamp) -> Timestamp {
    stopped.plus_seconds(HISTORY_RETENTION_SECONDS)
}

/// Puts a new key; its id must be new.
pub fn put_new(
    table: &str,
    merchant: &MerchantId,
    issued: &IssuedKey,
    hash: &KeyHash,
) -> PutBuilder {
    let mut put = Put::builder()
        .table_name(table)
        .item(PK, string_value(merchant_pk(merchant)))
        .item(SK, string_value(sk(issued.application_id, issued.id)))
        .item(ID, string_value(issued.id.to_string()))
        .item(
            APPLICATION_ID,
            string_value(issued.application_id.to_string()),
        )
        .item(KEY_PREFIX, string_value(&issued.key_prefix))
        .item(DESCRIPTION, string_value(issued.description.as_str()))
        .item(KEY_STATUS, string_value(STATUS_ACTIVE))
        .item(CREATED_AT, time_value(issued.created_at))
        .item(KEY_HASH, string_value(hash.to_hex()))
        .condition_expression(format!("attribute_not_exists({PK})"));
    if let Some(permissions) = issued.permissions.stored() {
        put = put.item(PERMISSIONS, string_value(permissions));
    }
    if let Some(expires) = issued.expires_at {
        put = put
            .item(EXPIRES_AT, time_value(expires))
            .item(TTL, time_value(forget_after(expires)));
    }
    put
}

fn update(
    table: &str,
    merchant: &MerchantId,
    application: ApplicationId,
    key: KeyId,
) -> UpdateBuilder {
    Update::builder()
        .table_name(table)
        .key(PK, string_value(merchant_pk(merchant)))
        .key(SK, string_value(sk(application, key)))
}

/// The values of every change of a key's state (still active and unexpired at `now`), and the
/// name of its time to live (`ttl` is a reserved word in expressions).
fn active_at(now: Timestamp, update: UpdateBuilder) -> UpdateBuilder {
    update
        .expression_attribute_names("#ttl", TTL)
        .expression_attribute_values(":active", string_value(STATUS_ACTIVE))
        .expression_attribute_values(":now", time_value(now))
}

/// Revokes the key at `now`, marked with this request's `revocation`; refused unless it is still
/// active and unexpired.
pub fn revoke_if_active(
    table: &str,
    merchant: &MerchantId,
    application: ApplicationId,
    key: KeyId,
    now: Timestamp,
    revocation: &str,
) -> UpdateBuilder {
    active_at(now, update(table, merchant, application, key))
        .update_expression(format!(
            "SET {KEY_STATUS} = :revoked, {REVOKED_AT} = :now, {REVOCATION_ID} = :revocation, #ttl = :forget"
        ))
        .condition_expression(format!(
            "{KEY_STATUS} = :active AND (attribute_not_exists({EXPIRES_AT}) OR {EXPIRES_AT} > :now)"
        ))
        .expression_attribute_values(":revoked", string_value(STATUS_REVOKED))
        .expression_attribute_values(":revocation", string_value(revocation))
        .expression_attribute_values(":forget", time_value(forget_after(now)))
}

/// The condition that the key's permissions are still `read` (what a change was based on).
fn permissions_are(update: UpdateBuilder, read: &Permissions) -> (UpdateBuilder, String) {
    let update = update.expression_attribute_names("#permissions", PERMISSIONS);
    match read.stored() {
        None => (update, "attribute_not_exists(#permissions)".to_owned()),
        Some(stored) => (
            update.expression_attribute_values(":read", string_value(stored)),
            "#permissions = :read".to_owned(),
        ),
    }
}

/// Marks the key rolled into `new`: it ends at `end` (revoked at once when `end` is `now`);
/// refused unless it is active, unexpired, not rolled before, and its permissions are still
/// `read` (which the new key takes over, when the roll names none).
#[allow(clippy::too_many_arguments)]
pub fn roll_if_active(
    table: &str,
    merchant: &MerchantId,
    application: ApplicationId,
    key: KeyId,
    new: KeyId,
    end: Timestamp,
    now: Timestamp,
    read: &Permissions,
) -> UpdateBuilder {
    let (update, unchanged) = permissions_are(
        active_at(now, update(table, merchant, application, key)),
        read,
    );
    let update = update
        .condition_expression(format!(
            "{KEY_STATUS} = :active AND attribute_not_exists({ROLLED_TO}) AND (attribute_not_exists({EXPIRES_AT}) OR {EXPIRES_AT} > :now) AND {unchanged}"
        ))
        .expression_attribute_values(":new", string_value(new.to_string()))
        .expression_attribute_values(":forget", time_value(forget_after(end)));
    if end <= now {
        update
            .update_expression(format!(
                "SET {KEY_STATUS} = :revoked, {REVOKED_AT} = :now, {ROLLED_TO} = :new, #ttl = :forget"
            ))
            .expression_attribute_values(":revoked", string_value(STATUS_REVOKED))
    } else {
        update
            .update_expression(format!(
                "SET {EXPIRES_AT} = :expires, {ROLLED_TO} = :new, #ttl = :forget"
            ))
            .expression_attribute_values(":expires", time_value(end))
    }
}

/// Sets the key's permissions and description to `to`; refused unless it is active,
/// unexpired, and its permissions are still `read` (so that the audit event's old value is
/// exact, and of concurrent changes each applies to what the one before it left).
pub fn change_if_active(
    table: &str,
    merchant: &MerchantId,
    application: ApplicationId,
    key: KeyId,
    now: Timestamp,
    read: &Permissions,
    to: (&Permissions, &Description),
) -> UpdateBuilder {
    let (permissions, description) = to;
    let unexpired = update(table, merchant, application, key)
        .expression_attribute_values(":active", string_value(STATUS_ACTIVE))
        .expression_attribute_values(":now", time_value(now));
    let (update, unchanged) = permissions_are(unexpired, read);
    let update = update
        .condition_expression(format!(
            "{KEY_STATUS} = :active AND (attribute_not_exists({EXPIRES_AT}) OR {EXPIRES_AT} > :now) AND {unchanged}"
        ))
        .expression_attribute_values(":description", string_value(description.as_str()));
    match permissions.stored() {
        Some(stored) => update
            .update_expression(format!(
                "SET #permissions = :permissions, {DESCRIPTION} = :description"
            ))
            .expression_attribute_values(":permissions", string_value(stored)),
        None => update.update_expression(format!(
            "SET {DESCRIPTION} = :description REMOVE #permissions"
        )),
    }
}

/// Records an allowed call at `now` as the key's last use (if the key is still there).
pub fn record_last_use(
    table: &str,
    merchant: &MerchantId,
    application: ApplicationId,
    key: KeyId,
    now: Timestamp,
) -> UpdateBuilder {
    update(table, merchant, application, key)
        .update_expression(format!("SET {LAST_USED_AT} = :now"))
        .condition_expression(format!("attribute_exists({PK})"))
        .expression_attribute_values(":now", time_value(now))
}

/// Deletes a retired key's item. No condition: an item TTL already deleted is as good as this.
pub fn delete(
    table: &str,
    merchant: &MerchantId,
    application: ApplicationId,
    key: KeyId,
) -> DeleteBuilder {
    Delete::builder()
        .table_name(table)
        .key(PK, string_value(merchant_pk(merchant)))
        .key(SK, string_value(sk(application, key)))
}

/// What the writers need to know of a stored key (its [`STATE`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub revoked: bool,
    pub expires_at: Option<Timestamp>,
    pub hash: KeyHash,
    pub key_prefix: String,
    pub description: Description,
    pub revocation_id: Option<String>,
    pub rolled_to: Option<KeyId>,
}

impl StoredKey {
    pub fn status(&self, now: Timestamp) -> KeyStatus {
        status_at(self.revoked, self.expires_at, now)
    }
}

fn revoked(item: &Item) -> Result<bool, Failure> {
    match get_string(item, KEY_STATUS)? {
        STATUS_ACTIVE => Ok(false),
        STATUS_REVOKED => Ok(true),
        other => Err(Failure::corrupt(format!("{KEY_STATUS} {other}"))),
    }
}

/// A key's state as read for a change.
pub fn from_item(item: &Item) -> Result<StoredKey, Failure> {
    Ok(StoredKey {
        revoked: revoked(item)?,
        expires_at: get_optional_time(item, EXPIRES_AT)?,
        hash: get_parsed(item, KEY_HASH, KeyHash::from_hex)?,
        key_prefix: get_string(item, KEY_PREFIX)?.to_owned(),
        description: Description::from_stored(get_string(item, DESCRIPTION)?.to_owned()),
        revocation_id: get_optional_string(item, REVOCATION_ID)?.map(str::to_owned),
        rolled_to: get_optional_parsed(item, ROLLED_TO, KeyId::parse)?,
    })
}

/// A key's permissions, from an item read whole.
pub fn permissions_of(item: &Item) -> Result<Permissions, Failure> {
    Ok(Permissions::from_stored(get_optional_string(
        item,
        PERMISSIONS,
    )?))
}

/// The application a listed key item belongs to.
pub fn application_of(item: &Item) -> Result<ApplicationId, Failure> {
    get_parsed(item, APPLICATION_ID, ApplicationId::parse)
}

/// A key as listings show it at `now`; `None` for a key past its retention whose item DynamoDB's
/// TTL has not deleted yet (TTL deletes within days, not at once).
pub fn summary_from_item(item: &Item, now: Timestamp) -> Result<Option<ApiKeySummary>, Failure> {
    if get_optional_time(item, TTL)?.is_some_and(|forget| forget <= now) {
        return Ok(None);
    }
    let expires_at = get_optional_time(item, EXPIRES_AT)?;
    Ok(Some(ApiKeySummary {
        id: get_parsed(item, ID, KeyId::parse)?,
        key_prefix: get_string(item, KEY_PREFIX)?.to_owned(),
        description: Description::from_stored(get_string(item, DESCRIPTION)?.to_owned()),
        status: status_at(revoked(item)?, expires_at, now),
        created_at: get_time(item, CREATED_AT)?,
        expires_at,
        revoked_at: get_optional_time(item, REVOKED_AT)?,
        last_used_at: get_optional_time(item, LAST_USED_AT)?,
        permissions: permissions_of(item)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_applications_keys_sort_between_its_bounds_and_nothing_else_does() {
        let app = ApplicationId::new();
        let key = sk(app, KeyId::new());
        assert!(first_sk(app) < key && key < past_last_sk(app));
        let later = ApplicationId::new();
        assert!(past_last_sk(app) < first_sk(later));
        for other in [
            super::super::application::sk(app),
            super::super::keyring::sk(app),
            "APPNAME#00".to_owned(),
        ] {
            assert!(!(first_sk(app) <= other && other < past_last_sk(later)));
        }
    }
}

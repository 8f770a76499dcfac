//! `MERCHANT#<m>` / `EVENT#<appId>#<eventId>`: one audit event, written by every change in its
//! own transaction and kept 400 days by DynamoDB's TTL. Ids are UUID v7: an application's events
//! newest first is one reverse query between [`first_sk`] and [`past_last_sk`].

use aws_sdk_dynamodb::types::builders::PutBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Put};

use super::codec::{
    get_optional_parsed, get_optional_string, get_optional_time, get_parsed, get_string, get_time,
    string_value, time_value, Item,
};
use super::{merchant_pk, PK, SK, TTL};
use crate::domain::audit::{
    AuditEvent, Change, EventActor, EventType, KeyRef, LeakReport, Origin, Subject,
};
use crate::domain::limits::EVENT_RETENTION_SECONDS;
use crate::domain::permissions::Permissions;
use crate::domain::text::Description;
use crate::domain::{ApplicationId, EventId, Failure, KeyId, MerchantId, Timestamp};

pub const SK_PREFIX: &str = "EVENT#";

pub const ID: &str = "id";
pub const TYPE: &str = "type";
pub const CREATED_AT: &str = "createdAt";
pub const APPLICATION_ID: &str = "applicationId";
pub const MERCHANT_ID: &str = "merchantId";
pub const ACTOR_SUB: &str = "actorSub";
pub const REQUEST_ID: &str = "requestId";
pub const KEY_ID: &str = "keyId";
pub const KEY_PREFIX: &str = "keyPrefix";
pub const NEW_KEY_ID: &str = "newKeyId";
pub const NEW_KEY_PREFIX: &str = "newKeyPrefix";
pub const SOURCE_IP: &str = "sourceIp";
pub const USER_AGENT: &str = "userAgent";
/// A map `{url, source}`: where a leaked key was found.
pub const REPORT: &str = "report";
pub const REPORT_URL: &str = "url";
pub const REPORT_SOURCE: &str = "source";
/// `api_key.updated`: `{old, new}`, each the stored form or NULL (unrestricted).
pub const PERMISSIONS: &str = "permissions";
/// `api_key.updated` that changed the description: `{old, new}`.
pub const DESCRIPTION: &str = "description";
pub const OLD: &str = "old";
pub const NEW: &str = "new";

pub const ATTRIBUTES: &[&str] = &[
    ID,
    TYPE,
    CREATED_AT,
    APPLICATION_ID,
    MERCHANT_ID,
    ACTOR_SUB,
    REQUEST_ID,
    KEY_ID,
    KEY_PREFIX,
    NEW_KEY_ID,
    NEW_KEY_PREFIX,
    SOURCE_IP,
    USER_AGENT,
    REPORT,
    TTL,
    PERMISSIONS,
    DESCRIPTION,
];

pub fn sk(application: ApplicationId, event: EventId) -> String {
    format!("{SK_PREFIX}{application}#{event}")
}

pub fn first_sk(application: ApplicationId) -> String {
    format!("{SK_PREFIX}{application}#")
}

pub fn past_last_sk(application: ApplicationId) -> String {
    format!("{SK_PREFIX}{application}$")
}

/// Whether a stream record's sort key is an audit event's.
pub fn is_event_sk(sk: &str) -> bool {
    sk.starts_with(SK_PREFIX)
}

/// The event of a change made at `now`, under a fresh id: to put in the change's transaction.
pub fn put_new(
    table: &str,
    merchant: &MerchantId,
    application: ApplicationId,
    subject: &Subject<'_>,
    origin: &Origin,
    now: Timestamp,
) -> PutBuilder {
    let id = EventId::new();
    let mut put = Put::builder()
        .table_name(table)
        .item(PK, string_value(merchant_pk(merchant)))
        .item(SK, string_value(sk(application, id)))
        .item(ID, string_value(id.to_string()))
        .item(TYPE, string_value(subject.kind.as_str()))
        .item(CREATED_AT, time_value(now))
        .item(APPLICATION_ID, string_value(application.to_string()))
        .item(MERCHANT_ID, string_value(merchant.as_str()))
        .item(ACTOR_SUB, string_value(&origin.sub))
        .item(REQUEST_ID, string_value(&origin.request_id))
        .item(TTL, time_value(now.plus_seconds(EVENT_RETENTION_SECONDS)))
        .condition_expression(format!("attribute_not_exists({PK})"));
    if let Some((key, prefix)) = subject.key {
        put = put
            .item(KEY_ID, string_value(key.to_string()))
            .item(KEY_PREFIX, string_value(prefix));
    }
    if let Some((key, prefix)) = subject.new_key {
        put = put
            .item(NEW_KEY_ID, string_value(key.to_string()))
            .item(NEW_KEY_PREFIX, string_value(prefix));
    }
    // Empty strings are valid attribute values, but absent reads better than empty.
    if let Some(ip) = origin.source_ip.as_deref().filter(|ip| !ip.is_empty()) {
        put = put.item(SOURCE_IP, string_value(ip));
    }
    if let Some(agent) = origin.user_agent.as_deref().filter(|a| !a.is_empty()) {
        put = put.item(USER_AGENT, string_value(agent));
    }
    if let Some((old, new)) = subject.permissions {
        let stored = |permissions: &Permissions| match permissions.stored() {
            Some(joined) => string_value(joined),
            None => AttributeValue::Null(true),
        };
        put = put.item(
            PERMISSIONS,
            AttributeValue::M(Item::from([
                (OLD.to_owned(), stored(old)),
                (NEW.to_owned(), stored(new)),
            ])),
        );
    }
    if let Some((old, new)) = subject.description {
        put = put.item(
            DESCRIPTION,
            AttributeValue::M(Item::from([
                (OLD.to_owned(), string_value(old.as_str())),
                (NEW.to_owned(), string_value(new.as_str())),
            ])),
        );
    }
    if let Some(report) = &origin.report {
        put = put.item(
            REPORT,
            AttributeValue::M(Item::from([
                (REPORT_URL.to_owned(), string_value(&report.url)),
                (REPORT_SOURCE.to_owned(), string_value(&report.source)),
            ])),
        );
    }
    put
}

/// Whether an event read at `now` is past its retention (DynamoDB's TTL deletes within days, not
/// at once).
pub fn is_forgotten(item: &Item, now: Timestamp) -> bool {
    get_optional_time(item, TTL)
        .ok()
        .flatten()
        .is_some_and(|forget| forget <= now)
}

/// An event item as the API shows it (also the EventBridge detail).
pub fn from_item(item: &Item) -> Result<AuditEvent, Failure> {
    let kind = get_string(item, TYPE)?;
    let kind =
        EventType::parse(kind).ok_or_else(|| Failure::corrupt(format!("event type {kind}")))?;
    let optional = |name| get_optional_string(item, name).map(|value| value.map(str::to_owned));
    let new_key = match (
        get_optional_parsed(item, NEW_KEY_ID, KeyId::parse)?,
        optional(NEW_KEY_PREFIX)?,
    ) {
        (Some(id), Some(key_prefix)) => Some(KeyRef { id, key_prefix }),
        _ => None,
    };
    let report = match item.get(REPORT) {
        Some(AttributeValue::M(report)) => Some(LeakReport {
            url: get_string(report, REPORT_URL)?.to_owned(),
            source: get_string(report, REPORT_SOURCE)?.to_owned(),
        }),
        _ => None,
    };
    let permissions = match item.get(PERMISSIONS) {
        Some(AttributeValue::M(change)) => {
            let side = |name| {
                get_optional_string(change, name).map(|stored| Permissions::from_stored(stored))
            };
            Some(Change {
                old: side(OLD)?,
                new: side(NEW)?,
            })
        }
        _ => None,
    };
    let description = match item.get(DESCRIPTION) {
        Some(AttributeValue::M(change)) => {
            let side = |name| {
                get_string(change, name).map(|text| Description::from_stored(text.to_owned()))
            };
            Some(Change {
                old: side(OLD)?,
                new: side(NEW)?,
            })
        }
        _ => None,
    };
    Ok(AuditEvent {
        id: get_parsed(item, ID, EventId::parse)?,
        kind,
        created_at: get_time(item, CREATED_AT)?,
        application_id: get_parsed(item, APPLICATION_ID, ApplicationId::parse)?,
        key_id: get_optional_parsed(item, KEY_ID, KeyId::parse)?,
        key_prefix: optional(KEY_PREFIX)?,
        actor: EventActor {
            sub: get_string(item, ACTOR_SUB)?.to_owned(),
            merchant_id: get_parsed(item, MERCHANT_ID, MerchantId::from_claim)?,
        },
        request_id: get_string(item, REQUEST_ID)?.to_owned(),
        source_ip: optional(SOURCE_IP)?,
        user_agent: optional(USER_AGENT)?,
        new_key,
        report,
        permissions,
        description,
    })
}

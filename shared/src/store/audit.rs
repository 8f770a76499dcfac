//! Audit events: written by every writer in its own transaction, listed per application.
//!
//! An event is `MERCHANT#<m>` / `EVENT#<appId>#<eventId>` (ids are UUID v7: newest first is a
//! reverse query), kept 400 days by DynamoDB's TTL.

use aws_sdk_dynamodb::types::builders::PutBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Put};

use super::codec::{get_optional_string, get_string, get_time, string_value, time_value, Item};
use super::keys::{merchant_pk, PK, SK};
use super::{Store, TTL_ATTRIBUTE};
use crate::audit::{
    AuditEvent, EventActor, EventPage, EventType, KeyRef, LeakReport, Origin,
    EVENT_RETENTION_SECONDS,
};
use crate::domain::{ApplicationId, KeyId, MerchantId};
use crate::error::StoreError;
use crate::time::Timestamp;

pub const EVENT_SK_PREFIX: &str = "EVENT#";

fn event_sk(application: ApplicationId, event: uuid::Uuid) -> String {
    format!("{EVENT_SK_PREFIX}{application}#{event}")
}

/// What an event is about, besides its application.
pub struct Subject<'a> {
    pub kind: EventType,
    pub key: Option<(KeyId, &'a str)>,
    pub new_key: Option<(KeyId, &'a str)>,
}

impl<'a> Subject<'a> {
    pub fn application(kind: EventType) -> Self {
        Self {
            kind,
            key: None,
            new_key: None,
        }
    }

    pub fn key(kind: EventType, key: KeyId, prefix: &'a str) -> Self {
        Self {
            kind,
            key: Some((key, prefix)),
            new_key: None,
        }
    }
}

/// The event of a change, to put in the change's transaction.
pub fn event_put(
    table: &str,
    merchant: &MerchantId,
    application: ApplicationId,
    subject: &Subject<'_>,
    origin: &Origin,
    now: Timestamp,
) -> PutBuilder {
    let id = uuid::Uuid::now_v7();
    let mut put = Put::builder()
        .table_name(table)
        .item(PK, string_value(merchant_pk(merchant)))
        .item(SK, string_value(event_sk(application, id)))
        .item("id", string_value(id.to_string()))
        .item("type", string_value(subject.kind.as_str()))
        .item("createdAt", time_value(now))
        .item("applicationId", string_value(application.to_string()))
        .item("merchantId", string_value(merchant.as_str()))
        .item("actorSub", string_value(&origin.sub))
        .item("requestId", string_value(&origin.request_id))
        .item(
            TTL_ATTRIBUTE,
            time_value(now.plus_seconds(EVENT_RETENTION_SECONDS)),
        )
        .condition_expression("attribute_not_exists(PK)");
    if let Some((key, prefix)) = subject.key {
        put = put
            .item("keyId", string_value(key.to_string()))
            .item("keyPrefix", string_value(prefix));
    }
    if let Some((key, prefix)) = subject.new_key {
        put = put
            .item("newKeyId", string_value(key.to_string()))
            .item("newKeyPrefix", string_value(prefix));
    }
    // Empty strings are valid attribute values, but absent reads better than empty.
    if let Some(ip) = origin.source_ip.as_deref().filter(|ip| !ip.is_empty()) {
        put = put.item("sourceIp", string_value(ip));
    }
    if let Some(agent) = origin
        .user_agent
        .as_deref()
        .filter(|agent| !agent.is_empty())
    {
        put = put.item("userAgent", string_value(agent));
    }
    if let Some(report) = &origin.report {
        put = put.item(
            "report",
            AttributeValue::M(Item::from([
                ("url".to_owned(), string_value(&report.url)),
                ("source".to_owned(), string_value(&report.source)),
            ])),
        );
    }
    put
}

/// An event item as the API shows it (also the EventBridge detail: see the publisher).
pub fn event_from_item(item: &Item) -> Result<AuditEvent, StoreError> {
    let kind = get_string(item, "type")?;
    let kind = EventType::parse(kind)
        .ok_or_else(|| StoreError::CorruptItem(format!("event type {kind}")))?;
    let optional = |name| get_optional_string(item, name).map(|value| value.map(str::to_owned));
    let new_key = match (optional("newKeyId")?, optional("newKeyPrefix")?) {
        (Some(id), Some(key_prefix)) => Some(KeyRef { id, key_prefix }),
        _ => None,
    };
    let report = match item.get("report") {
        Some(AttributeValue::M(report)) => Some(LeakReport {
            url: get_string(report, "url")?.to_owned(),
            source: get_string(report, "source")?.to_owned(),
        }),
        _ => None,
    };
    Ok(AuditEvent {
        id: get_string(item, "id")?.to_owned(),
        kind,
        created_at: get_time(item, "createdAt")?,
        application_id: get_string(item, "applicationId")?.to_owned(),
        key_id: optional("keyId")?,
        key_prefix: optional("keyPrefix")?,
        actor: EventActor {
            sub: get_string(item, "actorSub")?.to_owned(),
            merchant_id: get_string(item, "merchantId")?.to_owned(),
        },
        request_id: get_string(item, "requestId")?.to_owned(),
        source_ip: optional("sourceIp")?,
        user_agent: optional("userAgent")?,
        new_key,
        report,
    })
}

impl Store {
    /// An application's events, newest first, `limit` per page, after the event `starting_after`
    /// (an event id from a previous page). Two requests: the application (404 if it is not the
    /// merchant's), then one query of its events.
    pub async fn list_events(
        &self,
        merchant: &MerchantId,
        application: ApplicationId,
        limit: u32,
        starting_after: Option<uuid::Uuid>,
    ) -> Result<EventPage, StoreError> {
        let pk = merchant_pk(merchant);
        let attempts = self.attempts();
        self.get_consistent(&pk, &super::keys::application_sk(application), &attempts)
            .await?
            .ok_or(StoreError::ApplicationNotFound)?;
        let first = format!("{EVENT_SK_PREFIX}{application}#");
        let past_last = format!("{EVENT_SK_PREFIX}{application}$");
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK BETWEEN :first AND :past_last")
            .expression_attribute_values(":pk", string_value(&pk))
            .expression_attribute_values(":first", string_value(first))
            .expression_attribute_values(":past_last", string_value(past_last))
            .scan_index_forward(false)
            .consistent_read(true);
        if let Some(after) = starting_after {
            query = query
                .exclusive_start_key(PK, string_value(&pk))
                .exclusive_start_key(SK, string_value(event_sk(application, after)));
        }
        let wanted = limit as usize + 1;
        let mut items = self.query_all(query, Some(wanted), &attempts).await?;
        // Past its TTL an event is gone, however late DynamoDB deletes it. Every event is kept
        // as long, so newest first, the first one gone is followed by older ones only: the page
        // ends there, and `hasMore` counts only events still kept (found by review: a page of
        // expired events came back empty with `hasMore: true`, leaving no cursor).
        let now = self.clock.now();
        let kept = items
            .iter()
            .take_while(|item| {
                super::codec::get_optional_time(item, TTL_ATTRIBUTE)
                    .ok()
                    .flatten()
                    .is_none_or(|forget| now < forget)
            })
            .count();
        let has_more = kept > limit as usize;
        items.truncate(kept.min(limit as usize));
        let items = items
            .iter()
            .map(event_from_item)
            .collect::<Result<_, _>>()?;
        Ok(EventPage { items, has_more })
    }
}

//! The audit trail: who changed what, from where, written in the same transaction as the change
//! (so there is no change without its event and no event without its change), and published to
//! EventBridge from the table's stream.

use serde::Serialize;

use super::ids::{ApplicationId, EventId, KeyId, MerchantId};
use super::permissions::Permissions;
use super::text::Description;
use super::time::Timestamp;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    #[serde(rename = "application.created")]
    ApplicationCreated,
    #[serde(rename = "application.disabled")]
    ApplicationDisabled,
    #[serde(rename = "application.enabled")]
    ApplicationEnabled,
    #[serde(rename = "api_key.created")]
    ApiKeyCreated,
    #[serde(rename = "api_key.rolled")]
    ApiKeyRolled,
    #[serde(rename = "api_key.revoked")]
    ApiKeyRevoked,
    #[serde(rename = "api_key.updated")]
    ApiKeyUpdated,
}

impl EventType {
    pub const ALL: [Self; 7] = [
        Self::ApplicationCreated,
        Self::ApplicationDisabled,
        Self::ApplicationEnabled,
        Self::ApiKeyCreated,
        Self::ApiKeyRolled,
        Self::ApiKeyRevoked,
        Self::ApiKeyUpdated,
    ];

    /// The stable name: the event's `type` and its EventBridge detail-type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApplicationCreated => "application.created",
            Self::ApplicationDisabled => "application.disabled",
            Self::ApplicationEnabled => "application.enabled",
            Self::ApiKeyCreated => "api_key.created",
            Self::ApiKeyRolled => "api_key.rolled",
            Self::ApiKeyRevoked => "api_key.revoked",
            Self::ApiKeyUpdated => "api_key.updated",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// Where a change came from: the caller's identity and request. Never a token or a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The JWT's `sub`, or the name of a system actor (`github-secret-scanning`).
    pub sub: String,
    pub request_id: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// For a revocation prompted by a leaked-key report: where the key was found.
    pub report: Option<LeakReport>,
}

impl Origin {
    /// A change made by this service itself or a test, with no HTTP request behind it.
    pub fn system(sub: &str) -> Self {
        Self {
            sub: sub.to_owned(),
            request_id: String::new(),
            source_ip: None,
            user_agent: None,
            report: None,
        }
    }
}

/// Where a leaked key was found, as GitHub's secret-scanning report says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeakReport {
    pub url: String,
    pub source: String,
}

/// One event as `GET …/events` and EventBridge show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: EventId,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub created_at: Timestamp,
    pub application_id: ApplicationId,
    pub key_id: Option<KeyId>,
    pub key_prefix: Option<String>,
    pub actor: EventActor,
    pub request_id: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// `api_key.rolled`: the key that replaced the rolled one (`keyId`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_key: Option<KeyRef>,
    /// A revocation prompted by a leaked-key report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<LeakReport>,
    /// `api_key.updated`: the key's permissions before and after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Change<Permissions>>,
    /// `api_key.updated` that changed the description: before and after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Change<Description>>,
}

/// A value before and after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change<T> {
    pub old: T,
    pub new: T,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventActor {
    pub sub: String,
    pub merchant_id: MerchantId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRef {
    pub id: KeyId,
    pub key_prefix: String,
}

/// A page of events, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    pub items: Vec<AuditEvent>,
    pub has_more: bool,
}

/// What an event is about, besides its application.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub kind: EventType,
    pub key: Option<(KeyId, &'a str)>,
    pub new_key: Option<(KeyId, &'a str)>,
    /// A key's permissions, before and after.
    pub permissions: Option<(&'a Permissions, &'a Permissions)>,
    /// A key's description, before and after, when it changed.
    pub description: Option<(&'a Description, &'a Description)>,
}

impl<'a> Subject<'a> {
    pub fn application(kind: EventType) -> Self {
        Self {
            kind,
            key: None,
            new_key: None,
            permissions: None,
            description: None,
        }
    }

    pub fn key(kind: EventType, key: KeyId, prefix: &'a str) -> Self {
        Self {
            kind,
            key: Some((key, prefix)),
            new_key: None,
            permissions: None,
            description: None,
        }
    }

    /// A roll: the key rolled, and the key that replaced it.
    pub fn roll(old: (KeyId, &'a str), new: (KeyId, &'a str)) -> Self {
        Self {
            kind: EventType::ApiKeyRolled,
            key: Some(old),
            new_key: Some(new),
            permissions: None,
            description: None,
        }
    }

    /// A key's permissions or description changed.
    pub fn update(
        key: (KeyId, &'a str),
        permissions: (&'a Permissions, &'a Permissions),
        description: Option<(&'a Description, &'a Description)>,
    ) -> Self {
        Self {
            kind: EventType::ApiKeyUpdated,
            key: Some(key),
            new_key: None,
            permissions: Some(permissions),
            description,
        }
    }
}

//! Applications: what a merchant asks to create, and what the API shows.

use serde::Serialize;

use super::ids::ApplicationId;
use super::key::ApiKeySummary;
use super::text::{ApplicationName, Description};
use super::time::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApplication {
    pub name: ApplicationName,
    pub description: Option<Description>,
}

/// An application as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub id: ApplicationId,
    pub name: String,
    pub description: Option<Description>,
    pub is_enabled: bool,
    pub created_at: Timestamp,
    /// Present only where the API lists keys (`include=apiKeys`, one application).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_keys: Option<Vec<ApiKeySummary>>,
}

impl Application {
    /// A new application under a fresh id: enabled, created `now`.
    pub fn create(new: &NewApplication, now: Timestamp) -> Self {
        Self {
            id: ApplicationId::new(),
            name: new.name.as_str().to_owned(),
            description: new.description.clone(),
            is_enabled: true,
            created_at: now,
            api_keys: None,
        }
    }

    /// Where the API serves it (`Location` of its creation).
    pub fn location(&self) -> String {
        format!("/api/v1/applications/{}", self.id)
    }
}

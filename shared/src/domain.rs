//! Validated domain values. Once constructed they are known good, so the store and the handlers
//! never re-check them.

use serde::Serialize;
use uuid::Uuid;

use crate::api_key::FullKey;
use crate::error::FieldError;
use crate::text;
use crate::time::Timestamp;

pub const APPLICATION_NAME_MAX: usize = 100;
pub const APPLICATION_DESCRIPTION_MAX: usize = 500;
pub const KEY_DESCRIPTION_MAX: usize = 200;
const MERCHANT_ID_MAX: usize = 256;

/// The merchant, taken only from the verified JWT claims.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MerchantId(String);

impl MerchantId {
    /// `None` for an empty, over-long or control-character value: the caller answers 401.
    pub fn from_claim(value: &str) -> Option<Self> {
        let ok = !value.trim().is_empty()
            && value.len() <= MERCHANT_ID_MAX
            && !value.chars().any(char::is_control);
        ok.then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! uuid_id {
    ($name:ident) => {
        /// A UUID v7 (ids sort by creation time). Path values must be in the canonical lowercase
        /// hyphenated form that the API returns; anything else cannot name a resource.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn parse(value: &str) -> Option<Self> {
                let id = Uuid::try_parse(value).ok()?;
                (id.hyphenated().to_string() == value).then_some(Self(id))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(ApplicationId);
uuid_id!(KeyId);

/// An application name: NFKC-normalised, trimmed, 1..=100 Unicode scalar values, none of them
/// invisible or direction-changing (see [`crate::text`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationName {
    display: String,
    folded: String,
}

impl ApplicationName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let normal = text::nfkc(raw);
        let display = normal.trim();
        let length = display.chars().count();
        if length == 0 {
            return Err(FieldError::new("name", "must not be blank"));
        }
        if length > APPLICATION_NAME_MAX {
            return Err(FieldError::new(
                "name",
                format!("must be at most {APPLICATION_NAME_MAX} characters (got {length})"),
            ));
        }
        if let Some(c) = display.chars().find(|&c| text::is_forbidden_in_name(c)) {
            return Err(FieldError::new(
                "name",
                format!(
                    "must not contain control, format or other invisible characters (found U+{:04X})",
                    c as u32
                ),
            ));
        }
        Ok(Self {
            display: display.to_owned(),
            folded: text::fold(display),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The form names are compared in: "Prod", " prod ", "PROD" and "Ｐｒｏｄ" are one name.
    pub fn folded(&self) -> &str {
        &self.folded
    }
}

/// A description of 1..=`max` characters: NFKC-normalised and trimmed like a name; tabs and line
/// feeds are allowed (descriptions are free text), other invisible characters are not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Description(String);

impl Description {
    pub fn parse(field: &'static str, raw: &str, max: usize) -> Result<Self, FieldError> {
        let normal = text::nfkc(raw);
        let value = normal.trim();
        let length = value.chars().count();
        if length == 0 {
            return Err(FieldError::new(field, "must not be blank"));
        }
        if length > max {
            return Err(FieldError::new(
                field,
                format!("must be at most {max} characters (got {length})"),
            ));
        }
        if let Some(c) = value
            .chars()
            .find(|&c| text::is_forbidden_in_description(c))
        {
            let message = if c == '\r' {
                "must not contain carriage returns: line breaks are \\n (line feed) only".to_owned()
            } else {
                format!(
                    "must not contain control, format or other invisible characters other than tab and line feed (found U+{:04X})",
                    c as u32
                )
            };
            return Err(FieldError::new(field, message));
        }
        Ok(Self(value.to_owned()))
    }

    /// For values read back from the table, which were validated when written.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApplication {
    pub name: ApplicationName,
    pub description: Option<Description>,
}

/// What a key is to its owner at a given moment. A key is stored as active or revoked; it is
/// expired once its `expiresAt` has passed, which needs no write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Revoked,
    Expired,
}

/// An application as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub id: String,
    pub name: String,
    pub description: Option<Description>,
    pub is_enabled: bool,
    pub created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_keys: Option<Vec<ApiKeySummary>>,
}

/// A key as listings show it: never the hash, never the full key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeySummary {
    pub id: String,
    pub key_prefix: String,
    pub description: Description,
    pub status: KeyStatus,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
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

/// How far ahead a key may be set to expire: 10 years (3,653 days).
pub const KEY_LIFETIME_MAX_SECONDS: i64 = 3653 * 24 * 60 * 60;

/// What a key creation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRequest {
    pub description: Description,
    pub expires_at: Option<Timestamp>,
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

/// A key as the store wrote it: everything but the secret, which the store never sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKey {
    pub id: KeyId,
    pub application_id: ApplicationId,
    pub key_prefix: String,
    pub description: Description,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// The one response that carries a full key. Its `Debug` shows only the key's prefix.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    pub id: String,
    pub application_id: String,
    pub full_key: FullKey,
    pub key_prefix: String,
    pub description: Description,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

impl CreatedApiKey {
    pub fn new(issued: IssuedKey, full_key: &FullKey) -> Self {
        Self {
            id: issued.id.to_string(),
            application_id: issued.application_id.to_string(),
            full_key: full_key.clone(),
            key_prefix: issued.key_prefix,
            description: issued.description,
            created_at: issued.created_at,
            expires_at: issued.expires_at,
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

/// The key a roll replaced: it keeps working until `expiresAt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolledKey {
    pub id: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub limit: u32,
    pub include_api_keys: bool,
}

pub const PAGE_LIMIT_MAX: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub limit: u32,
    pub total_items: u64,
    pub total_pages: u64,
    pub has_previous_page: bool,
    pub has_next_page: bool,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, request: PageRequest, total_items: u64) -> Self {
        let total_pages = total_items.div_ceil(u64::from(request.limit));
        Self {
            items,
            page: request.page,
            limit: request.limit,
            total_items,
            total_pages,
            has_previous_page: request.page > 1,
            has_next_page: u64::from(request.page) < total_pages,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_folded() {
        let name = ApplicationName::parse("  Production Web Store \t").unwrap();
        assert_eq!(name.as_str(), "Production Web Store");
        assert_eq!(
            ApplicationName::parse("Prod").unwrap().folded(),
            ApplicationName::parse(" prod ").unwrap().folded()
        );
        for same in ["STRASSE", "STRAẞE", "strasse", "Strasse"] {
            assert_eq!(
                ApplicationName::parse("Straße").unwrap().folded(),
                ApplicationName::parse(same).unwrap().folded(),
                "{same}"
            );
        }
        // The capital sharp s and its lower case collide (a proptest finding: "ẞ" vs "ß").
        assert_eq!(
            ApplicationName::parse("ẞ").unwrap().folded(),
            ApplicationName::parse("ß").unwrap().folded()
        );
    }

    #[test]
    fn name_length_counts_characters_not_bytes() {
        assert!(ApplicationName::parse(&"é".repeat(100)).is_ok());
        assert!(ApplicationName::parse(&"é".repeat(101)).is_err());
        assert_eq!(ApplicationName::parse(" a ").unwrap().as_str(), "a");
    }

    #[test]
    fn bad_names_are_rejected() {
        for bad in ["", "   ", "a\u{0007}b", "line\nbreak", "\u{0000}"] {
            assert!(ApplicationName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn descriptions() {
        assert_eq!(Description::parse("d", " x ", 5).unwrap().as_str(), "x");
        assert!(Description::parse("d", "  ", 5).is_err());
        assert!(Description::parse("d", "123456", 5).is_err());
        assert!(Description::parse("d", "a\nb", 5).is_ok());
        assert!(Description::parse("d", "a\u{1b}b", 5).is_err());
        assert!(Description::parse("d", "a\tb", 5).is_ok());
        // Line breaks are line feeds; a carriage return inside is refused, naming itself.
        let crlf = Description::parse("d", "a\r\nb", 5).unwrap_err();
        assert!(crlf.message.contains("carriage return"), "{crlf:?}");
        assert_eq!(
            Description::parse("d", "\r\nab\r\n", 5).unwrap().as_str(),
            "ab"
        );
        for invisible in ["Pay\u{200B}ments", "a\u{2028}b", "a\u{202E}b", "a\u{FE0F}b"] {
            assert!(
                Description::parse("d", invisible, 50).is_err(),
                "{invisible:?}"
            );
        }
        // Normalised before the limit applies: what is stored is what is counted.
        assert_eq!(
            Description::parse("d", "ｆｕｌｌ", 5).unwrap().as_str(),
            "full"
        );
        assert!(
            Description::parse("d", "\u{FDFA}", 17).is_err(),
            "one character, 18 once normalised"
        );
    }

    #[test]
    fn look_alike_names_are_one_name_or_refused() {
        let folded = |s: &str| ApplicationName::parse(s).unwrap().folded().to_owned();
        assert_eq!(folded("Ｐｒｏｄ"), folded("Prod"));
        assert_eq!(ApplicationName::parse("Ｐｒｏｄ").unwrap().as_str(), "Prod");
        assert_eq!(folded("Cafe\u{301}"), folded("CAFÉ"));
        assert_eq!(folded("ﬁnance"), folded("FINANCE"));
        for invisible in [
            "Prod\u{200B}",
            "Pay\u{200B}ments",
            "\u{FEFF}Prod",
            "Prod\u{2060}x",
            "\u{202E}dorP",
            "a\u{2028}b",
            "a\u{3164}b",
            "Prod\u{FE0F}",
        ] {
            let err = ApplicationName::parse(invisible).unwrap_err();
            assert!(err.message.contains("invisible"), "{invisible:?}: {err:?}");
        }
        // White space that trimming removes is not a character of the name.
        assert_eq!(
            ApplicationName::parse("\u{2028}Prod\u{3000}")
                .unwrap()
                .as_str(),
            "Prod"
        );
    }

    #[test]
    fn a_created_key_prints_only_its_prefix() {
        use crate::api_key::KeyMode;
        let full_key = FullKey::generate(KeyMode::Live);
        let issued = IssuedKey {
            id: KeyId::new(),
            application_id: ApplicationId::new(),
            key_prefix: full_key.display_prefix().to_owned(),
            description: Description::parse("description", "checkout", 200).unwrap(),
            created_at: Timestamp::from_epoch_seconds(1_700_000_000),
            expires_at: None,
        };
        let created = CreatedApiKey::new(issued, &full_key);
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

    #[test]
    fn ids_must_be_canonical_uuids() {
        let id = ApplicationId::new();
        assert_eq!(ApplicationId::parse(&id.to_string()), Some(id));
        assert_eq!(ApplicationId::parse(&id.to_string().to_uppercase()), None);
        assert_eq!(ApplicationId::parse("uuid-v4-app-123"), None);
        assert_eq!(ApplicationId::parse(&id.to_string().replace('-', "")), None);
        assert!(ApplicationId::new() > id, "v7 ids sort by creation time");
    }

    #[test]
    fn merchant_claims() {
        assert!(MerchantId::from_claim("m_123").is_some());
        assert!(MerchantId::from_claim("").is_none());
        assert!(MerchantId::from_claim("  ").is_none());
        assert!(MerchantId::from_claim("a\u{0}").is_none());
        assert!(MerchantId::from_claim(&"m".repeat(257)).is_none());
    }

    #[test]
    fn page_arithmetic() {
        let req = |page, limit| PageRequest {
            page,
            limit,
            include_api_keys: false,
        };
        let p = Page::<()>::new(vec![], req(1, 10), 0);
        assert_eq!(
            (p.total_pages, p.has_previous_page, p.has_next_page),
            (0, false, false)
        );
        let p = Page::<()>::new(vec![], req(2, 10), 21);
        assert_eq!(
            (p.total_pages, p.has_previous_page, p.has_next_page),
            (3, true, true)
        );
        let p = Page::<()>::new(vec![], req(3, 10), 21);
        assert_eq!((p.total_pages, p.has_next_page), (3, false));
        let p = Page::<()>::new(vec![], req(9, 10), 21);
        assert_eq!((p.has_previous_page, p.has_next_page), (true, false));
    }
}

//! Who and what a request names: the merchant (from the verified token only) and the UUIDs of
//! applications, keys and audit events. Parsed once, where they enter (a path, a stored item), and
//! typed from then on.

use serde::{Serialize, Serializer};
use uuid::Uuid;

const MERCHANT_ID_MAX: usize = 256;

/// The merchant, taken only from the verified JWT claims (or from an item written for it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

impl std::fmt::Display for MerchantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for MerchantId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        /// A UUID v7 (ids sort by creation time). Text must be in the canonical lowercase
        /// hyphenated form that the API returns; anything else names nothing.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn parse(value: &str) -> Option<Self> {
                let id = Uuid::try_parse(value).ok()?;
                let mut canonical = [0u8; uuid::fmt::Hyphenated::LENGTH];
                (id.hyphenated().encode_lower(&mut canonical).as_bytes() == value.as_bytes())
                    .then_some(Self(id))
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

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
    };
}

uuid_id!(
    /// An application.
    ApplicationId
);
uuid_id!(
    /// An API key.
    KeyId
);
uuid_id!(
    /// An audit event.
    EventId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_canonical_uuids() {
        let id = ApplicationId::new();
        assert_eq!(ApplicationId::parse(&id.to_string()), Some(id));
        assert_eq!(ApplicationId::parse(&id.to_string().to_uppercase()), None);
        assert_eq!(ApplicationId::parse("uuid-v4-app-123"), None);
        assert_eq!(ApplicationId::parse(&id.to_string().replace('-', "")), None);
        assert_eq!(ApplicationId::parse(&format!("{{{id}}}")), None);
        assert!(ApplicationId::new() > id, "v7 ids sort by creation time");
        assert_eq!(serde_json::to_value(id).unwrap(), id.to_string());
    }

    #[test]
    fn merchant_claims() {
        assert!(MerchantId::from_claim("m_123").is_some());
        assert!(MerchantId::from_claim("").is_none());
        assert!(MerchantId::from_claim("  ").is_none());
        assert!(MerchantId::from_claim("a\u{0}").is_none());
        assert!(MerchantId::from_claim(&"m".repeat(257)).is_none());
    }
}

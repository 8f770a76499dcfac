//! One module per item the table holds: its key, its attribute names (as constants: no other
//! module of the store spells one), its named conditional writes, and `from_item` to a typed
//! value. The operations (`store::applications`, `store::keys`, …) compose these writes into
//! transactions; `docs/data-model.md` describes the same items, and a test holds its table to the
//! `ATTRIBUTES` of each module.
//!
//! | item | PK | SK |
//! |---|---|---|
//! | merchant counter | `MERCHANT#<m>` | `MERCHANT` |
//! | application | `MERCHANT#<m>` | `APP#<appId>` |
//! | name reservation | `MERCHANT#<m>` | `APPNAME#<sha256(folded name)>` |
//! | keyring | `MERCHANT#<m>` | `KEYRING#<appId>` |
//! | key | `MERCHANT#<m>` | `KEY#<appId>#<keyId>` |
//! | audit event | `MERCHANT#<m>` | `EVENT#<appId>#<eventId>` |
//! | idempotency record | `MERCHANT#<m>` | `IDEMPOTENCY#<route>#<sha256(Idempotency-Key)>` |
//! | lookup record | `KEYHASH#<hex HMAC>` | `KEYHASH` |

pub mod application;
pub mod audit_event;
pub mod codec;
pub mod idempotency_record;
pub mod key;
pub mod keyring;
pub mod lookup_record;
pub mod merchant_counter;
pub mod name_reservation;

use crate::domain::MerchantId;

/// The table's key attributes.
pub const PK: &str = "PK";
pub const SK: &str = "SK";

/// The attribute DynamoDB's time to live reads (epoch seconds), on every item that expires.
pub const TTL: &str = "ttl";

/// The partition of everything a merchant owns.
pub fn merchant_pk(merchant: &MerchantId) -> String {
    format!("MERCHANT#{}", merchant.as_str())
}

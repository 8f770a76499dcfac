//! Key shapes: the partition and sort key of every item the table holds.
//!
//! Within a merchant's partition, each entity has its own sort-key prefix, so that one
//! `begins_with` or `BETWEEN` reads one entity and nothing else:
//!
//! | item | PK | SK |
//! |---|---|---|
//! | merchant counter | `MERCHANT#<m>` | `MERCHANT` |
//! | application | `MERCHANT#<m>` | `APP#<appId>` |
//! | keyring | `MERCHANT#<m>` | `KEYRING#<appId>` |
//! | name reservation | `MERCHANT#<m>` | `APPNAME#<sha256(folded name)>` |
//! | API key | `MERCHANT#<m>` | `KEY#<appId>#<keyId>` |
//! | key lookup | `KEYHASH#<hex HMAC>` | `KEYHASH` |

use sha2::{Digest, Sha256};

use crate::api_key::KeyHash;
use crate::domain::{ApplicationId, KeyId, MerchantId};

pub const PK: &str = "PK";
pub const SK: &str = "SK";

pub fn merchant_pk(merchant: &MerchantId) -> String {
    format!("MERCHANT#{}", merchant.as_str())
}

pub const MERCHANT_COUNTER_SK: &str = "MERCHANT";

pub const APPLICATION_SK_PREFIX: &str = "APP#";

pub fn application_sk(application: ApplicationId) -> String {
    format!("{APPLICATION_SK_PREFIX}{application}")
}

pub fn keyring_sk(application: ApplicationId) -> String {
    format!("KEYRING#{application}")
}

/// Hashing the folded name bounds the sort key's size and keeps user text out of keys.
pub fn name_reservation_sk(folded_name: &str) -> String {
    format!(
        "APPNAME#{}",
        hex::encode(Sha256::digest(folded_name.as_bytes()))
    )
}

/// The first sort key of `application`'s keys (ids are UUID v7, so they sort by creation).
pub fn first_key_sk(application: ApplicationId) -> String {
    format!("KEY#{application}#")
}

/// One past the last sort key of `application`'s keys: `$` sorts right after `#`.
pub fn past_last_key_sk(application: ApplicationId) -> String {
    format!("KEY#{application}$")
}

pub fn key_sk(application: ApplicationId, key: KeyId) -> String {
    format!("KEY#{application}#{key}")
}

/// Built with a single allocation: it is on every payment call's path.
pub fn lookup_pk(hash: &KeyHash) -> String {
    const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut pk = String::with_capacity(LOOKUP_PK_PREFIX.len() + 2 * hash.0.len());
    pk.push_str(LOOKUP_PK_PREFIX);
    for byte in hash.0 {
        pk.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        pk.push(char::from(HEX_DIGITS[usize::from(byte & 0xf)]));
    }
    pk
}

pub fn lookup_pk_from_hex(hash_hex: &str) -> String {
    format!("{LOOKUP_PK_PREFIX}{hash_hex}")
}

pub const LOOKUP_PK_PREFIX: &str = "KEYHASH#";
pub const LOOKUP_SK: &str = "KEYHASH";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_keys_agree() {
        let hash = KeyHash([0xab; 32]);
        assert_eq!(lookup_pk(&hash), lookup_pk_from_hex(&hash.to_hex()));
        assert_eq!(lookup_pk(&hash).len(), 8 + 64);
    }

    #[test]
    fn an_applications_keys_sort_between_its_bounds_and_nothing_else_does() {
        let app = ApplicationId::new();
        let key = key_sk(app, KeyId::new());
        assert!(first_key_sk(app) < key && key < past_last_key_sk(app));
        let later = ApplicationId::new();
        assert!(past_last_key_sk(app) < first_key_sk(later));
        for other in [
            application_sk(app),
            keyring_sk(app),
            name_reservation_sk("x"),
        ] {
            assert!(!(first_key_sk(app) <= other && other < past_last_key_sk(later)));
        }
    }
}

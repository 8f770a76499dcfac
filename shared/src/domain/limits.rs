//! Every bound of the service, in one place. Those that DynamoDB's 100-item transaction sets are
//! derived here, once:
//!
//! - Disabling or enabling an application rewrites the lookup record of every key that may still
//!   verify, beside the application, its keyring and the audit event, in one transaction: so at
//!   most [`LIVE_KEYS_MAX`] (97) keys of an application may verify at once.
//! - Half of that is the most `MAX_KEYS_PER_APPLICATION` may be ([`MAX_KEYS_CEILING`], 48), so
//!   that every active key may be in a roll's grace window at once: the rest
//!   ([`Limits::winding_down_max`]) is the room for rolled keys in their window and keys that
//!   expired within the clock skew margin.
//! - A write that retires keys deletes the items of the oldest retired ones past
//!   [`RETIRED_KEYS_KEPT`] in its own transaction, as many as it has room for
//!   ([`room_left`]).

use std::ops::RangeInclusive;

/// DynamoDB's limit on the items of one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// Keys of one application that may verify at once (active, and rolled in their window): the
/// items of a disable that are not its application, keyring and audit event.
pub const LIVE_KEYS_MAX: usize = MAX_TRANSACTION_ITEMS - 3;

/// The most active keys one application may be configured to have (see the module's notes).
pub const MAX_KEYS_CEILING: u32 = (LIVE_KEYS_MAX / 2) as u32;

/// How many more items a transaction of `len` items can take, keeping one place for the item
/// that must come last (the keyring).
pub fn room_left(len: usize) -> usize {
    MAX_TRANSACTION_ITEMS.saturating_sub(len + 1)
}

/// Revoked and expired keys an application keeps listing (the contract's bound).
pub const RETIRED_KEYS_KEPT: usize = 100;

/// How far apart two functions' clocks may be. A key that expired less than this ago may still
/// be allowed by an authorizer whose clock is behind, so disabling its application still rewrites
/// its lookup record until then. (Lambda hosts keep time with the Amazon Time Sync Service, far
/// closer than this.)
pub const CLOCK_SKEW_MARGIN_SECONDS: i64 = 60;

/// The configured limits (`MAX_KEYS_PER_APPLICATION`, `MAX_APPLICATIONS_PER_MERCHANT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_keys_per_application: u32,
    pub max_applications_per_merchant: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_keys_per_application: 10,
            max_applications_per_merchant: 1000,
        }
    }
}

impl Limits {
    /// Rolled keys in their grace window, and keys expired within the skew margin, that an
    /// application may have beside its active keys.
    pub fn winding_down_max(&self) -> usize {
        LIVE_KEYS_MAX.saturating_sub(self.max_keys_per_application as usize)
    }
}

// What each variable accepts. The SAM template's parameters carry the same bounds (a deployment
// test compares them), so that a stack cannot deploy a value every function would refuse.
pub const MAX_KEYS_PER_APPLICATION_RANGE: RangeInclusive<u32> = 1..=MAX_KEYS_CEILING;
pub const MAX_APPLICATIONS_PER_MERCHANT_RANGE: RangeInclusive<u32> = 1..=1_000_000;

/// User text, in Unicode scalar values of the normalised form.
pub const APPLICATION_NAME_MAX: usize = 100;
pub const APPLICATION_DESCRIPTION_MAX: usize = 500;
pub const KEY_DESCRIPTION_MAX: usize = 200;

/// How far ahead a key may be set to expire: 10 years (3,653 days).
pub const KEY_LIFETIME_MAX_SECONDS: i64 = 3653 * DAY;
/// The longest grace window a roll may give the old key: 7 days, as Stripe allows.
pub const MAX_GRACE_SECONDS: i64 = 7 * DAY;
/// How stale a key's recorded last use may get: the authorizer records it at most once per key
/// per this many seconds (as GitLab and Supabase do, every 10 and 15 minutes).
pub const LAST_USE_ACCURACY_SECONDS: i64 = 15 * 60;

/// How long revoked and expired keys are kept before DynamoDB's TTL deletes them: the contract
/// lists them for at least 90 days.
pub const HISTORY_RETENTION_SECONDS: i64 = 90 * DAY;
/// How long audit events are kept: at least 400 days.
pub const EVENT_RETENTION_SECONDS: i64 = 400 * DAY;
/// How long an `Idempotency-Key`'s record answers for it.
pub const RECORD_LIFETIME_SECONDS: i64 = DAY;

/// Pages of applications and of events.
pub const PAGE_LIMIT_MAX: u32 = 100;
pub const PAGE_LIMIT_DEFAULT: u32 = 10;
pub const EVENTS_LIMIT_MAX: u32 = 100;
pub const EVENTS_LIMIT_DEFAULT: u32 = 20;

const DAY: i64 = 24 * 60 * 60;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transaction_bound_leaves_room_for_every_key_to_roll() {
        assert_eq!(LIVE_KEYS_MAX, 97);
        assert_eq!(MAX_KEYS_CEILING, 48);
        let widest = Limits {
            max_keys_per_application: MAX_KEYS_CEILING,
            ..Limits::default()
        };
        assert!(widest.winding_down_max() >= MAX_KEYS_CEILING as usize);
        assert_eq!(Limits::default().winding_down_max(), 87);
        assert_eq!(room_left(3), 96);
        assert_eq!(room_left(100), 0);
    }
}

//! Time as the service sees it: whole seconds since the Unix epoch, shown as RFC 3339 UTC.
//!
//! Every decision that depends on the time (is a key expired? is a roll window over? is an
//! idempotency record stale?) reads it from a [`Clock`], so that tests can move time forward
//! instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::primitives::{DateTime, DateTimeFormat};
use serde::{Serialize, Serializer};

/// Seconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_epoch_seconds(seconds: i64) -> Self {
        Self(seconds)
    }

    pub const fn epoch_seconds(self) -> i64 {
        self.0
    }

    pub const fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds))
    }

    /// RFC 3339 with a `Z` offset and whole seconds, as the guide's examples are written.
    pub fn to_rfc3339(self) -> String {
        DateTime::from_secs(self.0)
            .fmt(DateTimeFormat::DateTime)
            // Only years outside 0001..=9999 fail to format; no clock or input produces them
            // (inputs are bounded to ten years ahead).
            .unwrap_or_else(|_| "invalid-time".to_owned())
    }

    /// An RFC 3339 date-time with an offset (`Z` or `±hh:mm`); fractions of a second are
    /// truncated. `None` for anything else.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let parsed = DateTime::from_str(text, DateTimeFormat::DateTimeWithOffset).ok()?;
        Some(Self(parsed.secs()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

/// The service's clock: the system time; in tests, a time that stands still unless moved.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Tests only: the time, in seconds since the epoch, that `advance` moves.
    fixed_seconds: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    pub fn now(&self) -> Timestamp {
        match &self.fixed_seconds {
            Some(fixed) => Timestamp(fixed.load(Ordering::SeqCst)),
            None => Timestamp(system_seconds()),
        }
    }
}

fn system_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

#[cfg(feature = "test-util")]
impl Clock {
    /// A clock that starts at the system's time and then stands still until [`Clock::advance`]
    /// moves it; clones share it. Standing still, a test can expect exact times (a revocation's
    /// `revokedAt` is the `now` read before it) however slow the machine: a running clock once
    /// crossed a second in CI between the two.
    pub fn adjustable() -> Self {
        Self {
            fixed_seconds: Some(Arc::new(AtomicI64::new(system_seconds()))),
        }
    }

    /// Moves this clock and its clones forward (no effect on the system clock).
    pub fn advance(&self, seconds: i64) {
        if let Some(fixed) = &self.fixed_seconds {
            fixed.fetch_add(seconds, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_rfc3339() {
        let t = Timestamp::from_epoch_seconds(1_700_000_000);
        assert_eq!(t.to_rfc3339(), "2023-11-14T22:13:20Z");
        assert_eq!(Timestamp::parse_rfc3339("2023-11-14T22:13:20Z"), Some(t));
        assert_eq!(
            Timestamp::parse_rfc3339("2023-11-15T00:13:20+02:00"),
            Some(t)
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2023-11-14T22:13:20.999Z"),
            Some(t)
        );
        for bad in [
            "2023-11-14",
            "2023-11-14T22:13:20",
            "tomorrow",
            "",
            "1700000000",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn now_is_whole_seconds_utc() {
        let now = Clock::system().now().to_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z'));
    }
}

//! Time as the service sees it: whole seconds since the Unix epoch, shown as RFC 3339 UTC; the
//! clock every decision reads it from; and the deadline a request's work must finish by.

use std::future::Future;
#[cfg(feature = "test-util")]
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_types::date_time::{DateTime, Format};
use serde::{Serialize, Serializer};
use tokio::time::Instant;

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
            .fmt(Format::DateTime)
            // Only years outside 0001..=9999 fail to format; no clock or input produces them
            // (inputs are bounded to ten years ahead).
            .unwrap_or_else(|_| "invalid-time".to_owned())
    }

    /// An RFC 3339 date-time with an offset (`Z` or `±hh:mm`); fractions of a second are
    /// truncated. `None` for anything else.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let parsed = DateTime::from_str(text, Format::DateTimeWithOffset).ok()?;
        Some(Self(parsed.secs()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

/// Where the time comes from: the system's clock; with the `test-util` feature, a source given
/// at construction (a test's clock that moves only when told), so that tests move time instead of
/// sleeping.
#[derive(Clone, Default)]
pub struct Clock {
    #[cfg(feature = "test-util")]
    source: Option<Arc<dyn Fn() -> Timestamp + Send + Sync>>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[cfg(feature = "test-util")]
        if self.source.is_some() {
            return f.write_str("Clock(given)");
        }
        f.write_str("Clock(system)")
    }
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    #[cfg(feature = "test-util")]
    pub fn from_source(source: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        Self {
            source: Some(Arc::new(source)),
        }
    }

    pub fn now(&self) -> Timestamp {
        #[cfg(feature = "test-util")]
        if let Some(source) = &self.source {
            return source();
        }
        Timestamp(system_seconds())
    }
}

pub fn system_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// When a request's work must have finished: the one bound on everything it does, its store
/// retries included. A Lambda function takes it from its invocation (`lambda::deadline`); the
/// store stops retrying in time to answer before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(Instant);

/// The work did not finish before its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the work did not finish before its deadline")]
pub struct DeadlineExceeded;

impl Deadline {
    pub fn after(duration: Duration) -> Self {
        Self(Instant::now() + duration)
    }

    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    pub fn has_passed(self) -> bool {
        self.remaining().is_zero()
    }

    /// Runs `work` until it finishes or the deadline passes; in the second case `work` is dropped
    /// where it stands. A DynamoDB transaction in flight then either happened or did not: it is
    /// never half-applied.
    pub async fn run<F: Future>(self, work: F) -> Result<F::Output, DeadlineExceeded> {
        tokio::time::timeout_at(self.0, work)
            .await
            .map_err(|_| DeadlineExceeded)
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

    #[cfg(feature = "test-util")]
    #[test]
    fn a_given_clock_is_read_through() {
        let clock = Clock::from_source(|| Timestamp::from_epoch_seconds(7));
        assert_eq!(clock.clone().now(), Timestamp::from_epoch_seconds(7));
    }

    #[tokio::test]
    async fn work_past_the_deadline_is_stopped() {
        let near = Deadline::after(Duration::from_millis(50));
        let started = Instant::now();
        assert_eq!(
            near.run(std::future::pending::<()>()).await,
            Err(DeadlineExceeded)
        );
        assert!(started.elapsed() < Duration::from_millis(500));
        assert!(near.has_passed());
        let far = Deadline::after(Duration::from_secs(12));
        assert_eq!(far.run(async { 7 }).await, Ok(7));
    }
}

//! A clock that stands still until a test moves it, for the store's expiry and grace windows.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use appkeys::domain::time::system_seconds;
use appkeys::domain::{Clock, Timestamp};

/// Starts at the system's time and then stands still until [`AdjustableClock::advance`] moves
/// it; clones share it. Standing still, a test can expect exact times (a revocation's `revokedAt`
/// is the `now` read before it) however slow the machine.
#[derive(Debug, Clone)]
pub struct AdjustableClock(Arc<AtomicI64>);

impl Default for AdjustableClock {
    fn default() -> Self {
        Self(Arc::new(AtomicI64::new(system_seconds())))
    }
}

impl AdjustableClock {
    /// Moves this clock and its clones forward (no effect on the system clock).
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn now(&self) -> Timestamp {
        Timestamp::from_epoch_seconds(self.0.load(Ordering::SeqCst))
    }

    /// The store's [`Clock`], reading this one.
    pub fn clock(&self) -> Clock {
        let time = self.0.clone();
        Clock::from_source(move || Timestamp::from_epoch_seconds(time.load(Ordering::SeqCst)))
    }
}

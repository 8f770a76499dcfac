//! The keyring: per application, which of its keys may verify, and the bounded history of those
//! that no longer do. It is what the key limit is decided on ([`Keyring::admit`],
//! [`Keyring::roll`]), and what disabling and enabling an application read to find every lookup
//! record they must rewrite, without reading the application's whole key history.
//!
//! - `active`: keys that count toward `MAX_KEYS_PER_APPLICATION` (created, not rolled, not
//!   revoked). Expired ones stay until a write reclaims them: the authorizer refuses them by their
//!   `expiresAt` at once, and creation at the limit reclaims their places, so expiry needs no
//!   write when it happens.
//! - `rolled`: rolled keys in their grace window (and keys expired within the clock skew
//!   margin): they may still verify and do not count toward the limit.
//! - `retired`: keys that no longer verify, with when they stopped, oldest first; past
//!   [`RETIRED_KEYS_KEPT`] the oldest key items are deleted by the write that retires more.
//! - `version`: bumped by every write, so that a writer that read the keyring can condition its
//!   transaction on nothing having changed since.

use std::collections::BTreeMap;

use super::error::{KeyLimit, Refusal};
use super::ids::KeyId;
use super::key::works_at;
use super::key_format::KeyHash;
use super::limits::{Limits, CLOCK_SKEW_MARGIN_SECONDS, RETIRED_KEYS_KEPT};
use super::time::Timestamp;

/// A key whose lookup record may still allow: where that record is, and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveKey {
    pub hash: KeyHash,
    pub expires_at: Option<Timestamp>,
}

impl LiveKey {
    pub fn works_at(&self, now: Timestamp) -> bool {
        works_at(self.expires_at, now)
    }

    /// Whether some authorizer, its clock up to the skew margin behind, may still allow it.
    fn may_work_somewhere_at(&self, now: Timestamp) -> bool {
        self.works_at(now.plus_seconds(-CLOCK_SKEW_MARGIN_SECONDS))
    }
}

/// A key that no longer verifies, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetiredKey {
    pub id: KeyId,
    pub stopped_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keyring {
    pub active: BTreeMap<KeyId, LiveKey>,
    pub rolled: BTreeMap<KeyId, LiveKey>,
    /// Oldest stop first.
    pub retired: Vec<RetiredKey>,
    pub version: u64,
}

/// How a new key enters the keyring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Added by the keyring's own condition (room under the limit), without rewriting it.
    Add,
    /// The keyring rewritten (expired keys' places reclaimed, the new key added) in place of the
    /// version read.
    Replace(Keyring),
}

impl Keyring {
    /// Active keys that have not expired: what counts toward the key limit.
    pub fn counted(&self, now: Timestamp) -> usize {
        self.active.values().filter(|key| key.works_at(now)).count()
    }

    /// The one place that decides whether an application has room for another key. The keyring's
    /// conditional add (`store::items::keyring::add_if_room`) lets a key in without this read
    /// while fewer than the limit are active, expired ones included; this decides when it did
    /// not: the limit is reached only by keys that still count, and the places of expired ones
    /// are reclaimed.
    pub fn admit(
        mut self,
        id: KeyId,
        key: LiveKey,
        now: Timestamp,
        limits: Limits,
    ) -> Result<Admission, Refusal> {
        let max = limits.max_keys_per_application;
        if self.counted(now) >= max as usize {
            return Err(Refusal::KeyLimitReached(KeyLimit::Active { max }));
        }
        if self.active.len() < max as usize {
            return Ok(Admission::Add);
        }
        // The keys reclaimed wait among the rolled ones for the clock skew margin, and disabling
        // rewrites every one of them with the active keys in one transaction.
        self.reclaim_expired(now);
        let waiting = limits.winding_down_max();
        if self.rolled.len() > waiting {
            return Err(Refusal::KeyLimitReached(KeyLimit::WindingDown {
                max: waiting,
            }));
        }
        self.active.insert(id, key);
        Ok(Admission::Replace(self))
    }

    /// Replaces `old` (which must be active) with `new`: the old key moves to the rolled keys
    /// until `old_end` (or retires now, for `revoke_now`), so a roll neither frees nor takes a
    /// place under the limit; refused when the rolled keys would pass their bound.
    #[allow(clippy::too_many_arguments)]
    pub fn roll(
        &mut self,
        old: KeyId,
        old_hash: KeyHash,
        old_end: Timestamp,
        revoke_now: bool,
        new: KeyId,
        new_key: LiveKey,
        now: Timestamp,
        limits: Limits,
    ) -> Result<(), Refusal> {
        self.active.remove(&old);
        self.rolled.remove(&old);
        if revoke_now {
            self.retire(old, now);
        } else {
            self.rolled.insert(
                old,
                LiveKey {
                    hash: old_hash,
                    expires_at: Some(old_end),
                },
            );
        }
        self.active.insert(new, new_key);
        self.reclaim_expired(now);
        let max = limits.winding_down_max();
        if self.rolled.len() > max {
            return Err(Refusal::KeyLimitReached(KeyLimit::Rolled { max }));
        }
        Ok(())
    }

    /// Stops `id` at `now` (a revocation), reclaiming expired keys on the way.
    pub fn revoke(&mut self, id: KeyId, now: Timestamp) {
        self.reclaim_expired(now);
        self.retire(id, now);
    }

    /// Every key whose lookup record an authorizer may still allow at `now` (give or take the
    /// clock skew margin): what disabling or enabling the application must rewrite.
    pub fn working(&self, now: Timestamp) -> impl Iterator<Item = (&KeyId, &LiveKey)> {
        self.active
            .iter()
            .chain(&self.rolled)
            .filter(move |(_, key)| key.may_work_somewhere_at(now))
    }

    /// Records that `id` stopped working at `stopped_at` (once, however often it is told).
    pub fn retire(&mut self, id: KeyId, stopped_at: Timestamp) {
        self.active.remove(&id);
        self.rolled.remove(&id);
        if self.retired.iter().any(|retired| retired.id == id) {
            return;
        }
        let at = self
            .retired
            .partition_point(|retired| retired.stopped_at <= stopped_at);
        self.retired.insert(at, RetiredKey { id, stopped_at });
    }

    /// Stops counting active keys that have expired by `now`: those that expired more than the
    /// clock skew margin ago retire; the others wait among the rolled keys (which do not count
    /// but which disabling still rewrites) until the margin has passed.
    pub fn reclaim_expired(&mut self, now: Timestamp) {
        let expired: Vec<KeyId> = self
            .active
            .iter()
            .filter(|(_, key)| !key.works_at(now))
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(key) = self.active.remove(&id) {
                self.rolled.insert(id, key);
            }
        }
        let gone: Vec<(KeyId, Timestamp)> = self
            .rolled
            .iter()
            .filter(|(_, key)| !key.may_work_somewhere_at(now))
            .filter_map(|(id, key)| key.expires_at.map(|expires| (*id, expires)))
            .collect();
        for (id, expires) in gone {
            self.retire(id, expires);
        }
    }

    /// Takes the longest-stopped retired keys beyond [`RETIRED_KEYS_KEPT`] off the list (at
    /// most `room` of them: what the transaction has room to delete) and returns them, for their
    /// key items to be deleted in the same transaction. Any excess goes at the next write.
    pub fn drop_oldest_retired(&mut self, room: usize) -> Vec<KeyId> {
        let excess = self
            .retired
            .len()
            .saturating_sub(RETIRED_KEYS_KEPT)
            .min(room);
        self.retired
            .drain(..excess)
            .map(|retired| retired.id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(expires: Option<i64>) -> LiveKey {
        LiveKey {
            hash: KeyHash([0xab; 32]),
            expires_at: expires.map(Timestamp::from_epoch_seconds),
        }
    }

    fn ids(retired: &[RetiredKey]) -> Vec<KeyId> {
        retired.iter().map(|retired| retired.id).collect()
    }

    fn limits(max: u32) -> Limits {
        Limits {
            max_keys_per_application: max,
            ..Limits::default()
        }
    }

    #[test]
    fn expired_keys_stop_counting_at_once_and_retire_in_expiry_order_after_the_skew_margin() {
        let now = Timestamp::from_epoch_seconds(1000);
        let mut ring = Keyring::default();
        let (a, b, c, d, e) = (
            KeyId::new(),
            KeyId::new(),
            KeyId::new(),
            KeyId::new(),
            KeyId::new(),
        );
        ring.active.insert(a, live(None));
        ring.active.insert(b, live(Some(900)));
        ring.active.insert(c, live(Some(1000)));
        ring.rolled.insert(d, live(Some(800)));
        // Expired 30 s ago: a slow clock may still allow it.
        ring.active.insert(e, live(Some(970)));
        assert_eq!(ring.counted(now), 1);
        let working: Vec<KeyId> = ring.working(now).map(|(id, _)| *id).collect();
        assert_eq!(working.len(), 3, "a, and c and e within the margin");
        assert!(working.contains(&a) && working.contains(&c) && working.contains(&e));
        ring.reclaim_expired(now);
        assert_eq!(ring.active.keys().copied().collect::<Vec<_>>(), vec![a]);
        assert_eq!(
            ring.rolled.len(),
            2,
            "c and e wait out the margin without counting"
        );
        assert_eq!(ids(&ring.retired), vec![d, b]);
        ring.reclaim_expired(now.plus_seconds(CLOCK_SKEW_MARGIN_SECONDS));
        assert!(ring.rolled.is_empty());
        assert_eq!(ids(&ring.retired), vec![d, b, e, c]);
    }

    #[test]
    fn the_retired_list_is_ordered_by_when_keys_stopped_and_holds_each_once() {
        let mut ring = Keyring::default();
        let (early, late, revoked) = (KeyId::new(), KeyId::new(), KeyId::new());
        ring.retire(revoked, Timestamp::from_epoch_seconds(80));
        ring.retire(late, Timestamp::from_epoch_seconds(90));
        // An expiry found only now, but which happened first, sorts first.
        ring.retire(early, Timestamp::from_epoch_seconds(1));
        ring.retire(revoked, Timestamp::from_epoch_seconds(95));
        assert_eq!(ids(&ring.retired), vec![early, revoked, late]);
    }

    #[test]
    fn only_retired_keys_past_the_bound_are_dropped_longest_stopped_first_within_room() {
        let mut ring = Keyring::default();
        let keys: Vec<KeyId> = (0..RETIRED_KEYS_KEPT + 5).map(|_| KeyId::new()).collect();
        for (i, id) in keys.iter().enumerate().rev() {
            ring.retire(*id, Timestamp::from_epoch_seconds(i as i64));
        }
        assert_eq!(ring.drop_oldest_retired(3), keys[..3]);
        assert_eq!(ring.drop_oldest_retired(10), keys[3..5]);
        assert_eq!(ring.retired.len(), RETIRED_KEYS_KEPT);
        assert!(ring.drop_oldest_retired(10).is_empty());
    }

    #[test]
    fn the_limit_counts_working_keys_and_reclaims_expired_places() {
        let now = Timestamp::from_epoch_seconds(1000);
        let mut ring = Keyring::default();
        ring.active.insert(KeyId::new(), live(None));
        assert_eq!(
            ring.clone().admit(KeyId::new(), live(None), now, limits(2)),
            Ok(Admission::Add)
        );
        ring.active.insert(KeyId::new(), live(None));
        assert_eq!(
            ring.clone().admit(KeyId::new(), live(None), now, limits(2)),
            Err(Refusal::KeyLimitReached(KeyLimit::Active { max: 2 }))
        );
        let expired = KeyId::new();
        let mut full = Keyring::default();
        full.active.insert(KeyId::new(), live(None));
        full.active.insert(expired, live(Some(500)));
        let new = KeyId::new();
        match full.admit(new, live(None), now, limits(2)) {
            Ok(Admission::Replace(next)) => {
                assert!(next.active.contains_key(&new));
                assert!(!next.active.contains_key(&expired));
                assert_eq!(ids(&next.retired), vec![expired]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_roll_moves_the_old_key_to_its_window_and_takes_no_place() {
        let now = Timestamp::from_epoch_seconds(1000);
        let (old, new) = (KeyId::new(), KeyId::new());
        let mut ring = Keyring::default();
        ring.active.insert(old, live(None));
        let end = now.plus_seconds(3600);
        ring.roll(
            old,
            KeyHash([1; 32]),
            end,
            false,
            new,
            live(None),
            now,
            limits(1),
        )
        .unwrap();
        assert_eq!(ring.counted(now), 1);
        assert_eq!(ring.rolled[&old].expires_at, Some(end));
        let mut revoked = Keyring::default();
        revoked.active.insert(old, live(None));
        revoked
            .roll(
                old,
                KeyHash([1; 32]),
                now,
                true,
                new,
                live(None),
                now,
                limits(1),
            )
            .unwrap();
        assert!(revoked.rolled.is_empty());
        assert_eq!(ids(&revoked.retired), vec![old]);
    }
}

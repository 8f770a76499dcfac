//! The payment-route decision: is `Authorization: Bearer <key>` a key that may pay right now?
//!
//! Format checks come first and cost no I/O, so garbage and mistyped keys never reach DynamoDB.
//! A well-formed key costs one HMAC and one strongly consistent GetItem of its lookup record.
//! With the edge protection on, a call that did not come through the edge is denied first. A
//! restricted key's permissions are on its lookup record: the same read decides them.

use crate::domain::error::ErrorChain;
use crate::domain::key::{KeyLookup, KeyStatus};
use crate::domain::key_format::{check_format, KeyFormatError, KeyHash, KeyMode};
use crate::domain::limits::LAST_USE_ACCURACY_SECONDS;
use crate::domain::origin_lock::{self, OriginLock};
use crate::domain::permissions::{self, PaymentResources};
use crate::domain::{Failure, KeyId, Timestamp};
use crate::pepper::Pepper;
use crate::store::Store;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(KeyLookup),
    Deny(DenyReason),
}

/// What the decision reads of a payment call.
#[derive(Debug, Clone, Copy)]
pub struct PaymentCall<'a> {
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The edge's header ([`origin_lock::HEADER`]).
    pub origin_secret: Option<&'a str>,
    /// The HTTP method, as the client sent it.
    pub method: &'a str,
    /// The path as the client sent it (API Gateway's `rawPath`).
    pub raw_path: &'a str,
}

impl<'a> PaymentCall<'a> {
    /// A `GET /api/v1/payments/charges` with just this `Authorization` header.
    pub fn bearing(authorization: Option<&'a str>) -> Self {
        Self {
            authorization,
            origin_secret: None,
            method: "GET",
            raw_path: "/api/v1/payments/charges",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// The edge protection is on, and the call did not come through it.
    OriginNotVerified,
    MissingHeader,
    WrongScheme,
    Malformed(KeyFormatError),
    UnknownKey,
    RevokedKey,
    ExpiredKey,
    ApplicationDisabled,
    /// A restricted key, on a call its permissions do not cover.
    InsufficientPermission,
}

impl DenyReason {
    /// A stable word for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OriginNotVerified => "origin_not_verified",
            Self::MissingHeader => "missing_header",
            Self::WrongScheme => "wrong_scheme",
            Self::Malformed(format) => format.reason(),
            Self::UnknownKey => "unknown_key",
            Self::RevokedKey => "revoked_key",
            Self::ExpiredKey => "expired_key",
            Self::ApplicationDisabled => "application_disabled",
            Self::InsufficientPermission => "insufficient_permission",
        }
    }
}

#[derive(Clone, Debug)]
pub struct KeyVerifier {
    store: Store,
    pepper: Pepper,
    mode: KeyMode,
    resources: PaymentResources,
    origin_lock: Option<OriginLock>,
    last_use: LastUseWrites,
}

impl KeyVerifier {
    pub fn new(store: Store, pepper: Pepper, mode: KeyMode, resources: PaymentResources) -> Self {
        Self {
            store,
            pepper,
            mode,
            resources,
            origin_lock: None,
            last_use: LastUseWrites::default(),
        }
    }

    /// Denies every call without the edge's secret.
    pub fn with_origin_lock(mut self, lock: Option<OriginLock>) -> Self {
        self.origin_lock = lock;
        self
    }

    /// `Err` only when the answer cannot be known (DynamoDB failed): the caller must then fail
    /// closed, never allow.
    pub async fn verify(&self, call: &PaymentCall<'_>) -> Result<Decision, Failure> {
        if !origin_lock::admits(self.origin_lock.as_ref(), call.origin_secret) {
            return Ok(Decision::Deny(DenyReason::OriginNotVerified));
        }
        let key = match self.well_formed_key(call.authorization) {
            Ok(key) => key,
            Err(reason) => return Ok(Decision::Deny(reason)),
        };
        let hash = self.pepper.hash(key);
        let lookup = self.store.find_key_lookup(&hash).await?;
        let now = self.store.clock().now();
        let Some(lookup) = lookup else {
            return Ok(Decision::Deny(DenyReason::UnknownKey));
        };
        Ok(match lookup.status_at(now) {
            KeyStatus::Revoked => Decision::Deny(DenyReason::RevokedKey),
            KeyStatus::Expired => Decision::Deny(DenyReason::ExpiredKey),
            KeyStatus::Active if !lookup.application_enabled => {
                Decision::Deny(DenyReason::ApplicationDisabled)
            }
            KeyStatus::Active
                if !permissions::allows(
                    lookup.permissions.as_deref(),
                    &self.resources,
                    call.method,
                    call.raw_path,
                ) =>
            {
                Decision::Deny(DenyReason::InsufficientPermission)
            }
            KeyStatus::Active => {
                if lookup.last_use_is_due(now) && self.last_use.claim(lookup.key_id, now) {
                    self.record_last_use_in_background(hash, &lookup, now);
                }
                Decision::Allow(lookup)
            }
        })
    }

    /// The decision never waits on the last-use write and never depends on it: it runs on its
    /// own task, and a failure is only logged. (In Lambda, a write still in flight when the
    /// invocation returns finishes when the instance next runs; if the instance never runs
    /// again, the next allowed call, on any instance, still finds the old time and records it.)
    fn record_last_use_in_background(&self, hash: KeyHash, lookup: &KeyLookup, now: Timestamp) {
        let store = self.store.clone();
        let lookup = lookup.clone();
        tokio::spawn(async move {
            match store.record_last_use(&hash, &lookup, now).await {
                Ok(written) => {
                    tracing::debug!(key_id = %lookup.key_id, written, "last use recorded")
                }
                Err(err) => {
                    tracing::warn!(key_id = %lookup.key_id, error = %ErrorChain(&err), "last use not recorded")
                }
            }
        });
    }

    fn well_formed_key<'a>(&self, authorization: Option<&'a str>) -> Result<&'a str, DenyReason> {
        let header = authorization.ok_or(DenyReason::MissingHeader)?;
        let (scheme, token) = header.split_once(' ').ok_or(DenyReason::WrongScheme)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(DenyReason::WrongScheme);
        }
        check_format(token, self.mode).map_err(DenyReason::Malformed)
    }
}

/// The keys whose last use this instance has begun to record, and when: until the lookup
/// record shows the new time, the calls that follow would each start the same write, and the
/// condition on it would refuse all but one, each refused write still costing a request. So an
/// instance starts at most one write per key per accuracy window (the condition still keeps
/// instances from writing more than once between them).
#[derive(Clone, Debug, Default)]
struct LastUseWrites(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<KeyId, Timestamp>>>);

impl LastUseWrites {
    /// Whether this call should start the write (and, if so, it is now this call's).
    fn claim(&self, key_id: KeyId, now: Timestamp) -> bool {
        let window = LAST_USE_ACCURACY_SECONDS;
        let Ok(mut started) = self.0.lock() else {
            return true;
        };
        if started
            .get(&key_id)
            .is_some_and(|at| now < at.plus_seconds(window))
        {
            return false;
        }
        // Entries older than the window are of no further use: keep the map small.
        started.retain(|_, at| now < at.plus_seconds(window));
        started.insert(key_id, now);
        true
    }
}

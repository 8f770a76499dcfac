//! What the service knows without asking anyone: validated values, the rules over them, and the
//! shapes the API shows. No I/O, no HTTP, no SDK types: the store and the HTTP edge build on this
//! layer, never the other way round.
//!
//! - [`error`]: refusals (the request meets a rule: 4xx) apart from failures (a dependency could
//!   not answer: 5xx).
//! - [`ids`], [`time`], [`text`]: merchant and resource ids, time and deadlines, user text.
//! - [`limits`]: every bound, with the arithmetic of those that DynamoDB's 100-item transaction
//!   sets, once.
//! - [`application`], [`key`], [`keyring`]: the two aggregates and the per-application record of
//!   which keys may verify.
//! - [`key_format`]: what a full key looks like, and its checksum.
//! - [`permissions`]: restricted keys, and the decision a call's method and path get.
//! - [`audit`], [`page`]: the audit trail and pages of lists.
//! - [`origin_lock`]: the edge's shared secret, when calls must come through it.

pub mod application;
pub mod audit;
pub mod error;
pub mod ids;
pub mod key;
pub mod key_format;
pub mod keyring;
pub mod limits;
pub mod origin_lock;
pub mod page;
pub mod permissions;
pub mod text;
pub mod time;

pub use application::{Application, NewApplication};
pub use error::{Error, Failure, FieldError, Refusal};
pub use ids::{ApplicationId, EventId, KeyId, MerchantId};
pub use key::{ApiKeySummary, IssuedKey, KeyStatus, NewKey, Roll, Rolled};
pub use page::{Page, PageRequest};
pub use text::{ApplicationName, Description};
pub use time::{Clock, Deadline, Timestamp};

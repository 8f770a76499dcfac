//! Leaked-key reports from GitHub's secret-scanning partner program (the contract's "Leaked-key
//! reports"): GitHub finds a string shaped like our keys in a public push and posts it, signed,
//! to `POST /api/v1/secret-scanning/reports`; a key of ours that still works is revoked at once,
//! through the same store path as `DELETE …/api-keys/{keyId}`, and every reported token gets a
//! label back.
//!
//! - [`public_keys`]: GitHub's signing keys, fetched and cached; the ECDSA P-256 check.
//! - [`report`]: the report's body and the answer's shape.
//! - [`triage`]: per token, format first (no read for garbage), then the lookup records in
//!   batches, then the revocations.

pub mod public_keys;
pub mod report;
pub mod triage;

pub use public_keys::PublicKeys;
pub use report::{
    check_size, parse_report, Label, ReportedToken, Verdict, REPORT_BODY_MAX_BYTES,
    REPORT_TEXT_MAX_CHARS, REPORT_TOKENS_MAX,
};
pub use triage::{triage, ACTOR};

//! A report's body, `[{"token", "type", "url", "source"}, …]`, and the answer,
//! `[{"token_hash", "token_type", "label"}, …]` in the same order (GitHub's partner program
//! format).

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::{FieldError, Refusal};
use crate::http::json::{self, JsonError};

/// The contract's bounds on one report.
pub const REPORT_BODY_MAX_BYTES: usize = 1024 * 1024;
pub const REPORT_TOKENS_MAX: usize = 1000;

/// One match GitHub found. The token is a secret (it may be a working key): it is never logged
/// or answered, only its SHA-256.
#[derive(Debug)]
pub struct ReportedToken {
    pub token: SecretString,
    pub token_type: String,
    /// Where GitHub found it (a public URL) and in what (`commit`, `issue`, …).
    pub url: String,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// A key of ours: active (and now revoked), or already revoked or expired.
    TruePositive,
    FalsePositive,
}

/// The answer for one reported token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub token_hash: String,
    pub token_type: String,
    pub label: Label,
}

impl Verdict {
    pub fn new(token: &ReportedToken, label: Label) -> Self {
        Self {
            token_hash: hex::encode(Sha256::digest(token.token.expose_secret().as_bytes())),
            token_type: token.token_type.clone(),
            label,
        }
    }
}

/// At most [`REPORT_BODY_MAX_BYTES`]: checked before the signature, so an oversized body costs
/// no verification.
pub fn check_size(body: &[u8]) -> Result<(), Refusal> {
    if body.len() > REPORT_BODY_MAX_BYTES {
        return Err(Refusal::PayloadTooLarge {
            max: REPORT_BODY_MAX_BYTES,
        });
    }
    Ok(())
}

/// The most characters of a report's `url` or `source` kept in the revocation's audit event; a
/// longer value (only GitHub can sign one) is cut there rather than refused.
pub const REPORT_TEXT_MAX_CHARS: usize = 2048;

/// The report's tokens, in order. A JSON array of 1 to [`REPORT_TOKENS_MAX`] objects, each with
/// a string `token`; `type`, `url` and `source` are strings too, but null or absent is taken as
/// empty (GitHub documents that `url` may be empty, and its older reports had no `source`); members
/// GitHub may add later are ignored. Every such leniency is for the same reason: a refused report
/// would leave every leaked key in it working. Every problem is reported at once, by position
/// (`[3].token`).
pub fn parse_report(body: &[u8]) -> Result<Vec<ReportedToken>, Refusal> {
    check_size(body)?;
    let invalid =
        |field: &str, message: &str| Refusal::Validation(vec![FieldError::new(field, message)]);
    let entries = match json::parse_strict(body) {
        Ok(Value::Array(entries)) => entries,
        Ok(_) => return Err(invalid("body", "must be a JSON array of reported tokens")),
        Err(JsonError::Duplicate { member }) => {
            return Err(invalid(&member, "must be given at most once"))
        }
        Err(JsonError::Syntax(err)) => {
            return Err(invalid("body", &format!("is not valid JSON: {err}")))
        }
    };
    if entries.is_empty() || entries.len() > REPORT_TOKENS_MAX {
        return Err(invalid(
            "body",
            &format!("must hold 1 to {REPORT_TOKENS_MAX} reported tokens"),
        ));
    }
    let mut errors = Vec::new();
    let mut tokens = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let Value::Object(mut members) = entry else {
            errors.push(FieldError::new(format!("[{index}]"), "must be an object"));
            continue;
        };
        let mut problem = |name: &str, message: &str| {
            errors.push(FieldError::new(format!("[{index}].{name}"), message));
        };
        let token = match members.remove("token") {
            Some(Value::String(token)) => Some(token),
            _ => {
                problem("token", "must be a string");
                None
            }
        };
        let mut text = |name: &str| match members.remove(name) {
            Some(Value::String(text)) => Some(cut(text)),
            None | Some(Value::Null) => Some(String::new()),
            Some(_) => {
                problem(name, "must be a string");
                None
            }
        };
        if let (Some(token), Some(token_type), Some(url), Some(source)) =
            (token, text("type"), text("url"), text("source"))
        {
            tokens.push(ReportedToken {
                token: SecretString::from(token),
                token_type,
                url,
                source,
            });
        }
    }
    if errors.is_empty() {
        Ok(tokens)
    } else {
        Err(Refusal::Validation(errors))
    }
}

/// At most [`REPORT_TEXT_MAX_CHARS`] characters of `text`.
fn cut(mut text: String) -> String {
    if let Some((at, _)) = text.char_indices().nth(REPORT_TEXT_MAX_CHARS) {
        text.truncate(at);
    }
    text
}

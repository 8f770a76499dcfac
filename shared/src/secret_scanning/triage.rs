//! What a report's tokens are, and the revocation of those that still work.
//!
//! Each token is checked as the authorizer checks a key: format and checksum first, so garbage
//! and other strings never reach DynamoDB; the rest are hashed with the pepper and their lookup
//! records read in batches of 100 (`Store::find_key_lookups`), not one request per token. A key
//! that is active (not revoked, not expired) is revoked by `Store::revoke_api_key`, the
//! transaction `DELETE …/api-keys/{keyId}` runs, so the authorizer refuses it on its next call;
//! its audit event names the report. Keys of different applications are revoked concurrently,
//! those of one application one after the other (they share its keyring item, and would only
//! cancel each other's transactions).

use std::collections::HashMap;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use secrecy::ExposeSecret;

use super::report::{Label, ReportedToken, Verdict};
use crate::domain::audit::{LeakReport, Origin};
use crate::domain::key::{KeyLookup, KeyStatus};
use crate::domain::key_format::{check_format, KeyMode};
use crate::domain::{ApplicationId, Deadline, Error, Failure, MerchantId, Refusal};
use crate::pepper::Pepper;
use crate::store::{Caller, Store};

/// The audit trail's actor for revocations prompted by a report.
pub const ACTOR: &str = "github-secret-scanning";

/// Applications whose keys are revoked at the same time.
const APPLICATIONS_IN_PARALLEL: usize = 8;

/// One verdict per token, in order; every active key among them revoked. `origin` is the
/// report's request (its sub is replaced by [`ACTOR`]). A store failure fails the whole report
/// (GitHub sends it again; what was revoked stays revoked and is then labelled as ours).
pub async fn triage(
    store: &Store,
    pepper: &Pepper,
    mode: KeyMode,
    tokens: &[ReportedToken],
    origin: &Origin,
    deadline: Deadline,
) -> Result<Vec<Verdict>, Failure> {
    // (index of the token, its hash) for the well-formed ones only.
    let (indexes, hashes): (Vec<usize>, Vec<_>) = tokens
        .iter()
        .enumerate()
        .filter(|(_, reported)| check_format(reported.token.expose_secret(), mode).is_ok())
        .map(|(index, reported)| (index, pepper.hash(reported.token.expose_secret())))
        .unzip();
    let lookups = store.find_key_lookups(&hashes, deadline).await?;
    let mut ours: Vec<Option<&KeyLookup>> = vec![None; tokens.len()];
    for (index, lookup) in indexes.iter().zip(&lookups) {
        ours[*index] = lookup.as_ref();
    }

    let now = store.clock().now();
    // Per application, its keys to revoke, each once, with the first report that named it.
    let mut to_revoke: HashMap<(MerchantId, ApplicationId), Vec<Revocation>> = HashMap::new();
    for (lookup, reported) in ours.iter().zip(tokens) {
        let Some(lookup) = lookup else { continue };
        if lookup.status_at(now) != KeyStatus::Active {
            continue;
        }
        let keys = to_revoke
            .entry((lookup.merchant_id.clone(), lookup.application_id))
            .or_default();
        if !keys
            .iter()
            .any(|listed| listed.lookup.key_id == lookup.key_id)
        {
            keys.push(Revocation {
                lookup: (*lookup).clone(),
                report: LeakReport {
                    url: reported.url.clone(),
                    source: reported.source.clone(),
                },
            });
        }
    }
    let revoked: usize = stream::iter(to_revoke.into_values())
        .map(|keys| revoke_all(store, keys, origin, deadline))
        .buffer_unordered(APPLICATIONS_IN_PARALLEL)
        .try_fold(0, |total, revoked| async move { Ok(total + revoked) })
        .await?;

    let verdicts: Vec<Verdict> = tokens
        .iter()
        .zip(&ours)
        .map(|(reported, lookup)| {
            let label = if lookup.is_some() {
                Label::TruePositive
            } else {
                Label::FalsePositive
            };
            Verdict::new(reported, label)
        })
        .collect();
    let true_positives = verdicts
        .iter()
        .filter(|v| v.label == Label::TruePositive)
        .count();
    tracing::info!(
        reported = tokens.len(),
        true_positives,
        revoked,
        "leaked-key report handled"
    );
    Ok(verdicts)
}

/// A key to revoke, and the report that named it.
struct Revocation {
    lookup: KeyLookup,
    report: LeakReport,
}

/// One application's keys, one after the other; how many this call revoked.
async fn revoke_all(
    store: &Store,
    keys: Vec<Revocation>,
    origin: &Origin,
    deadline: Deadline,
) -> Result<usize, Failure> {
    let mut revoked = 0;
    for Revocation { lookup, report } in keys {
        let source = report.source.clone();
        let origin = Origin {
            sub: ACTOR.to_owned(),
            report: Some(report),
            ..origin.clone()
        };
        let caller = Caller {
            merchant: &lookup.merchant_id,
            origin: &origin,
            deadline,
        };
        match store
            .revoke_api_key(&caller, lookup.application_id, lookup.key_id)
            .await
        {
            Ok(()) => {
                revoked += 1;
                tracing::warn!(
                    merchant_id = %lookup.merchant_id,
                    application_id = %lookup.application_id,
                    key_id = %lookup.key_id,
                    %source,
                    "leaked key revoked"
                );
            }
            // Stopped meanwhile, by its merchant or a concurrent report: it is ours all the same.
            Err(Error::Refused(
                Refusal::KeyAlreadyRevoked | Refusal::KeyExpired | Refusal::NotFound(_),
            )) => {}
            Err(Error::Refused(refusal)) => {
                return Err(Failure::Backend(
                    format!("a revocation was refused: {refusal}").into(),
                ))
            }
            Err(Error::Failed(failure)) => return Err(failure),
        }
    }
    Ok(revoked)
}

//! GitHub's secret-scanning signing keys and the signature check.
//!
//! A report is signed with ECDSA over NIST P-256 and SHA-256, over the raw body bytes: header
//! `Github-Public-Key-Signature` is the base64 of the ASN.1 DER signature, header
//! `Github-Public-Key-Identifier` names the key. The keys are published at
//! `SECRET_SCANNING_KEYS_URL` as `{"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}`
//! (GitHub Docs, "Secret scanning partner program": "Implement signature verification in your
//! secret alert service"), fetched with a GitHub token when one is configured (GitHub limits
//! anonymous calls per IP, and Lambda's egress IPs are shared). Verification is aws-lc-rs's
//! (`ECDSA_P256_SHA256_ASN1`), which takes the PEM's DER `SubjectPublicKeyInfo` as it is.
//!
//! The keys are cached per instance, and fetched again:
//! - for an identifier not in the cache, and once the cache is [`REFRESH_AFTER`] old, but never
//!   more than once per [`REFETCH_INTERVAL`], whatever callers send: random identifiers cannot
//!   make every request a fetch;
//! - a failed fetch keeps the cached keys (a report signed with one still verifies; an unknown
//!   identifier is 401, saying when the keys may be fetched again), so only an instance that
//!   holds no keys answers 503; keys not fetched again within [`TRUSTED_FOR`] are dropped, so a
//!   key GitHub withdraws stops being trusted within a day.
//!
//! A failed fetch is logged with a stable `reason` (`FETCH_FAILED`), which an alarm counts.

use std::collections::HashMap;
use std::time::Duration;

use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use base64::Engine;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::time::Instant;

use crate::domain::error::SignatureProblem;
use crate::domain::{Error, Failure, Refusal};

/// The least time between two fetches of the keys, whatever their outcome.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Keys this old are fetched again on the next report.
pub const REFRESH_AFTER: Duration = Duration::from_secs(60 * 60);
/// Keys not fetched again for this long are no longer trusted.
pub const TRUSTED_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// The log message of a failed fetch; its `reason` field is one of [`FetchProblem::reason`]'s.
pub const FETCH_FAILED: &str = "secret-scanning keys not fetched";
/// One fetch, connection to last byte: a report waits for it.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
/// GitHub's document is a few kilobytes.
const KEYS_DOCUMENT_MAX_BYTES: usize = 256 * 1024;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The keys, as one instance knows them.
pub struct PublicKeys {
    url: String,
    /// A GitHub token for the fetch (`SECRET_SCANNING_TOKEN_SECRET_ID`); anonymous without one.
    token: Option<SecretString>,
    /// Built at the first fetch: loading the system's roots can fail, and then that fetch fails
    /// (the cached keys still serve) rather than the function's start.
    client: std::sync::OnceLock<Result<HttpsClient, String>>,
    timing: Timing,
    cache: tokio::sync::Mutex<Cache>,
}

/// How often the keys are fetched, and for how long they are trusted.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub refetch_interval: Duration,
    pub refresh_after: Duration,
    pub trusted_for: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            refetch_interval: REFETCH_INTERVAL,
            refresh_after: REFRESH_AFTER,
            trusted_for: TRUSTED_FOR,
        }
    }
}

#[derive(Default)]
struct Cache {
    /// Identifier → DER `SubjectPublicKeyInfo`.
    keys: HashMap<String, Vec<u8>>,
    /// When `keys` were fetched.
    fetched: Option<Instant>,
    /// When a fetch was last tried, whatever came of it.
    tried: Option<Instant>,
}

#[derive(Deserialize)]
struct KeysDocument {
    public_keys: Vec<PublishedKey>,
}

#[derive(Deserialize)]
struct PublishedKey {
    key_identifier: String,
    key: String,
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
enum FetchProblem {
    #[error("the system's trusted roots: {0}")]
    NoTrustedRoots(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("no answer within {FETCH_TIMEOUT:?}")]
    Timeout,
    #[error("status {0}")]
    Status(u16),
    #[error("body: {0}")]
    Body(String),
    #[error("document: {0}")]
    Malformed(String),
    #[error("the document holds no key")]
    NoKeys,
}

impl FetchProblem {
    /// Stable words for the log's `reason`, which the alarm's metric filter and the runbook use.
    fn reason(&self) -> &'static str {
        match self {
            Self::NoTrustedRoots(_) => "no_trusted_roots",
            Self::Unreachable(_) => "unreachable",
            Self::Timeout => "timeout",
            Self::Status(401 | 403) => "refused",
            Self::Status(429) => "rate_limited",
            Self::Status(_) => "bad_status",
            Self::Body(_) => "bad_body",
            Self::Malformed(_) => "malformed_document",
            Self::NoKeys => "no_keys",
        }
    }
}

impl PublicKeys {
    /// Keys from `url` (https; http only for a loopback test server, which the configuration
    /// checks), over the system's trusted roots.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            token: None,
            client: std::sync::OnceLock::new(),
            timing: Timing::default(),
            cache: tokio::sync::Mutex::default(),
        }
    }

    /// Fetches with `Authorization: Bearer <token>`.
    pub fn with_token(mut self, token: Option<SecretString>) -> Self {
        self.token = token;
        self
    }

    /// For tests, which cannot wait a minute or a day.
    #[cfg(feature = "test-util")]
    pub fn with_timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// For tests of rotation, which cannot wait a minute.
    #[cfg(feature = "test-util")]
    pub fn with_refetch_interval(self, interval: Duration) -> Self {
        let timing = Timing {
            refetch_interval: interval,
            ..self.timing
        };
        self.with_timing(timing)
    }

    fn client(&self) -> Result<&HttpsClient, FetchProblem> {
        self.client
            .get_or_init(|| {
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_native_roots()
                    .map_err(|err| err.to_string())?
                    .https_or_http()
                    .enable_http1()
                    .build();
                Ok(Client::builder(TokioExecutor::new()).build(https))
            })
            .as_ref()
            .map_err(|why| FetchProblem::NoTrustedRoots(why.clone()))
    }

    /// Whether `signature` (the header's base64) is the key `identifier`'s over `body`.
    pub async fn verify(
        &self,
        identifier: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), Error> {
        let refused = |why| Error::from(Refusal::BadSignature(why));
        let (Some(identifier), Some(signature)) = (identifier, signature) else {
            return Err(refused(SignatureProblem::Missing));
        };
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .map_err(|_| refused(SignatureProblem::Malformed))?;
        let key = self.key(identifier).await?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key)
            .verify(body, &signature)
            .map_err(|_| refused(SignatureProblem::Mismatch))
    }

    async fn key(&self, identifier: &str) -> Result<Vec<u8>, Error> {
        let timing = self.timing;
        let mut cache = self.cache.lock().await;
        if cache
            .fetched
            .is_some_and(|at| at.elapsed() >= timing.trusted_for)
        {
            cache.keys.clear();
            cache.fetched = None;
        }
        let wanted = !cache.keys.contains_key(identifier)
            || cache
                .fetched
                .is_none_or(|at| at.elapsed() >= timing.refresh_after);
        let may_fetch = cache
            .tried
            .is_none_or(|at| at.elapsed() >= timing.refetch_interval);
        let mut fetched_now = false;
        if wanted && may_fetch {
            cache.tried = Some(Instant::now());
            match self.fetch().await {
                // Keys GitHub no longer publishes go with the old set.
                Ok(keys) => {
                    tracing::info!(keys = keys.len(), "secret-scanning keys fetched");
                    cache.keys = keys;
                    cache.fetched = Some(Instant::now());
                    fetched_now = true;
                }
                Err(problem) => tracing::warn!(
                    reason = problem.reason(),
                    detail = %problem,
                    url = %self.url,
                    cached = cache.keys.len(),
                    "{FETCH_FAILED}"
                ),
            }
        }
        if cache.keys.is_empty() {
            return Err(Failure::SigningKeysUnavailable.into());
        }
        if let Some(key) = cache.keys.get(identifier) {
            return Ok(key.clone());
        }
        if fetched_now {
            // Just fetched: an identifier GitHub does not publish is not GitHub's.
            return Err(Refusal::BadSignature(SignatureProblem::UnknownKey).into());
        }
        let since = cache.tried.map_or(Duration::ZERO, |at| at.elapsed());
        let wait = timing.refetch_interval.saturating_sub(since);
        Err(Refusal::BadSignature(SignatureProblem::NotYetKnown {
            retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
        })
        .into())
    }

    async fn fetch(&self) -> Result<HashMap<String, Vec<u8>>, FetchProblem> {
        let mut request = lambda_http::http::Request::get(&self.url)
            .header("accept", "application/json")
            // GitHub's REST API refuses requests without a User-Agent.
            .header("user-agent", "appkeys-secret-scanning");
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {}", token.expose_secret()));
        }
        let request = request
            .body(Empty::new())
            .map_err(|_| FetchProblem::Unreachable("the request could not be built".into()))?;
        let fetch = async {
            let response = self
                .client()?
                .request(request)
                .await
                .map_err(|err| FetchProblem::Unreachable(err.to_string()))?;
            if !response.status().is_success() {
                return Err(FetchProblem::Status(response.status().as_u16()));
            }
            Limited::new(response.into_body(), KEYS_DOCUMENT_MAX_BYTES)
                .collect()
                .await
                .map(|body| body.to_bytes())
                .map_err(|err| FetchProblem::Body(err.to_string()))
        };
        let body = tokio::time::timeout(FETCH_TIMEOUT, fetch)
            .await
            .map_err(|_| FetchProblem::Timeout)??;
        let document: KeysDocument = serde_json::from_slice(&body)
            .map_err(|err| FetchProblem::Malformed(err.to_string()))?;
        let keys: HashMap<String, Vec<u8>> = document
            .public_keys
            .into_iter()
            .filter_map(|published| match pem_to_der(&published.key) {
                Some(der) => Some((published.key_identifier, der)),
                None => {
                    tracing::warn!(identifier = %published.key_identifier, "a published key is not a PEM public key");
                    None
                }
            })
            .collect();
        if keys.is_empty() {
            return Err(FetchProblem::NoKeys);
        }
        Ok(keys)
    }
}

/// The DER inside a `-----BEGIN PUBLIC KEY-----` PEM block (RFC 7468): the armour only; the key
/// itself is parsed by aws-lc-rs.
fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let (_, rest) = pem.split_once("-----BEGIN PUBLIC KEY-----")?;
    let (body, _) = rest.split_once("-----END PUBLIC KEY-----")?;
    let base64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(base64)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pem_block_yields_its_der_and_anything_else_none() {
        let pem = "-----BEGIN PUBLIC KEY-----\nAAEC\nAwQ=\n-----END PUBLIC KEY-----\n";
        assert_eq!(pem_to_der(pem), Some(vec![0, 1, 2, 3, 4]));
        assert_eq!(pem_to_der("AAECAwQ="), None);
        assert_eq!(
            pem_to_der("-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----"),
            None
        );
    }
}

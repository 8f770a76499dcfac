//! GitHub's secret-scanning signing keys and the signature check.
//!
//! A report is signed with ECDSA over NIST P-256 and SHA-256, over the raw body bytes: header
//! `Github-Public-Key-Signature` is the base64 of the ASN.1 DER signature, header
//! `Github-Public-Key-Identifier` names the key. The keys are published at
//! `SECRET_SCANNING_KEYS_URL` as `{"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}`
//! (GitHub Docs, "Secret scanning partner program": "Implement signature verification in your
//! secret alert service"). They are cached per instance; an identifier not in the cache fetches
//! them again, at most once per [`REFETCH_INTERVAL`], so that random identifiers cannot make
//! every request a fetch; within that interval an unknown identifier is refused (401, as the
//! contract says) with a detail that says when the keys may be fetched again. Verification is aws-lc-rs's (`ECDSA_P256_SHA256_ASN1`), which takes the
//! PEM's DER `SubjectPublicKeyInfo` as it is: no hand-written crypto.

use std::collections::HashMap;
use std::time::Duration;

use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use base64::Engine;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use tokio::time::Instant;

use crate::domain::error::SignatureProblem;
use crate::domain::{Error, Failure, Refusal};

/// The least time between two fetches of the keys.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// One fetch, connection to last byte: a report waits for it.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
/// GitHub's document is a few kilobytes.
const KEYS_DOCUMENT_MAX_BYTES: usize = 256 * 1024;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The keys, as one instance knows them.
pub struct PublicKeys {
    url: String,
    /// Built at the first fetch: loading the system's roots can fail, and then that fetch fails
    /// (503, nothing revoked) rather than the function's start.
    client: std::sync::OnceLock<Result<HttpsClient, String>>,
    refetch_interval: Duration,
    cache: tokio::sync::Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    /// Identifier → DER `SubjectPublicKeyInfo`.
    keys: HashMap<String, Vec<u8>>,
    /// When the keys were last fetched, and whether that worked.
    fetched: Option<(Instant, bool)>,
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

impl PublicKeys {
    /// Keys from `url` (https; http only for a loopback test server, which the configuration
    /// checks), over the system's trusted roots.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            client: std::sync::OnceLock::new(),
            refetch_interval: REFETCH_INTERVAL,
            cache: tokio::sync::Mutex::default(),
        }
    }

    fn client(&self) -> Result<&HttpsClient, String> {
        self.client
            .get_or_init(|| {
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_native_roots()
                    .map_err(|err| format!("the system's trusted roots: {err}"))?
                    .https_or_http()
                    .enable_http1()
                    .build();
                Ok(Client::builder(TokioExecutor::new()).build(https))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// For tests of rotation, which cannot wait a minute.
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
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
        let mut cache = self.cache.lock().await;
        if let Some(key) = cache.keys.get(identifier) {
            return Ok(key.clone());
        }
        let due = cache
            .fetched
            .is_none_or(|(at, _)| at.elapsed() >= self.refetch_interval);
        if due {
            let fetched = self.fetch().await;
            cache.fetched = Some((Instant::now(), fetched.is_ok()));
            match fetched {
                // Keys GitHub no longer publishes are dropped with the old set.
                Ok(keys) => cache.keys = keys,
                Err(why) => {
                    tracing::warn!(url = %self.url, why, "secret-scanning keys not fetched");
                    return Err(Failure::SigningKeysUnavailable.into());
                }
            }
        } else if let Some((at, worked)) = cache.fetched {
            if !worked {
                return Err(Failure::SigningKeysUnavailable.into());
            }
            let wait = self.refetch_interval.saturating_sub(at.elapsed());
            return Err(Refusal::BadSignature(SignatureProblem::NotYetKnown {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            })
            .into());
        }
        // Just fetched: an identifier GitHub does not publish is not GitHub's.
        cache
            .keys
            .get(identifier)
            .cloned()
            .ok_or(Refusal::BadSignature(SignatureProblem::UnknownKey).into())
    }

    async fn fetch(&self) -> Result<HashMap<String, Vec<u8>>, String> {
        let request = lambda_http::http::Request::get(&self.url)
            .header("accept", "application/json")
            // GitHub's REST API refuses requests without a User-Agent.
            .header("user-agent", "appkeys-secret-scanning")
            .body(Empty::new())
            .map_err(|err| format!("request: {err}"))?;
        let fetch = async {
            let response = self
                .client()?
                .request(request)
                .await
                .map_err(|err| format!("{err}"))?;
            if !response.status().is_success() {
                return Err(format!("status {}", response.status()));
            }
            Limited::new(response.into_body(), KEYS_DOCUMENT_MAX_BYTES)
                .collect()
                .await
                .map(|body| body.to_bytes())
                .map_err(|err| format!("body: {err}"))
        };
        let body = tokio::time::timeout(FETCH_TIMEOUT, fetch)
            .await
            .map_err(|_| format!("no answer within {FETCH_TIMEOUT:?}"))??;
        let document: KeysDocument =
            serde_json::from_slice(&body).map_err(|err| format!("document: {err}"))?;
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
            return Err("the document holds no key".into());
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

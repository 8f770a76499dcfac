//! A local stand-in for GitHub's secret-scanning signer: an ECDSA P-256 key pair, the keys
//! document GitHub publishes (`{"public_keys": [{"key_identifier", "key", "is_current"}]}`),
//! served over HTTP, and reports signed as GitHub signs them (base64 of the DER signature over
//! the raw body). `scripts/dev` serves one so that reports can be sent locally; the tests make
//! their own, and rotate them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use base64::Engine;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

pub struct Signer {
    pub identifier: String,
    key_pair: EcdsaKeyPair,
}

impl Signer {
    pub fn generate(identifier: &str) -> Self {
        let key_pair =
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("a P-256 key pair");
        Self {
            identifier: identifier.to_owned(),
            key_pair,
        }
    }

    /// From a PKCS#8 PEM file (`-----BEGIN PRIVATE KEY-----`, as `openssl genpkey` writes),
    /// created with a new key pair if absent: `scripts/dev`'s signer survives restarts.
    pub fn from_file(identifier: &str, path: &std::path::Path) -> Result<Self, lambda_http::Error> {
        if !path.exists() {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(
                &ECDSA_P256_SHA256_ASN1_SIGNING,
                &SystemRandom::new(),
            )?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, pem("PRIVATE KEY", pkcs8.as_ref()))?;
        }
        let text = std::fs::read_to_string(path)?;
        let base64: String = text
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD.decode(base64.trim())?;
        let key_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der)
            .map_err(|err| format!("{}: not a P-256 PKCS#8 key: {err}", path.display()))?;
        Ok(Self {
            identifier: identifier.to_owned(),
            key_pair,
        })
    }

    /// The public key as GitHub publishes it: PEM of the DER `SubjectPublicKeyInfo`.
    pub fn public_key_pem(&self) -> String {
        let der = self
            .key_pair
            .public_key()
            .as_der()
            .expect("an X.509 public key");
        pem("PUBLIC KEY", der.as_ref())
    }

    /// The `Github-Public-Key-Signature` header of `body`.
    pub fn sign(&self, body: &[u8]) -> String {
        let signature = self
            .key_pair
            .sign(&SystemRandom::new(), body)
            .expect("a signature");
        base64::engine::general_purpose::STANDARD.encode(signature.as_ref())
    }

    /// This key's entry of the keys document.
    pub fn published(&self, is_current: bool) -> Value {
        json!({ "key_identifier": self.identifier, "key": self.public_key_pem(), "is_current": is_current })
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let base64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = base64
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// What the keys server answers, changeable while it runs.
#[derive(Default)]
pub struct KeysState {
    pub document: Value,
    /// When true, it answers 503, as an unreachable key service would be to the function.
    pub down: bool,
    /// After this many fetches it answers 403 "rate limit exceeded", as GitHub does to an
    /// address or token past its limit.
    pub refuse_after: Option<usize>,
    /// How many times the document was asked for.
    pub fetches: usize,
    /// Each fetch's `Authorization` header, if it had one.
    pub authorizations: Vec<Option<String>>,
}

/// Serves a keys document on a loopback port until the task is dropped.
pub struct KeysServer {
    pub url: String,
    pub state: Arc<Mutex<KeysState>>,
}

impl KeysServer {
    pub async fn start(document: Value) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("a loopback port");
        let address: SocketAddr = listener.local_addr().expect("its address");
        let state = Arc::new(Mutex::new(KeysState {
            document,
            ..Default::default()
        }));
        let serving = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |request: hyper::Request<hyper::body::Incoming>| {
                            let state = state.clone();
                            let authorization = request
                                .headers()
                                .get("authorization")
                                .and_then(|value| value.to_str().ok())
                                .map(str::to_owned);
                            async move {
                                Ok::<_, std::convert::Infallible>(answer(&state, authorization))
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            url: format!("http://{address}/meta/public_keys/secret_scanning"),
            state,
        }
    }

    pub fn publish(&self, document: Value) {
        self.state.lock().expect("keys state").document = document;
    }

    pub fn set_down(&self, down: bool) {
        self.state.lock().expect("keys state").down = down;
    }

    /// From now on, refuses every fetch after the `n`th (counting those already made).
    pub fn refuse_after(&self, n: usize) {
        self.state.lock().expect("keys state").refuse_after = Some(n);
    }

    pub fn fetches(&self) -> usize {
        self.state.lock().expect("keys state").fetches
    }

    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.state
            .lock()
            .expect("keys state")
            .authorizations
            .clone()
    }
}

fn answer(state: &Mutex<KeysState>, authorization: Option<String>) -> Response<Full<Bytes>> {
    let mut state = state.lock().expect("keys state");
    state.fetches += 1;
    state.authorizations.push(authorization);
    let refused = state.refuse_after.is_some_and(|n| state.fetches > n);
    let (status, body) = if state.down {
        (StatusCode::SERVICE_UNAVAILABLE, "{}".to_owned())
    } else if refused {
        (
            StatusCode::FORBIDDEN,
            json!({"message": "API rate limit exceeded"}).to_string(),
        )
    } else {
        (StatusCode::OK, state.document.to_string())
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// The keys document listing `signers`, the first one current.
pub fn keys_document(signers: &[&Signer]) -> Value {
    let keys: Vec<Value> = signers
        .iter()
        .enumerate()
        .map(|(index, signer)| signer.published(index == 0))
        .collect();
    json!({ "public_keys": keys })
}

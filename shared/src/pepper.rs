//! The server-side secret behind every stored key: the HMAC that turns a full key into the
//! [`KeyHash`] the table keeps, and the AES-256-GCM key that seals a full key into an
//! idempotency record for its one replay. A stolen table alone lets nobody test guesses offline.
//!
//! Keys carry 256 bits of entropy, so a slow password hash would add latency to every payment
//! without adding security: a keyed fast hash is the right tool (docs/api-keys-and-authorizer.md).
//!
//! The pepper comes from AWS Secrets Manager (`API_KEY_PEPPER_SECRET_ID`), fetched once at cold
//! start, or, for local runs only, from `API_KEY_PEPPER`.

use aws_config::SdkConfig;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::domain::key_format::KeyHash;
use crate::domain::Failure;

/// The shortest pepper accepted: 256 bits.
pub const MIN_PEPPER_BYTES: usize = 32;

/// The pepper, held as the HMAC state keyed with it (so each hash skips re-deriving the key
/// pads), which is as secret as the pepper itself: `Debug` redacts it, and with `hmac`'s and
/// `sha2`'s `zeroize` features the state, and every clone of it that hashes a key, is wiped when
/// dropped.
#[derive(Clone)]
pub struct Pepper {
    mac: Hmac<Sha256>,
    sealer: Sealer,
}

impl std::fmt::Debug for Pepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pepper(<redacted>)")
    }
}

impl Pepper {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            mac: Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length"),
            sealer: Sealer::new(&derive_key(secret, b"appkeys/idempotency-records/v1")),
        }
    }

    /// The keyed hash of a full key, as its lookup record is addressed. The key passes through
    /// the cloned state's buffer, which is wiped when it drops.
    pub fn hash(&self, full_key: &str) -> KeyHash {
        let mut mac = self.mac.clone();
        mac.update(full_key.as_bytes());
        KeyHash(mac.finalize().into_bytes().into())
    }

    /// What seals full keys into idempotency records: a key derived from the pepper, not the
    /// pepper itself.
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }
}

/// HKDF-SHA256 (RFC 5869) of the pepper, for one purpose (`info`): a key that is not the pepper
/// and tells nothing of it.
fn derive_key(secret: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    use aws_lc_rs::hkdf::{KeyType, Salt, HKDF_SHA256};
    struct ThirtyTwoBytes;
    impl KeyType for ThirtyTwoBytes {
        fn len(&self) -> usize {
            32
        }
    }
    let mut key = Zeroizing::new([0u8; 32]);
    let info = [info];
    Salt::new(HKDF_SHA256, &[])
        .extract(secret)
        .expand(&info, ThirtyTwoBytes)
        .and_then(|okm| okm.fill(key.as_mut()))
        .expect("HKDF-SHA256 gives 32 bytes (at most 255 × 32 may be asked)");
    key
}

/// AES-256-GCM under the key derived from the pepper, built once at start-up. A sealed value is
/// the nonce followed by the ciphertext and tag; what it is bound to (`place`) is its associated
/// data, so it opens nowhere else.
#[derive(Clone)]
pub struct Sealer(std::sync::Arc<LessSafeKey>);

impl Sealer {
    fn new(key: &[u8; 32]) -> Self {
        let key = UnboundKey::new(&AES_256_GCM, key).expect("32 bytes is an AES-256 key");
        Self(std::sync::Arc::new(LessSafeKey::new(key)))
    }

    pub fn seal(&self, place: &str, plaintext: &[u8]) -> Result<Vec<u8>, Failure> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|_| Failure::Backend("no randomness for a nonce".into()))?;
        let mut sealed = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(place.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| Failure::Backend("sealing failed".into()))?;
        let mut blob = nonce.to_vec();
        blob.append(&mut sealed);
        Ok(blob)
    }

    pub fn open(&self, place: &str, blob: &[u8]) -> Result<Zeroizing<String>, Failure> {
        let corrupt = || Failure::corrupt("a sealed secret does not open");
        if blob.len() < NONCE_LEN {
            return Err(corrupt());
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| corrupt())?;
        let mut sealed = Zeroizing::new(sealed.to_vec());
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(place.as_bytes()), &mut sealed)
            .map_err(|_| corrupt())?;
        String::from_utf8(plain.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| corrupt())
    }
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

/// Where the pepper comes from.
#[derive(Clone)]
pub enum PepperSource {
    SecretsManager {
        secret_id: String,
    },
    /// `API_KEY_PEPPER`, for local runs only (refused inside AWS Lambda), wiped when dropped.
    Inline(SecretSlice<u8>),
}

impl std::fmt::Debug for PepperSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SecretsManager { secret_id } => write!(f, "SecretsManager({secret_id})"),
            Self::Inline(_) => f.write_str("Inline(<redacted>)"),
        }
    }
}

#[derive(thiserror::Error)]
pub enum PepperError {
    #[error("could not read the API-key pepper from Secrets Manager secret `{secret_id}` (API_KEY_PEPPER_SECRET_ID): {reason}")]
    Unreadable { secret_id: String, reason: String },
    #[error("the API-key pepper in Secrets Manager secret `{secret_id}` (API_KEY_PEPPER_SECRET_ID) must be at least {MIN_PEPPER_BYTES} bytes")]
    TooShort { secret_id: String },
}

/// `main` returns start-up errors, and Rust prints those with `Debug`: make that the message.
impl std::fmt::Debug for PepperError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Fetches the pepper once, at cold start; it is held for the life of the instance. The copies
/// on the way (the secret's value in the SDK's output) are wiped as soon as the HMAC is keyed.
pub async fn load(sdk: &SdkConfig, source: &PepperSource) -> Result<Pepper, PepperError> {
    let secret_id = match source {
        PepperSource::Inline(secret) => return Ok(Pepper::new(secret.expose_secret())),
        PepperSource::SecretsManager { secret_id } => secret_id,
    };
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|err| PepperError::Unreadable {
            secret_id: secret_id.clone(),
            reason: aws_sdk_secretsmanager::error::DisplayErrorContext(err).to_string(),
        })?;
    let secret: Zeroizing<Vec<u8>> = match (output.secret_string, output.secret_binary) {
        (Some(text), _) => Zeroizing::new(text.into_bytes()),
        (None, Some(binary)) => Zeroizing::new(binary.into_inner()),
        (None, None) => {
            return Err(PepperError::Unreadable {
                secret_id: secret_id.clone(),
                reason: "the secret has no value".into(),
            })
        }
    };
    if secret.len() < MIN_PEPPER_BYTES {
        return Err(PepperError::TooShort {
            secret_id: secret_id.clone(),
        });
    }
    Ok(Pepper::new(&secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::key_format::{FullKey, KeyMode};

    #[test]
    fn hash_is_keyed_and_deterministic() {
        let key = FullKey::generate(KeyMode::Live);
        let a = Pepper::new(&[1u8; 32]);
        let b = Pepper::new(&[2u8; 32]);
        assert_eq!(a.hash(key.expose_secret()), a.hash(key.expose_secret()));
        assert_ne!(a.hash(key.expose_secret()), b.hash(key.expose_secret()));
        let other = FullKey::generate(KeyMode::Live);
        assert_ne!(a.hash(key.expose_secret()), a.hash(other.expose_secret()));
        assert_eq!(a.hash(key.expose_secret()).to_hex().len(), 64);
    }

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let key = FullKey::generate(KeyMode::Live);
        let pepper = Pepper::new(b"a pepper that must never be printed");
        let printed = format!(
            "{key:?} {pepper:?} {:?} {:?}",
            pepper.hash(key.expose_secret()),
            pepper.sealer()
        );
        assert!(!printed.contains(key.expose_secret()));
        assert!(!printed.contains(&key.expose_secret()[12..20]));
        assert!(!printed.contains("never be printed"));
        assert!(!printed.contains(&pepper.hash(key.expose_secret()).to_hex()));
        assert!(
            printed.contains(key.display_prefix()),
            "Debug shows the loggable prefix"
        );
    }

    /// The secret state is wiped when dropped: these bounds do not hold without the `zeroize`
    /// features of `secrecy`, `sha2` and `hmac` (the build fails).
    #[test]
    fn secret_state_is_zeroized_on_drop() {
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop + ?Sized>() {}
        wiped_on_drop::<secrecy::SecretString>();
        // The HMAC state is two SHA-256 cores and a block buffer; each wipes itself.
        wiped_on_drop::<<Sha256 as sha2::digest::block_api::CoreProxy>::Core>();
        wiped_on_drop::<hmac::digest::CtOutput<Hmac<Sha256>>>();
    }

    #[test]
    fn a_sealed_key_opens_only_with_its_pepper_and_in_its_place() {
        let pepper = Pepper::new(&[7u8; 32]);
        let sealer = pepper.sealer();
        let sealed = sealer.seal("IDEMPOTENCY#a#b", b"ks_live_secret").unwrap();
        assert!(
            !sealed.windows(8).any(|w| w == b"ks_live_"),
            "the key is not in the clear"
        );
        assert_eq!(
            sealer.open("IDEMPOTENCY#a#b", &sealed).unwrap().as_str(),
            "ks_live_secret"
        );
        assert!(Pepper::new(&[8u8; 32])
            .sealer()
            .open("IDEMPOTENCY#a#b", &sealed)
            .is_err());
        assert!(sealer.open("IDEMPOTENCY#a#c", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN] ^= 1;
        assert!(sealer.open("IDEMPOTENCY#a#b", &tampered).is_err());
    }
}

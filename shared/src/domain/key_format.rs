//! The API-key format: `ks_<mode>_` + 43 base62 characters (256 bits from the OS CSPRNG) + a
//! 6-character base62 CRC32 of everything before it.
//!
//! The checksum lets the authorizer reject a mistyped or made-up key without a database read.
//! Keys are stored only as their [`KeyHash`], an HMAC-SHA256 under a server-side pepper
//! (`crate::pepper`).

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const SECRET_BYTES: usize = 32;
/// ceil(256 / log2(62)): every 32-byte value fits in 43 base62 digits.
pub const BODY_LEN: usize = 43;
/// ceil(32 / log2(62)).
pub const CHECKSUM_LEN: usize = 6;
pub const MODE_PREFIX_LEN: usize = 8; // "ks_live_" / "ks_test_"
pub const KEY_LEN: usize = MODE_PREFIX_LEN + BODY_LEN + CHECKSUM_LEN;
/// `keyPrefix`, as the guide shows it: the first 12 characters of the full key.
pub const DISPLAY_PREFIX_LEN: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    Live,
    Test,
}

impl KeyMode {
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Live => "ks_live_",
            Self::Test => "ks_test_",
        }
    }
}

/// Why a presented key was rejected before any I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("wrong_prefix")]
    WrongPrefix,
    #[error("wrong_length")]
    WrongLength,
    #[error("bad_alphabet")]
    BadAlphabet,
    #[error("bad_checksum")]
    BadChecksum,
}

impl KeyFormatError {
    pub fn reason(self) -> &'static str {
        match self {
            Self::WrongPrefix => "wrong_prefix",
            Self::WrongLength => "wrong_length",
            Self::BadAlphabet => "bad_alphabet",
            Self::BadChecksum => "bad_checksum",
        }
    }
}

/// A freshly generated key. Shown to the merchant once, never stored, never logged: it lives in
/// a secrecy box that redacts it from `Debug` (which shows the loggable prefix only) and wipes it
/// from memory when dropped. Reading it takes an explicit [`FullKey::expose_secret`].
#[derive(Clone)]
pub struct FullKey(SecretString);

impl std::fmt::Debug for FullKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FullKey({}…)", self.display_prefix())
    }
}

/// The one place the key leaves its box: the create-key response body.
impl serde::Serialize for FullKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose_secret())
    }
}

impl FullKey {
    pub fn generate(mode: KeyMode) -> Self {
        let mut secret = Zeroizing::new([0u8; SECRET_BYTES]);
        // The OS CSPRNG failing is not a condition a key service can continue through.
        getrandom::fill(secret.as_mut()).expect("the operating system's CSPRNG is unavailable");
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key[..MODE_PREFIX_LEN].copy_from_slice(mode.prefix().as_bytes());
        encode_base62(
            secret.as_mut(),
            &mut key[MODE_PREFIX_LEN..MODE_PREFIX_LEN + BODY_LEN],
        );
        let checksum = crc32fast::hash(&key[..MODE_PREFIX_LEN + BODY_LEN]);
        encode_base62(
            &mut checksum.to_be_bytes(),
            &mut key[MODE_PREFIX_LEN + BODY_LEN..],
        );
        let text = std::str::from_utf8(key.as_ref()).expect("base62 output is ASCII");
        Self(SecretString::from(text))
    }

    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn display_prefix(&self) -> &str {
        &self.expose_secret()[..DISPLAY_PREFIX_LEN]
    }
}

/// Checks prefix, length, alphabet and checksum of a presented key without allocating.
/// Returns the key unchanged when it is well formed.
pub fn check_format(candidate: &str, mode: KeyMode) -> Result<&str, KeyFormatError> {
    let bytes = candidate.as_bytes();
    if !bytes.starts_with(mode.prefix().as_bytes()) {
        return Err(KeyFormatError::WrongPrefix);
    }
    if bytes.len() != KEY_LEN {
        return Err(KeyFormatError::WrongLength);
    }
    if !bytes[MODE_PREFIX_LEN..]
        .iter()
        .all(u8::is_ascii_alphanumeric)
    {
        return Err(KeyFormatError::BadAlphabet);
    }
    let mut expected = [0u8; CHECKSUM_LEN];
    encode_base62(
        &mut crc32fast::hash(&bytes[..MODE_PREFIX_LEN + BODY_LEN]).to_be_bytes(),
        &mut expected,
    );
    if bytes[MODE_PREFIX_LEN + BODY_LEN..] != expected {
        return Err(KeyFormatError::BadChecksum);
    }
    Ok(candidate)
}

/// The first 12 characters of a presented key, safe to log (it is what the merchant sees in the
/// dashboard). Returns `None` for input that is not even shaped like a key.
pub fn loggable_prefix(candidate: &str) -> Option<&str> {
    candidate
        .get(..DISPLAY_PREFIX_LEN)
        .filter(|p| p.starts_with("ks_"))
}

/// Writes `number` (big-endian) as exactly `out.len()` base62 digits, most significant first.
/// Fixed width keeps every key the same length. Consumes `number` as scratch space.
fn encode_base62(number: &mut [u8], out: &mut [u8]) {
    for digit in out.iter_mut().rev() {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let accumulator = (remainder << 8) | u32::from(*byte);
            *byte = (accumulator / 62) as u8;
            remainder = accumulator % 62;
        }
        *digit = ALPHABET[remainder as usize];
    }
}

/// HMAC-SHA256 of a full key under the pepper (`crate::pepper`): what the table keeps of a key,
/// and the address of its lookup record.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyHash(pub [u8; 32]);

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHash(<redacted>)")
    }
}

impl KeyHash {
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// The hash as [`KeyHash::to_hex`] wrote it; `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape() {
        for mode in [KeyMode::Live, KeyMode::Test] {
            let key = FullKey::generate(mode);
            let s = key.expose_secret();
            assert_eq!(s.len(), KEY_LEN);
            assert_eq!(KEY_LEN, 57);
            assert!(s.starts_with(mode.prefix()));
            assert!(s[MODE_PREFIX_LEN..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(key.display_prefix(), &s[..12]);
            assert_eq!(check_format(s, mode), Ok(s));
        }
    }

    #[test]
    fn keys_are_unique() {
        let keys: std::collections::HashSet<String> = (0..10_000)
            .map(|_| FullKey::generate(KeyMode::Live).expose_secret().to_owned())
            .collect();
        assert_eq!(keys.len(), 10_000);
    }

    #[test]
    fn every_base62_digit_appears_in_bodies() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let key = FullKey::generate(KeyMode::Live);
            seen.extend(key.expose_secret()[MODE_PREFIX_LEN..MODE_PREFIX_LEN + BODY_LEN].bytes());
        }
        assert_eq!(seen.len(), 62, "the body should use the whole alphabet");
    }

    #[test]
    fn checksum_rejects_any_single_character_change() {
        let key = FullKey::generate(KeyMode::Live).expose_secret().to_owned();
        for position in MODE_PREFIX_LEN..KEY_LEN {
            for &replacement in ALPHABET {
                let mut altered = key.clone().into_bytes();
                if altered[position] == replacement {
                    continue;
                }
                altered[position] = replacement;
                let altered = String::from_utf8(altered).unwrap();
                assert_eq!(
                    check_format(&altered, KeyMode::Live),
                    Err(KeyFormatError::BadChecksum),
                    "change at {position} to {} was accepted",
                    replacement as char
                );
            }
        }
    }

    #[test]
    fn malformed_keys_are_classified() {
        let key = FullKey::generate(KeyMode::Live).expose_secret().to_owned();
        assert_eq!(
            check_format(&key, KeyMode::Test),
            Err(KeyFormatError::WrongPrefix)
        );
        assert_eq!(
            check_format("sk_live_abc", KeyMode::Live),
            Err(KeyFormatError::WrongPrefix)
        );
        assert_eq!(
            check_format(&key[..KEY_LEN - 1], KeyMode::Live),
            Err(KeyFormatError::WrongLength)
        );
        assert_eq!(
            check_format(&format!("{key}0"), KeyMode::Live),
            Err(KeyFormatError::WrongLength)
        );
        let mut bad = key.clone().into_bytes();
        bad[20] = b'-';
        assert_eq!(
            check_format(std::str::from_utf8(&bad).unwrap(), KeyMode::Live),
            Err(KeyFormatError::BadAlphabet)
        );
        let multibyte = format!("ks_live_{}é{}", &key[8..49], &key[51..]);
        assert_eq!(multibyte.len(), KEY_LEN);
        assert_eq!(
            check_format(&multibyte, KeyMode::Live),
            Err(KeyFormatError::BadAlphabet)
        );
    }

    #[test]
    fn fixed_width_base62_matches_known_values() {
        let mut out = [0u8; 6];
        encode_base62(&mut 0u32.to_be_bytes(), &mut out);
        assert_eq!(&out, b"000000");
        encode_base62(&mut 61u32.to_be_bytes(), &mut out);
        assert_eq!(&out, b"00000z");
        encode_base62(&mut 62u32.to_be_bytes(), &mut out);
        assert_eq!(&out, b"000010");
        encode_base62(&mut u32::MAX.to_be_bytes(), &mut out);
        assert_eq!(&out, b"4gfFC3"); // 4294967295 in base62
        let mut body = [0u8; BODY_LEN];
        encode_base62(&mut [0xFF; 32], &mut body);
        assert_ne!(body[0], b'0', "the largest secret needs all 43 digits");
    }
}

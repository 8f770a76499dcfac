//! The edge's shared secret. With the optional edge protection (CloudFront with AWS WAF's per-IP
//! rate rules in front of the HTTP API), CloudFront adds this header to every request it
//! forwards; the payment authorizer and the report function then refuse calls without it, so that
//! no call reaches their work without having passed the edge's rules.

use secrecy::{ExposeSecret, SecretString};

/// The header CloudFront adds (its origin custom header).
pub const HEADER: &str = "x-origin-verify";

#[derive(Clone)]
pub struct OriginLock(SecretString);

impl std::fmt::Debug for OriginLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OriginLock(<redacted>)")
    }
}

impl OriginLock {
    pub fn new(secret: SecretString) -> Self {
        Self(secret)
    }

    /// Whether the header's value is the secret, compared in time independent of where they
    /// differ.
    pub fn admits(&self, presented: Option<&str>) -> bool {
        let expected = self.0.expose_secret().as_bytes();
        let Some(presented) = presented.map(str::as_bytes) else {
            return false;
        };
        if presented.len() != expected.len() {
            return false;
        }
        presented
            .iter()
            .zip(expected)
            .fold(0u8, |differ, (a, b)| differ | (a ^ b))
            == 0
    }
}

/// Without a lock every call is admitted; with one, only those that carry its secret.
pub fn admits(lock: Option<&OriginLock>, presented: Option<&str>) -> bool {
    lock.is_none_or(|lock| lock.admits(presented))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_secret_itself_is_admitted() {
        let lock = OriginLock::new(SecretString::from("s3cret-value"));
        assert!(lock.admits(Some("s3cret-value")));
        for wrong in [
            None,
            Some(""),
            Some("s3cret-valuE"),
            Some("s3cret-value "),
            Some("s3cret"),
        ] {
            assert!(!lock.admits(wrong), "{wrong:?}");
        }
        assert!(admits(None, None));
        assert!(!admits(Some(&lock), None));
        assert!(!format!("{lock:?}").contains("s3cret"));
    }
}

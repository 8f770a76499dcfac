//! Configuration, read and validated once when a function starts.
//!
//! A missing or malformed variable fails start with a message naming it, so a bad deployment is
//! caught by the first cold start instead of by the first merchant request.

use crate::domain::key_format::KeyMode;
use crate::domain::limits::{
    Limits, MAX_APPLICATIONS_PER_MERCHANT_RANGE, MAX_KEYS_PER_APPLICATION_RANGE,
};
use crate::domain::permissions::PaymentResources;
use crate::pepper::{PepperSource, MIN_PEPPER_BYTES};

// What each variable accepts. The SAM template's parameters carry the same bounds (MinValue,
// MaxValue, AllowedValues, AllowedPattern; a deployment test compares them), so that a stack
// cannot deploy a value every function would then refuse at cold start.
pub const KEY_MODES: [&str; 2] = ["live", "test"];
/// 1 to 256 printable ASCII characters without spaces: `merchant_id`, `custom:merchant_id`,
/// `https://example.com/merchant_id` (a namespaced claim).
pub const MERCHANT_CLAIM_PATTERN: &str = "^[!-~]{1,256}$";

fn is_claim_name(name: &str) -> bool {
    (1..=256).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_graphic())
}

#[derive(thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("configuration: {name} is required but not set")]
    Missing { name: &'static str },
    #[error("configuration: {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// `main` returns start-up errors, and Rust prints those with `Debug`: make that the message.
impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table_name: String,
    pub merchant_claim: String,
    pub limits: Limits,
    pub key_mode: KeyMode,
    /// The payment API's resources that restricted keys name (`PAYMENT_RESOURCES`).
    pub payment_resources: PaymentResources,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so that tests can supply variables without touching
    /// the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(&lookup);
        let table_name = vars.required("TABLE_NAME")?;
        let merchant_claim = vars
            .optional("MERCHANT_CLAIM")
            .unwrap_or_else(|| "merchant_id".into());
        if !is_claim_name(&merchant_claim) {
            return Err(ConfigError::Invalid {
                name: "MERCHANT_CLAIM",
                reason: "expected 1 to 256 printable ASCII characters without spaces".into(),
            });
        }
        let defaults = Limits::default();
        let max_keys_per_application = vars.number(
            "MAX_KEYS_PER_APPLICATION",
            defaults.max_keys_per_application,
            MAX_KEYS_PER_APPLICATION_RANGE,
        )?;
        let max_applications_per_merchant = vars.number(
            "MAX_APPLICATIONS_PER_MERCHANT",
            defaults.max_applications_per_merchant,
            MAX_APPLICATIONS_PER_MERCHANT_RANGE,
        )?;
        let key_mode = match vars.optional("KEY_MODE").as_deref() {
            None | Some("live") => KeyMode::Live,
            Some("test") => KeyMode::Test,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "KEY_MODE",
                    reason: format!("expected `live` or `test`, got `{other}`"),
                })
            }
        };
        let payment_resources = match vars.optional("PAYMENT_RESOURCES") {
            None => PaymentResources::default(),
            Some(list) => {
                PaymentResources::parse(&list).map_err(|reason| ConfigError::Invalid {
                    name: "PAYMENT_RESOURCES",
                    reason,
                })?
            }
        };
        Ok(Self {
            table_name,
            merchant_claim,
            limits: Limits {
                max_keys_per_application,
                max_applications_per_merchant,
            },
            key_mode,
            payment_resources,
        })
    }
}

/// Where the pepper comes from: `API_KEY_PEPPER_SECRET_ID`, or `API_KEY_PEPPER`, which is for local
/// runs: inside AWS Lambda (where the runtime always sets
/// `AWS_LAMBDA_FUNCTION_NAME`) a pepper in an environment variable would sit in plain text in
/// the function's configuration, readable by anyone who may read it, so it is refused.
pub fn pepper_source(lookup: impl Fn(&str) -> Option<String>) -> Result<PepperSource, ConfigError> {
    let vars = Vars(&lookup);
    if vars.optional("API_KEY_PEPPER").is_some()
        && vars.optional("AWS_LAMBDA_FUNCTION_NAME").is_some()
    {
        return Err(ConfigError::Invalid {
            name: "API_KEY_PEPPER",
            reason: "is for local runs only and is refused inside AWS Lambda (AWS_LAMBDA_FUNCTION_NAME is set): keep the pepper in Secrets Manager and set API_KEY_PEPPER_SECRET_ID".into(),
        });
    }
    match (
        vars.optional("API_KEY_PEPPER_SECRET_ID"),
        vars.optional("API_KEY_PEPPER"),
    ) {
        (Some(_), Some(_)) => Err(ConfigError::Invalid {
            name: "API_KEY_PEPPER",
            reason: "set either API_KEY_PEPPER_SECRET_ID or API_KEY_PEPPER (local runs), not both"
                .into(),
        }),
        (Some(secret_id), None) => Ok(PepperSource::SecretsManager { secret_id }),
        (None, Some(pepper)) if pepper.len() < MIN_PEPPER_BYTES => Err(ConfigError::Invalid {
            name: "API_KEY_PEPPER",
            reason: format!("must be at least {MIN_PEPPER_BYTES} bytes"),
        }),
        (None, Some(pepper)) => Ok(PepperSource::Inline(pepper.into_bytes().into())),
        (None, None) => Err(ConfigError::Missing {
            name: "API_KEY_PEPPER_SECRET_ID",
        }),
    }
}

/// A variable a function cannot start without (empty counts as unset), e.g. the event
/// publisher's `EVENT_BUS_NAME`.
pub fn required_env(name: &'static str) -> Result<String, ConfigError> {
    Vars(&|name: &str| std::env::var(name).ok()).required(name)
}

/// Where GitHub publishes its secret-scanning signing keys.
pub const KEYS_URL_DEFAULT: &str = "https://api.github.com/meta/public_keys/secret_scanning";

/// `SECRET_SCANNING_KEYS_URL`, GitHub's by default: `https://`, or `http://` to a loopback host
/// (a local signer; a report's authenticity must never hang on an unencrypted fetch).
pub fn secret_scanning_keys_url(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    const NAME: &str = "SECRET_SCANNING_KEYS_URL";
    let Some(url) = Vars(&lookup).optional(NAME) else {
        return Ok(KEYS_URL_DEFAULT.to_owned());
    };
    let url = url.trim().to_owned();
    // Parsed, not matched by prefix: `http://localhost:@keys.example/` is keys.example. No user
    // information at all: a keys URL has no use for it.
    let parsed: Option<lambda_http::http::Uri> = url.parse().ok();
    let allowed = parsed.as_ref().is_some_and(|uri| {
        let Some(authority) = uri.authority() else {
            return false;
        };
        let loopback = matches!(authority.host(), "127.0.0.1" | "localhost" | "[::1]");
        !authority.as_str().contains('@')
            && match uri.scheme_str() {
                Some("https") => true,
                Some("http") => loopback,
                _ => false,
            }
    });
    if allowed {
        Ok(url)
    } else {
        Err(ConfigError::Invalid {
            name: NAME,
            reason: "must be an https:// URL (or http:// to 127.0.0.1 or localhost)".into(),
        })
    }
}

struct Vars<'a, F: Fn(&str) -> Option<String>>(&'a F);

impl<F: Fn(&str) -> Option<String>> Vars<'_, F> {
    /// An empty variable counts as unset: SAM and shells both produce them for "no value".
    fn optional(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|value| !value.trim().is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing { name })
    }

    fn number(
        &self,
        name: &'static str,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<u32, ConfigError> {
        let Some(raw) = self.optional(name) else {
            return Ok(default);
        };
        match raw.trim().parse::<u32>() {
            Ok(value) if range.contains(&value) => Ok(value),
            _ => Err(ConfigError::Invalid {
                name,
                reason: format!(
                    "expected a whole number from {} to {}, got `{raw}`",
                    range.start(),
                    range.end()
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn defaults_apply_when_only_the_table_is_set() {
        let config = Config::from_lookup(lookup(&[("TABLE_NAME", "t")])).unwrap();
        assert_eq!(config.table_name, "t");
        assert_eq!(config.merchant_claim, "merchant_id");
        assert_eq!(config.limits, Limits::default());
        assert_eq!(config.key_mode, KeyMode::Live);
    }

    #[test]
    fn the_keys_url_is_githubs_https_or_a_loopback_signer() {
        let url =
            |value: &str| secret_scanning_keys_url(lookup(&[("SECRET_SCANNING_KEYS_URL", value)]));
        assert_eq!(
            secret_scanning_keys_url(lookup(&[])).unwrap(),
            "https://api.github.com/meta/public_keys/secret_scanning"
        );
        assert_eq!(url("").unwrap(), KEYS_URL_DEFAULT);
        for good in [
            "https://keys.example/secret",
            "http://127.0.0.1:8123/keys",
            "http://localhost:9/k",
            "http://[::1]:8080/k",
            "http://127.0.0.1/k",
        ] {
            assert_eq!(url(good).unwrap(), good);
        }
        for bad in [
            "http://keys.example/k",
            "http://127.0.0.1.evil.example/k",
            "http://localhost:@keys.example/k",
            "http://127.0.0.1@keys.example/k",
            "https://user:pass@keys.example/k",
            "ftp://x",
            "keys",
        ] {
            let err = url(bad).unwrap_err();
            assert!(
                err.to_string().contains("SECRET_SCANNING_KEYS_URL"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn missing_table_name_is_named() {
        let err = Config::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(err, ConfigError::Missing { name: "TABLE_NAME" });
        assert!(err.to_string().contains("TABLE_NAME"));
    }

    #[test]
    fn bad_values_are_named() {
        for (name, value) in [
            ("MAX_KEYS_PER_APPLICATION", "0"),
            ("MAX_KEYS_PER_APPLICATION", "49"),
            ("MAX_KEYS_PER_APPLICATION", "ten"),
            ("MAX_APPLICATIONS_PER_MERCHANT", "-1"),
            ("MAX_APPLICATIONS_PER_MERCHANT", "1000001"),
            ("KEY_MODE", "prod"),
            ("MERCHANT_CLAIM", "merchant id"),
            ("MERCHANT_CLAIM", &"c".repeat(257)),
            ("PAYMENT_RESOURCES", "charges,Refunds"),
            ("PAYMENT_RESOURCES", "charges,charges"),
            ("PAYMENT_RESOURCES", "charges,"),
        ] {
            let err =
                Config::from_lookup(lookup(&[("TABLE_NAME", "t"), (name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{err} should name {name}");
        }
    }

    #[test]
    fn overrides_are_read() {
        let config = Config::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("MERCHANT_CLAIM", "custom:merchant"),
            ("MAX_KEYS_PER_APPLICATION", "3"),
            ("MAX_APPLICATIONS_PER_MERCHANT", "7"),
            ("KEY_MODE", "test"),
            ("PAYMENT_RESOURCES", "payouts, charges"),
        ]))
        .unwrap();
        assert_eq!(config.payment_resources.names(), ["charges", "payouts"]);
        assert_eq!(config.merchant_claim, "custom:merchant");
        assert_eq!(
            config.limits,
            Limits {
                max_keys_per_application: 3,
                max_applications_per_merchant: 7
            }
        );
        assert_eq!(config.key_mode, KeyMode::Test);
    }

    #[test]
    fn pepper_source_rules() {
        use secrecy::ExposeSecret;
        let long = "p".repeat(MIN_PEPPER_BYTES);
        assert_eq!(
            pepper_source(lookup(&[])).unwrap_err(),
            ConfigError::Missing {
                name: "API_KEY_PEPPER_SECRET_ID"
            }
        );
        assert!(matches!(
            pepper_source(lookup(&[("API_KEY_PEPPER_SECRET_ID", "s")])).unwrap(),
            PepperSource::SecretsManager { secret_id } if secret_id == "s"
        ));
        match pepper_source(lookup(&[("API_KEY_PEPPER", &long)])).unwrap() {
            PepperSource::Inline(pepper) => assert_eq!(pepper.expose_secret(), long.as_bytes()),
            other => panic!("{other:?}"),
        }
        let short = pepper_source(lookup(&[("API_KEY_PEPPER", "short")])).unwrap_err();
        assert!(short.to_string().contains("API_KEY_PEPPER"));
        let both = pepper_source(lookup(&[
            ("API_KEY_PEPPER", &long),
            ("API_KEY_PEPPER_SECRET_ID", "s"),
        ]));
        assert!(both.is_err());
        assert!(!format!(
            "{:?}",
            PepperSource::Inline(long.clone().into_bytes().into())
        )
        .contains("ppp"));
    }

    #[test]
    fn a_local_pepper_is_refused_inside_lambda() {
        let long = "p".repeat(MIN_PEPPER_BYTES);
        let err = pepper_source(lookup(&[
            ("API_KEY_PEPPER", &long),
            ("AWS_LAMBDA_FUNCTION_NAME", "authorizer"),
        ]))
        .unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("API_KEY_PEPPER") && message.contains("AWS_LAMBDA_FUNCTION_NAME"),
            "{message}"
        );
        assert!(!message.contains("ppp"), "the pepper is not echoed");
        // Inside Lambda the secret is the way.
        assert!(pepper_source(lookup(&[
            ("API_KEY_PEPPER_SECRET_ID", "s"),
            ("AWS_LAMBDA_FUNCTION_NAME", "authorizer"),
        ]))
        .is_ok());
    }
}

//! AWS SDK set-up shared by every function: bounded timeouts and retries, and the pepper.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::api_key::Pepper;
use crate::config::{PepperSource, MIN_PEPPER_BYTES};
use crate::failure::Failure;

/// How long a function may wait on AWS before giving up, and the Lambda timeout that fits it.
/// The authorizer runs on the payment path and must fail closed quickly: a dead endpoint costs
/// it at most about two seconds.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub connect: Duration,
    pub attempt: Duration,
    /// One SDK operation, all its attempts and back-off included.
    pub operation: Duration,
    pub max_attempts: u32,
    /// The function's `Timeout` in `infra/template.yaml` (a test checks they are equal): longer
    /// than one whole operation, so that a slow-but-successful call still answers. A store
    /// operation may issue several SDK operations in sequence; handlers therefore stop at their
    /// own [`crate::deadline::Deadline`], a margin before this, and answer 503 themselves.
    pub function_timeout: Duration,
}

impl Budget {
    pub const AUTHORIZER: Self = Self {
        connect: Duration::from_millis(300),
        attempt: Duration::from_millis(800),
        operation: Duration::from_millis(1800),
        max_attempts: 2,
        function_timeout: Duration::from_secs(3),
    };
    pub const MANAGEMENT: Self = Self {
        connect: Duration::from_secs(1),
        attempt: Duration::from_secs(3),
        operation: Duration::from_secs(8),
        max_attempts: 3,
        function_timeout: Duration::from_secs(12),
    };

    /// The budget a function binary runs with: the authorizer's, or the management one.
    pub fn of_function(function: &str) -> Self {
        if function == crate::routes::AUTHORIZER_FUNCTION {
            Self::AUTHORIZER
        } else {
            Self::MANAGEMENT
        }
    }
}

/// Loads region, credentials and endpoint overrides (`AWS_ENDPOINT_URL`,
/// `AWS_ENDPOINT_URL_DYNAMODB`, …) the way every AWS SDK does, with `budget` applied.
pub async fn sdk_config(budget: Budget) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(budget.connect)
                .operation_attempt_timeout(budget.attempt)
                .operation_timeout(budget.operation)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(budget.max_attempts))
        .load()
        .await
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
pub async fn load_pepper(sdk: &SdkConfig, source: &PepperSource) -> Result<Pepper, PepperError> {
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

/// The pepper as configured in the environment (`API_KEY_PEPPER_SECRET_ID`, or `API_KEY_PEPPER`
/// for local runs), for a function's start-up.
pub async fn pepper_from_env(sdk: &SdkConfig) -> Result<Pepper, Failure> {
    let source = PepperSource::from_env()?;
    Ok(load_pepper(sdk, &source).await?)
}

#[cfg(feature = "test-util")]
pub use request_counter::RequestCounter;

#[cfg(feature = "test-util")]
mod request_counter {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use aws_config::SdkConfig;
    use aws_smithy_runtime_api::client::orchestrator::Metadata;

    /// Counts the HTTP requests a client sends (retries included), in all and by operation, so
    /// tests and benchmarks can prove how many DynamoDB calls a path makes.
    #[derive(Debug, Clone, Default)]
    pub struct RequestCounter {
        all: Arc<AtomicUsize>,
        by_operation: Arc<Mutex<HashMap<String, usize>>>,
    }

    impl RequestCounter {
        pub fn count(&self) -> usize {
            self.all.load(Ordering::SeqCst)
        }

        /// The requests of one operation (`"GetItem"`, `"TransactWriteItems"`, …).
        pub fn count_of(&self, operation: &str) -> usize {
            self.by_operation
                .lock()
                .map(|counts| counts.get(operation).copied().unwrap_or(0))
                .unwrap_or(0)
        }

        /// A DynamoDB client like `Client::new(sdk)` whose requests this counter counts.
        pub fn dynamodb_client(&self, sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
            let config = aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(self.clone())
                .build();
            aws_sdk_dynamodb::Client::from_conf(config)
        }
    }

    impl aws_sdk_dynamodb::config::Intercept for RequestCounter {
        fn name(&self) -> &'static str {
            "RequestCounter"
        }

        fn read_before_transmit(
            &self,
            _context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<
                '_,
            >,
            _components: &aws_sdk_dynamodb::config::RuntimeComponents,
            cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
        ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
            self.all.fetch_add(1, Ordering::SeqCst);
            if let (Some(metadata), Ok(mut counts)) =
                (cfg.load::<Metadata>(), self.by_operation.lock())
            {
                *counts.entry(metadata.name().to_owned()).or_default() += 1;
            }
            Ok(())
        }
    }
}

/// The AWS services this project calls, with the variable that overrides each one's endpoint.
const SERVICE_ENDPOINT_VARIABLES: [(&str, &str); 2] = [
    ("DynamoDB", "AWS_ENDPOINT_URL_DYNAMODB"),
    ("Secrets Manager", "AWS_ENDPOINT_URL_SECRETS_MANAGER"),
];

/// The services whose requests would leave this machine, judging by the environment the SDK
/// reads: a service's own `AWS_ENDPOINT_URL_<SERVICE>` first, then `AWS_ENDPOINT_URL`, unless
/// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true; without either, the real AWS endpoint
/// (<https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html>). An endpoint
/// set only in a shared config file counts as remote: the answer errs on the safe side.
pub fn remote_services(lookup: impl Fn(&str) -> Option<String>) -> Vec<&'static str> {
    let set = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
    let ignored = set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
    SERVICE_ENDPOINT_VARIABLES
        .iter()
        .filter(|(_, variable)| {
            let endpoint = (!ignored)
                .then(|| set(variable).or_else(|| set("AWS_ENDPOINT_URL")))
                .flatten();
            !endpoint.is_some_and(|url| is_loopback_url(&url))
        })
        .map(|(service, _)| *service)
        .collect()
}

/// `http(s)://` to `localhost`, `127.0.0.0/8` or `[::1]`: an endpoint on this machine.
pub fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((host, after)) if after.is_empty() || after.starts_with(':') => host,
            _ => return false,
        },
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::ANSWER_MARGIN;

    #[test]
    fn a_whole_sdk_operation_and_the_answer_margin_fit_in_the_function_timeout() {
        for budget in [Budget::AUTHORIZER, Budget::MANAGEMENT] {
            assert!(budget.attempt <= budget.operation, "{budget:?}");
            assert!(
                budget.operation + ANSWER_MARGIN < budget.function_timeout,
                "{budget:?}"
            );
        }
    }

    #[test]
    fn loopback_urls() {
        for local in [
            "http://127.0.0.1:4566",
            "http://127.0.0.1",
            "http://127.1.2.3:80/",
            "https://localhost:4566",
            "http://LOCALHOST",
            "http://[::1]:4566",
        ] {
            assert!(is_loopback_url(local), "{local}");
        }
        for remote in [
            "https://dynamodb.us-east-1.amazonaws.com",
            "http://10.0.0.1:4566",
            "http://127.0.0.1.example.com:4566",
            "http://localhost.example.com",
            "http://user@evil.example@127.0.0.1",
            "127.0.0.1:4566",
            "http://[::2]:4566",
            "",
        ] {
            assert!(!is_loopback_url(remote), "{remote}");
        }
    }

    #[test]
    fn remote_services_follow_the_sdk_precedence() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let all = vec!["DynamoDB", "Secrets Manager"];
        assert_eq!(remote_services(env(&[])), all);
        assert!(remote_services(env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")])).is_empty());
        assert_eq!(
            remote_services(env(&[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
                (
                    "AWS_ENDPOINT_URL_DYNAMODB",
                    "https://dynamodb.eu-west-1.amazonaws.com"
                ),
            ])),
            vec!["DynamoDB"]
        );
        assert_eq!(
            remote_services(env(&[(
                "AWS_ENDPOINT_URL_DYNAMODB",
                "http://localhost:8000"
            )])),
            vec!["Secrets Manager"]
        );
        assert_eq!(
            remote_services(env(&[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
                ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
            ])),
            all
        );
    }
}

//! The guard that keeps tests, the benchmark and the local tools off real AWS: they run against
//! a loopback endpoint (moto, which `scripts/test` starts), or against real AWS only when
//! `APPKEYS_TEST_REAL_AWS=1` says so.

use appkeys::lambda::sdk::{sdk_config, Budget};
use aws_config::SdkConfig;

/// Set to `1` to run the suite against real AWS (DynamoDB and Secrets Manager in the account and
/// region of your credentials): without it, the suite talks to a loopback endpoint only.
pub const REAL_AWS_OPT_IN: &str = "APPKEYS_TEST_REAL_AWS";

/// The SDK configuration every test uses. It stops the run unless every service the tests call
/// would be reached on this machine, or the run opted in to real AWS: a plain `cargo test` in a
/// shell with AWS credentials must not create tables in whatever account is active.
pub async fn sdk(budget: Budget) -> SdkConfig {
    stop_unless_local();
    sdk_config(budget).await
}

/// Ends the process with one line unless the tests may run where the environment points: the
/// first test to ask stops the whole run, rather than every test panicking one after another.
pub fn stop_unless_local() {
    static CHECKED: std::sync::Once = std::sync::Once::new();
    CHECKED.call_once(|| {
        if let Err(refusal) = may_touch_aws(|name| std::env::var(name).ok()) {
            // Straight to the process's stderr: a test's captured output dies with the process.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{refusal}");
            std::process::exit(2);
        }
    });
}

/// `Ok` when the tests may run against the endpoints the environment names; else why not.
pub fn may_touch_aws(lookup: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    if lookup(REAL_AWS_OPT_IN).is_some_and(|value| value.trim() == "1") {
        return Ok(());
    }
    let remote = remote_services(&lookup);
    if remote.is_empty() {
        return Ok(());
    }
    Err(format!(
        "refusing to run: {} requests would go to real AWS (AWS_ENDPOINT_URL is unset or not a \
         loopback address), where these tests create and delete tables in the account of your \
         credentials. Run `scripts/test` (it starts a local endpoint), or point AWS_ENDPOINT_URL \
         at your own local endpoint (http://127.0.0.1:<port>), or set {REAL_AWS_OPT_IN}=1 to \
         run against real AWS on purpose.",
        remote.join(" and ")
    ))
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

//! A plain `cargo test` in a shell with AWS credentials must not create tables in whatever account
//! is active: the harness runs against a loopback endpoint, or against real AWS only when
//! `APPKEYS_TEST_REAL_AWS=1` says so.

use api_tests::TestApi;
use devkit::guard::{may_touch_aws, REAL_AWS_OPT_IN};

fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

#[test]
fn only_a_loopback_endpoint_or_the_opt_in_lets_tests_run() {
    assert!(may_touch_aws(env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")])).is_ok());
    assert!(may_touch_aws(env(&[(REAL_AWS_OPT_IN, "1")])).is_ok());
    for refused in [
        env(&[]),
        env(&[("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")]),
        env(&[(
            "AWS_ENDPOINT_URL",
            "https://dynamodb.us-east-1.amazonaws.com",
        )]),
        env(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
            (
                "AWS_ENDPOINT_URL_DYNAMODB",
                "https://dynamodb.us-east-1.amazonaws.com",
            ),
        ]),
        env(&[(REAL_AWS_OPT_IN, "0")]),
        env(&[(REAL_AWS_OPT_IN, "yes")]),
    ] {
        let refusal = may_touch_aws(refused).unwrap_err();
        assert!(
            refusal.contains("APPKEYS_TEST_REAL_AWS=1") && refusal.contains("scripts/test"),
            "{refusal}"
        );
    }
}

/// A harness table, created and dropped: what every storage test does first.
#[tokio::test]
async fn the_harness_creates_its_table() {
    let t = TestApi::new().await;
    assert!(t.store().table().starts_with("appkeys-test-"));
}

/// Tests that need the endpoint, run again as a plain `cargo test` would run them in a shell with
/// credentials and no endpoint: the run stops before any request, with one line saying how to
/// run the tests, not a panic per test. (Should the refusal ever be lost, the fake credentials
/// below still keep it from creating anything.)
#[test]
fn with_credentials_but_no_endpoint_the_suite_refuses_and_says_how_to_opt_in() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["management::", "--test-threads", "4"])
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_DYNAMODB")
        .env_remove("AWS_ENDPOINT_URL_SECRETS_MANAGER")
        .env_remove(REAL_AWS_OPT_IN)
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{text}");
    assert_eq!(text.matches("refusing to run").count(), 1, "{text}");
    assert!(text.contains("APPKEYS_TEST_REAL_AWS=1"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

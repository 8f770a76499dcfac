//! The real binary must refuse to start, with a message naming the problem, when its
//! configuration or its pepper cannot be had: not fail on the first payment call.

use std::process::Command;
use std::time::{Duration, Instant};

fn start(envs: &[(&str, &str)]) -> (bool, String, Duration) {
    // The binary reads the secret from the environment's endpoint: never an account by accident.
    if let Err(refusal) = devkit::guard::may_touch_aws(|name| std::env::var(name).ok()) {
        panic!("{refusal}");
    }
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_authorizer"))
        .env_remove("TABLE_NAME")
        .env_remove("API_KEY_PEPPER")
        .env_remove("API_KEY_PEPPER_SECRET_ID")
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9") // nothing listens: the failure report is refused
        .env(
            "AWS_REGION",
            std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        )
        .envs(envs.iter().copied())
        .output()
        .expect("run the authorizer binary");
    let text = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    (output.status.success(), text, started.elapsed())
}

#[test]
fn missing_table_name_fails_start_naming_it() {
    let (ok, text, _) = start(&[("API_KEY_PEPPER", "a local pepper of thirty-two bytes!")]);
    assert!(!ok);
    assert!(text.contains("TABLE_NAME is required"), "{text}");
}

#[test]
fn missing_pepper_configuration_fails_start_naming_it() {
    let (ok, text, _) = start(&[("TABLE_NAME", "t")]);
    assert!(!ok);
    assert!(text.contains("API_KEY_PEPPER_SECRET_ID"), "{text}");
}

#[test]
fn an_unreadable_secret_fails_start_with_a_clear_message_quickly() {
    // Against the test endpoint (moto) the secret does not exist; with real AWS credentials it
    // does not exist either.
    let (ok, text, elapsed) = start(&[
        ("TABLE_NAME", "t"),
        ("API_KEY_PEPPER_SECRET_ID", "appkeys-missing-pepper"),
    ]);
    assert!(!ok);
    assert!(
        text.contains("could not read the API-key pepper from Secrets Manager secret `appkeys-missing-pepper`"),
        "{text}"
    );
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[test]
fn a_local_pepper_is_refused_inside_lambda() {
    let (ok, text, _) = start(&[
        ("TABLE_NAME", "t"),
        ("API_KEY_PEPPER", "a local pepper of thirty-two bytes!"),
        ("AWS_LAMBDA_FUNCTION_NAME", "authorizer"),
    ]);
    assert!(!ok);
    assert!(
        text.contains("API_KEY_PEPPER is invalid")
            && text.contains("refused inside AWS Lambda")
            && !text.contains("thirty-two"),
        "{text}"
    );
}

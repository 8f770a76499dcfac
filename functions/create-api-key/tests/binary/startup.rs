//! The real binary refuses to start, naming the problem, when its configuration or pepper cannot
//! be had — at cold start, not on a merchant's first request.

use std::process::Command;

fn start(envs: &[(&str, &str)]) -> (bool, String) {
    // The binary reads the secret from the environment's endpoint: never an account by accident.
    if let Err(refusal) = devkit::guard::may_touch_aws(|name| std::env::var(name).ok()) {
        panic!("{refusal}");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_create-api-key"))
        .env_remove("TABLE_NAME")
        .env_remove("API_KEY_PEPPER")
        .env_remove("API_KEY_PEPPER_SECRET_ID")
        .env_remove("MAX_KEYS_PER_APPLICATION")
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9") // nothing listens: the failure report is refused
        .env(
            "AWS_REGION",
            std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        )
        .envs(envs.iter().copied())
        .output()
        .expect("run the create-api-key binary");
    let text = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    (output.status.success(), text)
}

const PEPPER: (&str, &str) = ("API_KEY_PEPPER", "a local pepper of thirty-two bytes!");

#[test]
fn missing_table_name_fails_start_naming_it() {
    let (ok, text) = start(&[PEPPER]);
    assert!(!ok);
    assert!(text.contains("TABLE_NAME is required"), "{text}");
}

#[test]
fn an_invalid_limit_fails_start_naming_it() {
    let (ok, text) = start(&[
        PEPPER,
        ("TABLE_NAME", "t"),
        ("MAX_KEYS_PER_APPLICATION", "100"),
    ]);
    assert!(!ok);
    assert!(
        text.contains("MAX_KEYS_PER_APPLICATION is invalid"),
        "{text}"
    );
}

#[test]
fn a_short_local_pepper_fails_start_naming_it() {
    let (ok, text) = start(&[("TABLE_NAME", "t"), ("API_KEY_PEPPER", "short")]);
    assert!(!ok);
    assert!(
        text.contains("API_KEY_PEPPER is invalid") && !text.contains("short\""),
        "{text}"
    );
}

#[test]
fn an_unreadable_secret_fails_start_with_a_clear_message() {
    let (ok, text) = start(&[
        ("TABLE_NAME", "t"),
        ("API_KEY_PEPPER_SECRET_ID", "appkeys-missing-pepper"),
    ]);
    assert!(!ok);
    assert!(
        text.contains("Secrets Manager secret `appkeys-missing-pepper`"),
        "{text}"
    );
}

#[test]
fn a_local_pepper_is_refused_inside_lambda() {
    let (ok, text) = start(&[
        PEPPER,
        ("TABLE_NAME", "t"),
        ("AWS_LAMBDA_FUNCTION_NAME", "create-api-key"),
    ]);
    assert!(!ok);
    assert!(
        text.contains("API_KEY_PEPPER is invalid")
            && text.contains("refused inside AWS Lambda")
            && !text.contains("thirty-two"),
        "{text}"
    );
}

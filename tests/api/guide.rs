//! `docs/guide.md` cannot drift from the service: its `sh` examples are run in order, as one
//! script, against a local gateway on this test's table, and every `# → <status>` line checks the
//! status of the request just before it.

use api_tests::{TestApi, MERCHANT};

/// The guide's examples as one bash script: `curl` records each answer's status, and each
/// `# → NNN` line becomes a check of the last one (naming the guide's line when it fails).
fn script(guide: &str) -> String {
    let mut script = String::from(
        r#"set -euo pipefail
STATUS_FILE=$(mktemp)
curl() {
  local out
  out=$(command curl -sS -w '\n%{http_code}' "$@")
  printf '%s' "${out##*$'\n'}" > "$STATUS_FILE"
  printf '%s\n' "${out%$'\n'*}"
}
expect() {
  local got
  got=$(cat "$STATUS_FILE")
  if [ "$got" != "$1" ]; then
    echo "docs/guide.md:$2: documented $1, answered $got" >&2
    exit 1
  fi
  echo "docs/guide.md:$2: $1" >&2
}
"#,
    );
    let mut in_example = false;
    for (number, line) in guide.lines().enumerate() {
        match line.trim_end() {
            "```sh" => in_example = true,
            "```" if in_example => in_example = false,
            line if in_example => match line.strip_prefix("# → ") {
                Some(expected) => {
                    let status = expected.split(' ').next().unwrap_or_default();
                    script.push_str(&format!("expect {status} {}\n", number + 1));
                }
                None => {
                    script.push_str(line);
                    script.push('\n');
                }
            },
            _ => {}
        }
    }
    script
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guides_examples_answer_as_documented() {
    let guide = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/guide.md"),
    )
    .unwrap();
    let script = script(&guide);
    let checks = script.matches("\nexpect ").count();
    assert!(checks >= 20, "{checks} documented statuses");
    let t = TestApi::new().await;
    let (base, jwt) = t.spawn_gateway().await;
    let token = jwt.issue(MERCHANT, 3600);
    let run = script.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg("-c")
            .arg(run)
            .env("BASE", base)
            .env("TOKEN", token)
            .output()
            .expect("bash")
    })
    .await
    .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    assert_eq!(log.matches(": documented").count(), 0, "{log}");
    assert_eq!(
        log.lines()
            .filter(|l| l.starts_with("docs/guide.md:"))
            .count(),
        checks,
        "{log}"
    );
}

#[test]
fn a_changed_status_in_the_guide_is_caught() {
    let script = script("```sh\ncurl -s \"$BASE/x\"\n# → 418 I'm a teapot\n```\n");
    assert!(script.contains("expect 418 3\n"), "{script}");
}

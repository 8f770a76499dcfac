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

fn the_guide() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/guide.md"),
    )
    .unwrap()
}

/// Runs `guide`'s examples with bash against a local gateway on a fresh table: whether bash
/// succeeded, and its log (a line per check).
async fn run(guide: &str) -> (bool, String) {
    let script = script(guide);
    let t = TestApi::new().await;
    let (base, jwt) = t.spawn_gateway().await;
    let token = jwt.issue(MERCHANT, 3600);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .env("BASE", base)
            .env("TOKEN", token)
            .output()
            .expect("bash")
    })
    .await
    .unwrap();
    drop(t);
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), log)
}

/// The log's lines that are checks of the guide.
fn checks_in(log: &str) -> usize {
    log.lines()
        .filter(|l| l.starts_with("docs/guide.md:"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guides_examples_answer_as_documented() {
    let guide = the_guide();
    let checks = script(&guide).matches("\nexpect ").count();
    assert!(checks >= 20, "{checks} documented statuses");
    let (success, log) = run(&guide).await;
    assert!(success, "{log}");
    assert_eq!(log.matches(": documented").count(), 0, "{log}");
    assert_eq!(checks_in(&log), checks, "{log}");
}

/// The check itself: the guide with one documented status changed (the name taken again, 409,
/// said to be 201) is run against the gateway, and fails at that line, naming both statuses.
#[tokio::test(flavor = "multi_thread")]
async fn a_changed_status_in_the_guide_is_caught() {
    let script = script("```sh\ncurl -s \"$BASE/x\"\n# → 418 I'm a teapot\n```\n");
    assert!(script.contains("expect 418 3\n"), "{script}");

    let guide = the_guide();
    let statuses: Vec<usize> = guide
        .lines()
        .enumerate()
        .filter(|(_, line)| line.starts_with("# → "))
        .map(|(number, _)| number)
        .collect();
    let changed_at = statuses[1];
    let mut lines: Vec<&str> = guide.lines().collect();
    assert_eq!(lines[changed_at], "# → 409", "the name taken again");
    lines[changed_at] = "# → 201";
    let (success, log) = run(&lines.join("\n")).await;
    assert!(!success, "{log}");
    let line = changed_at + 1;
    assert!(
        log.contains(&format!(
            "docs/guide.md:{line}: documented 201, answered 409"
        )),
        "{log}"
    );
    // The check before it passed, and nothing after it ran.
    assert_eq!(checks_in(&log), 2, "{log}");
}

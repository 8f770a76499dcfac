//! Structured JSON logs, one line per event, as CloudWatch Logs Insights reads them best. The
//! template's metric filter on the authorizer's log group reads these lines
//! (`$.fields.decision`, `$.fields.reason`); tests/api/deployment/operability.rs checks it
//! against this format.
//!
//! **The logging guarantee.** Whatever `RUST_LOG` or `AWS_LAMBDA_LOG_LEVEL` ask for, events of
//! other crates than ours never pass below INFO. At DEBUG and TRACE those crates log exactly what
//! must never reach a log:
//! - `lambda_runtime` logs every raw invocation event at TRACE (target
//!   `lambda_runtime::layers::api_response`), and the event carries the `Authorization` header:
//!   the full API key for the authorizer, the merchant's JWT for every management function;
//! - the AWS SDK logs every request and response at TRACE (`aws_smithy_runtime::client::
//!   orchestrator`, `aws_smithy_runtime::client::orchestrator::http`): DynamoDB keys holding a
//!   key's hash, and, with `LOG_SENSITIVE_BODIES=true`, Secrets Manager's answer holding the
//!   pepper; and what it signs (`aws_sigv4`);
//! - the HTTP stacks under them (`hyper`, `hyper_util`, `h2`, `rustls`) log connection detail.
//!
//! Rather than a list of those targets (which a more specific `RUST_LOG` directive such as
//! `lambda_runtime::layers::api_response=trace` would override, and which the next release of
//! any of them could outgrow), the cap is an allowlist: only [`OWN_CRATES`] may log below INFO,
//! and they log no secret at any level. `functions/*/tests/binary/trace_logs.rs` runs the real binaries
//! at TRACE through the Lambda runtime loop and searches their output for the key, its hash, the
//! pepper and the JWT.
//!
//! **Levels.** Lambda's advanced logging controls set `AWS_LAMBDA_LOG_LEVEL` (TRACE, DEBUG, INFO,
//! WARN, ERROR or FATAL) and then drop JSON lines whose `level` is more detailed than it
//! (<https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html>;
//! custom runtimes are told through that variable:
//! <https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-advanced.html>).
//! So when it is set it is the ceiling (nothing more detailed is even formatted) and the default
//! level; `RUST_LOG` directives then choose within it, as `EnvFilter` reads them. Neither set:
//! INFO.

use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt, LevelFilter};
use tracing_subscriber::layer::{Filter, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The crates whose events may pass below INFO: this workspace's, which log no secret at any
/// level. A crate missing here is merely capped at INFO: the list fails safe.
pub const OWN_CRATES: &[&str] = &[
    "appkeys",
    "authorizer",
    "create_application",
    "list_applications",
    "set_application_status",
    "create_api_key",
    "revoke_api_key",
    "payments_echo",
    "local_gateway",
];

/// Installs the JSON subscriber with the filter that `RUST_LOG` and `AWS_LAMBDA_LOG_LEVEL` ask
/// for, capped as above. Call once, first thing in `main`.
pub fn init() {
    let rust_log = std::env::var("RUST_LOG").ok();
    let lambda_level = std::env::var("AWS_LAMBDA_LOG_LEVEL").ok();
    subscriber(
        std::io::stdout,
        rust_log.as_deref(),
        lambda_level.as_deref(),
    )
    .init();
    tracing::debug!(
        rust_log = rust_log.as_deref().unwrap_or(""),
        aws_lambda_log_level = lambda_level.as_deref().unwrap_or(""),
        "logging configured; other crates than ours are capped at INFO"
    );
}

/// What [`init`] installs, writing to `writer` (tests capture it).
pub fn subscriber<W>(
    writer: W,
    rust_log: Option<&str>,
    lambda_level: Option<&str>,
) -> impl Subscriber + Send + Sync + for<'a> LookupSpan<'a>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::registry()
        .with(json_lines(writer).with_filter(log_filter(rust_log, lambda_level)))
}

/// The line format: JSON with a `level` member (which Lambda's log-level filtering reads), no
/// timestamp (Lambda stamps every line) and no target.
pub fn json_lines<S, W>(writer: W) -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .with_writer(writer)
}

/// What may be logged: the `RUST_LOG` directives (default: the Lambda level, else INFO), and only
/// up to the Lambda level; other crates than ours never below INFO.
pub fn log_filter<S>(
    rust_log: Option<&str>,
    lambda_level: Option<&str>,
) -> impl Filter<S> + Send + Sync + 'static
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let ceiling = lambda_level.and_then(parse_lambda_level);
    let requested = EnvFilter::builder()
        .with_default_directive(ceiling.unwrap_or(LevelFilter::INFO).into())
        .parse_lossy(rust_log.unwrap_or_default());
    let ceiling = ceiling.unwrap_or(LevelFilter::TRACE);
    requested.and(filter_fn(move |metadata| within_caps(metadata, ceiling)))
}

fn within_caps(metadata: &Metadata<'_>, ceiling: LevelFilter) -> bool {
    let cap = if is_own(metadata.target()) {
        ceiling
    } else {
        ceiling.min(LevelFilter::INFO)
    };
    *metadata.level() <= cap
}

fn is_own(target: &str) -> bool {
    OWN_CRATES.iter().any(|own| {
        target
            .strip_prefix(own)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Lambda's level names; FATAL has no tracing level and means ERROR. Anything else is ignored.
fn parse_lambda_level(value: &str) -> Option<LevelFilter> {
    let level = match value.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Level::TRACE,
        "DEBUG" => Level::DEBUG,
        "INFO" => Level::INFO,
        "WARN" => Level::WARN,
        "ERROR" | "FATAL" => Level::ERROR,
        _ => return None,
    };
    Some(LevelFilter::from_level(level))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Emits one event per (target, level) under the filter and returns the lines that passed.
    fn logged(rust_log: Option<&str>, lambda_level: Option<&str>) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::registry().with(
            json_lines(move || writer.clone()).with_filter(log_filter(rust_log, lambda_level)),
        );
        tracing::subscriber::with_default(subscriber, || {
            // Targets as the crates log them; the foreign ones carry a secret in a field, as
            // lambda_runtime's raw event does.
            macro_rules! at_every_level {
                ($target:literal, $tag:literal $(, $field:ident = $value:literal)?) => {
                    tracing::trace!(target: $target, $($field = $value,)? concat!($tag, " trace"));
                    tracing::debug!(target: $target, $($field = $value,)? concat!($tag, " debug"));
                    tracing::info!(target: $target, concat!($tag, " info"));
                    tracing::warn!(target: $target, concat!($tag, " warn"));
                    tracing::error!(target: $target, concat!($tag, " error"));
                };
            }
            at_every_level!(
                "lambda_runtime::layers::api_response",
                "runtime",
                body = "Bearer ks_live_SECRET"
            );
            at_every_level!(
                "aws_smithy_runtime::client::orchestrator",
                "sdk",
                body = "KEYHASH#SECRET"
            );
            at_every_level!("appkeysx", "lookalike", body = "SECRET");
            at_every_level!("appkeys::store", "ours");
            at_every_level!("authorizer", "authorizer");
        });
        let lines = captured.0.lock().unwrap().clone();
        String::from_utf8(lines).unwrap()
    }

    fn passed(logs: &str, message: &str) -> bool {
        logs.contains(&format!("\"message\":\"{message}\""))
    }

    #[test]
    fn trace_everywhere_still_keeps_other_crates_at_info() {
        for rust_log in [
            "trace",
            "lambda_runtime=trace,aws_smithy_runtime=trace",
            "lambda_runtime::layers::api_response=trace,trace",
            "[{body}]=trace",
        ] {
            let logs = logged(Some(rust_log), None);
            assert!(!logs.contains("SECRET"), "{rust_log}: {logs}");
            for foreign in ["runtime", "sdk", "lookalike"] {
                assert!(
                    !passed(&logs, &format!("{foreign} debug")),
                    "{rust_log}: {logs}"
                );
            }
            if rust_log == "trace" || rust_log.ends_with(",trace") {
                assert!(passed(&logs, "ours trace"), "{rust_log}: {logs}");
                assert!(passed(&logs, "authorizer debug"), "{rust_log}: {logs}");
            }
        }
        let logs = logged(Some("trace"), None);
        assert!(passed(&logs, "runtime info"), "{logs}");
        assert!(passed(&logs, "sdk error"), "{logs}");
    }

    #[test]
    fn without_settings_everything_logs_at_info() {
        let logs = logged(None, None);
        assert!(
            passed(&logs, "ours info") && passed(&logs, "runtime info"),
            "{logs}"
        );
        assert!(!passed(&logs, "ours debug"), "{logs}");
        assert!(!logs.contains("SECRET"), "{logs}");
        assert_eq!(logged(Some(""), None), logs);
        // A directive that does not parse is ignored (`EnvFilter::parse_lossy`).
        assert_eq!(logged(Some("appkeys=verbose"), None), logs);
    }

    #[test]
    fn lambda_log_level_is_the_default_and_the_ceiling() {
        // Advanced logging controls at TRACE, no RUST_LOG: our trace passes, the runtime's does not.
        let logs = logged(None, Some("TRACE"));
        assert!(passed(&logs, "ours trace"), "{logs}");
        assert!(!logs.contains("SECRET"), "{logs}");
        assert!(!passed(&logs, "runtime debug"), "{logs}");

        // At WARN nothing more detailed is formatted, whatever RUST_LOG says.
        let logs = logged(Some("trace"), Some("warn"));
        assert!(
            passed(&logs, "ours warn") && passed(&logs, "runtime warn"),
            "{logs}"
        );
        assert!(
            !passed(&logs, "ours info") && !passed(&logs, "ours trace"),
            "{logs}"
        );

        // FATAL is ERROR; RUST_LOG still chooses within the ceiling.
        let logs = logged(Some("error"), Some("DEBUG"));
        assert!(
            passed(&logs, "ours error") && !passed(&logs, "ours warn"),
            "{logs}"
        );
        let logs = logged(None, Some("FATAL"));
        assert!(
            passed(&logs, "ours error") && !passed(&logs, "ours warn"),
            "{logs}"
        );

        // An unknown Lambda level is ignored.
        assert_eq!(logged(None, Some("verbose")), logged(None, None));
    }

    #[test]
    fn own_crates_are_matched_by_whole_path_segments() {
        assert!(is_own("appkeys") && is_own("appkeys::store"));
        assert!(is_own("create_api_key") && is_own("local_gateway::jwt"));
        assert!(!is_own("appkeysx") && !is_own("lambda_runtime") && !is_own("hyper::proto"));
    }
}

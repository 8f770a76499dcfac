//! Structured JSON logs, one line per event, as CloudWatch Logs Insights reads them best. The
//! template's metric filter on the authorizer's log group reads these lines
//! (`$.fields.decision`, `$.fields.reason`); tests/tests/deployment/operability.rs checks it
//! against this format.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The production format, writing to `writer` (tests capture it).
pub fn json_subscriber<W>(writer: W, filter: EnvFilter) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time() // Lambda stamps every line already
        .with_target(false)
        .with_writer(writer)
        .finish()
}

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing::subscriber::set_global_default(json_subscriber(std::io::stdout, filter))
        .expect("the log subscriber is installed once, at start");
}

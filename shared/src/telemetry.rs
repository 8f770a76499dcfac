//! Structured JSON logs, one line per event, as CloudWatch Logs Insights reads them best.

pub fn init() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time() // Lambda stamps every line already
        .with_target(false)
        .init();
}

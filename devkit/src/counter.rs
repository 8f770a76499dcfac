//! Counting the requests a DynamoDB client sends, so that tests and the benchmark can prove how
//! many calls a path makes.

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
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.all.fetch_add(1, Ordering::SeqCst);
        if let (Some(metadata), Ok(mut counts)) = (cfg.load::<Metadata>(), self.by_operation.lock())
        {
            *counts.entry(metadata.name().to_owned()).or_default() += 1;
        }
        Ok(())
    }
}

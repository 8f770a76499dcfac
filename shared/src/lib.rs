//! Everything the Lambda functions share: configuration, the domain, the API-key format, the
//! DynamoDB single-table store and the HTTP edge. Function binaries only wire these together.

pub mod api_key;
pub mod audit;
pub mod authorize;
pub mod aws;
pub mod config;
pub mod deadline;
pub mod domain;
pub mod error;
pub mod failure;
pub mod http;
pub mod idempotency;
pub mod json;
pub mod routes;
pub mod secret_scanning;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod time;

pub use config::{Config, PepperSource};
pub use error::StoreError;
pub use store::Store;

/// What every management function holds for the life of its instance.
#[derive(Clone, Debug)]
pub struct Api {
    pub config: Config,
    pub store: Store,
}

impl Api {
    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let store = Store::new(
            aws_sdk_dynamodb::Client::new(sdk),
            &config.table_name,
            config.limits,
        );
        Self { config, store }
    }

    /// Reads and validates configuration, then builds the clients: once, at cold start.
    pub async fn from_env() -> Result<Self, config::ConfigError> {
        let config = Config::from_env()?;
        Ok(Self::new(
            config,
            &aws::sdk_config(aws::Budget::MANAGEMENT).await,
        ))
    }
}

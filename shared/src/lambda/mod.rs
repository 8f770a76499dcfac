//! What every function does at start and around each invocation: its configuration, telemetry,
//! the AWS SDK's set-up, each invocation's deadline, and the errors it reports to Lambda itself.
//! A function's `main` reads its configuration and builds its clients here, once, then hands
//! them to its handler (as the Lambda runtime's own examples do).

pub mod config;
pub mod deadline;
pub mod sdk;
pub mod secrets;
pub mod startup;
pub mod telemetry;

pub use config::Config;
pub use startup::{at_start, FunctionError};

use aws_config::SdkConfig;

use crate::pepper::{self, Pepper};
use crate::store::Store;

/// What a management function holds for the life of its instance.
#[derive(Clone, Debug)]
pub struct State {
    pub config: Config,
    pub store: Store,
}

impl State {
    pub fn new(config: Config, sdk: &SdkConfig) -> Self {
        let store = Store::new(
            aws_sdk_dynamodb::Client::new(sdk),
            &config.table_name,
            config.limits,
        );
        Self { config, store }
    }

    /// Reads and validates configuration, then builds the clients: once, at cold start. A bad
    /// configuration fails the start, reported to Lambda with its `errorType`.
    pub async fn from_env() -> Result<Self, FunctionError> {
        let config = at_start(Config::from_env()).await?;
        Ok(Self::new(
            config,
            &sdk::sdk_config(sdk::Budget::MANAGEMENT).await,
        ))
    }
}

/// What a function that issues keys (create, roll) holds: the state and the pepper.
#[derive(Clone, Debug)]
pub struct KeyIssuer {
    pub state: State,
    pub pepper: Pepper,
}

impl KeyIssuer {
    pub async fn from_env() -> Result<Self, FunctionError> {
        let config = at_start(Config::from_env()).await?;
        let sdk = sdk::sdk_config(sdk::Budget::MANAGEMENT).await;
        let pepper = pepper_from_env(&sdk).await?;
        Ok(Self {
            state: State::new(config, &sdk),
            pepper,
        })
    }
}

/// The pepper as the environment configures it (`API_KEY_PEPPER_SECRET_ID`, or `API_KEY_PEPPER`
/// for local runs), fetched once at cold start; a failure fails the start.
pub async fn pepper_from_env(sdk: &SdkConfig) -> Result<Pepper, FunctionError> {
    let source = at_start(config::pepper_source(|name| std::env::var(name).ok())).await?;
    at_start(pepper::load(sdk, &source).await).await
}

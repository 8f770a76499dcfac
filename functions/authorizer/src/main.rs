use appkeys::authorize::KeyVerifier;
use appkeys::aws::{pepper_from_env, sdk_config, Budget};
use appkeys::{Api, Config};
use lambda_runtime::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    appkeys::telemetry::init();
    let config = Config::from_env()?;
    // Tight timeouts: a dead endpoint must cost a payment call about two seconds, not the
    // function's whole timeout.
    let sdk = sdk_config(Budget::AUTHORIZER).await;
    let pepper = pepper_from_env(&sdk).await?;
    let Api { config, store } = Api::new(config, &sdk);
    let verifier = KeyVerifier::new(store, pepper, config.key_mode);
    run(service_fn(|event| authorizer::handler(&verifier, event))).await
}

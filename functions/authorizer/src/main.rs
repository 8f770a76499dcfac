use appkeys::authorize::KeyVerifier;
use appkeys::lambda::sdk::{sdk_config, Budget};
use appkeys::lambda::{at_start, pepper_from_env, secrets, telemetry, Config, State};
use lambda_runtime::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = at_start(Config::from_env()).await?;
    // Tight timeouts: a dead endpoint must cost a payment call about two seconds, not the
    // function's whole timeout.
    let sdk = sdk_config(Budget::AUTHORIZER).await;
    let pepper = pepper_from_env(&sdk).await?;
    let State { config, store } = State::new(config, &sdk);
    let verifier = KeyVerifier::new(store, pepper, config.key_mode, config.payment_resources)
        .with_origin_lock(secrets::origin_lock_from_env(&sdk).await?);
    run(service_fn(|event| authorizer::handler(&verifier, event))).await
}

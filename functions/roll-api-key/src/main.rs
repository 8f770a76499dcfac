use appkeys::aws::{pepper_from_env, sdk_config, Budget};
use appkeys::failure::at_start;
use appkeys::{Api, Config};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    appkeys::telemetry::init();
    let config = at_start(Config::from_env()).await?;
    let sdk = sdk_config(Budget::MANAGEMENT).await;
    let pepper = at_start(pepper_from_env(&sdk).await).await?;
    let api = Api::new(config, &sdk);
    run(service_fn(|request| {
        roll_api_key::handler(&api, &pepper, request)
    }))
    .await
}

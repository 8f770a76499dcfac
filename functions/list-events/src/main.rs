use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    appkeys::telemetry::init();
    let api = appkeys::failure::at_start(appkeys::Api::from_env().await).await?;
    run(service_fn(|request| list_events::handler(&api, request))).await
}

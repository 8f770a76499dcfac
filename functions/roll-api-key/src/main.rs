use appkeys::lambda::{telemetry, KeyIssuer};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let issuer = KeyIssuer::from_env().await?;
    run(service_fn(|request| {
        roll_api_key::handler(&issuer, request)
    }))
    .await
}

use appkeys::lambda::{telemetry, State};
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let state = State::from_env().await?;
    run(service_fn(|request| {
        update_api_key::handler(&state, request)
    }))
    .await
}

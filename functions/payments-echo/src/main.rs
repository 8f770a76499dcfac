use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    appkeys::telemetry::init();
    run(service_fn(payments_echo::handler)).await
}

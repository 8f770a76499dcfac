use appkeys::lambda::telemetry;
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    run(service_fn(payments_echo::handler)).await
}

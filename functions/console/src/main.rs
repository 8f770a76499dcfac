use appkeys::lambda::{at_start, telemetry};
use console::Console;
use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let console = at_start(Console::from_env()).await?;
    run(service_fn(|request| console::handler(&console, request))).await
}

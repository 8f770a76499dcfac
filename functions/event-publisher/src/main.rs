use appkeys::lambda::config::required_env;
use appkeys::lambda::sdk::{sdk_config, Budget};
use appkeys::lambda::{at_start, telemetry};
use event_publisher::Publisher;
use lambda_runtime::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let bus = at_start(required_env("EVENT_BUS_NAME")).await?;
    let sdk = sdk_config(Budget::MANAGEMENT).await;
    let publisher = Publisher {
        events: aws_sdk_eventbridge::Client::new(&sdk),
        bus,
    };
    run(service_fn(|event| {
        event_publisher::handler(&publisher, event)
    }))
    .await
}

use appkeys::aws::{sdk_config, Budget};
use appkeys::failure::at_start;
use event_publisher::Publisher;
use lambda_runtime::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    appkeys::telemetry::init();
    let bus = at_start(appkeys::config::required_env("EVENT_BUS_NAME")).await?;
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

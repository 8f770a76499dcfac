//! A subscriber to the lifecycle events, on the local endpoint: an SQS queue that an EventBridge
//! rule on the bus (`{"source": ["appkeys"]}`; examples/event-subscriber.yaml's rule is of the
//! same kind, for `api_key.revoked` only) delivers every event to. `scripts/dev` prints what reached it; the tests read it to see what a subscriber
//! in AWS would receive.

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{json, Value};

/// The rule's event pattern: every event this service publishes.
pub fn event_pattern() -> String {
    json!({ "source": [event_publisher::SOURCE] }).to_string()
}

pub struct Subscriber {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Subscriber {
    /// The queue `queue` and a rule on `bus` delivering every event to it, created if absent.
    pub async fn ensure(
        sdk: &SdkConfig,
        bus: &str,
        queue: &str,
    ) -> Result<Self, lambda_http::Error> {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let events = aws_sdk_eventbridge::Client::new(sdk);
        // CreateQueue with the same name and attributes returns the existing queue.
        let queue_url = sqs
            .create_queue()
            .queue_name(queue)
            .send()
            .await?
            .queue_url()
            .ok_or("CreateQueue returned no URL")?
            .to_owned();
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await?
            .attributes()
            .and_then(|attributes| attributes.get(&QueueAttributeName::QueueArn))
            .ok_or("GetQueueAttributes returned no ARN")?
            .to_owned();
        let rule = format!("{queue}-all");
        events
            .put_rule()
            .name(&rule)
            .event_bus_name(bus)
            .event_pattern(event_pattern())
            .send()
            .await?;
        events
            .put_targets()
            .rule(&rule)
            .event_bus_name(bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(queue_arn)
                    .build()?,
            )
            .send()
            .await?;
        Ok(Self { sqs, queue_url })
    }

    /// Every event delivered since the last call, as EventBridge delivered it (the envelope with
    /// `source`, `detail-type` and `detail`), each removed from the queue once read.
    pub async fn received(&self) -> Result<Vec<Value>, lambda_http::Error> {
        let mut delivered = Vec::new();
        loop {
            let messages = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await?
                .messages
                .unwrap_or_default();
            if messages.is_empty() {
                return Ok(delivered);
            }
            for message in messages {
                delivered.push(serde_json::from_str(message.body().unwrap_or_default())?);
                if let Some(receipt) = message.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(receipt)
                        .send()
                        .await?;
                }
            }
        }
    }
}

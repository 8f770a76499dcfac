//! The production schema, for tests, the benchmark and `scripts/dev` (`infra/template.yaml`
//! declares the same table: a deployment test compares them).

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use appkeys::domain::Failure;
use appkeys::store::failure::{build_error, sdk_error};
use appkeys::store::items::{PK, SK, TTL};

/// Creates `table` (string `PK` and `SK`, on demand, a stream of new images, time to live on
/// [`TTL`]) and waits until it is active.
pub async fn create_table(client: &Client, table: &str) -> Result<(), Failure> {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(build_error)
    };
    let key = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(build_error)
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(PK)?)
        .attribute_definitions(attribute(SK)?)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        // The audit events reach EventBridge through the table's stream.
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .map_err(build_error)?,
        )
        .send()
        .await
        .map_err(sdk_error)?;
    for _ in 0..120 {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(sdk_error)?;
        let active = described
            .table()
            .and_then(|t| t.table_status())
            .is_some_and(|status| status.as_str() == "ACTIVE");
        if active {
            client
                .update_time_to_live()
                .table_name(table)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .enabled(true)
                        .attribute_name(TTL)
                        .build()
                        .map_err(build_error)?,
                )
                .send()
                .await
                .map_err(sdk_error)?;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(Failure::Backend(
        format!("table {table} did not become active").into(),
    ))
}

//! The local stand-in for Lambda's DynamoDB event source mapping: reads the table's stream on the
//! local endpoint (moto's DynamoDB Streams API) and hands the records, as the Lambda event AWS
//! would deliver, to the event publisher's own handler; records it reports failed are read again
//! at the next poll, as Lambda retries them.
//!
//! It speaks the Streams API's JSON directly (moto does not check signatures): the records it
//! reads are, byte for byte, what the event source mapping would put in the Lambda event.

use aws_lambda_events::event::dynamodb::Event;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{json, Value};

/// One table's stream on the local endpoint.
pub struct LocalStream {
    endpoint: String,
    table: String,
    /// Per shard: the last sequence number handled, from which the next poll continues.
    positions: Vec<(String, Option<String>)>,
    stream_arn: Option<String>,
}

impl LocalStream {
    /// From the stream's oldest record (`TRIM_HORIZON`), as a new table's mapping starts.
    pub fn new(endpoint: &str, table: &str) -> Self {
        Self {
            endpoint: endpoint.to_owned(),
            table: table.to_owned(),
            positions: Vec::new(),
            stream_arn: None,
        }
    }

    /// From the next record written (`LATEST`): `scripts/dev` replays its saved state into moto at
    /// start, which would otherwise publish every past event again.
    pub async fn from_latest(endpoint: &str, table: &str) -> Result<Self, lambda_runtime::Error> {
        let mut stream = Self::new(endpoint, table);
        for (shard, event) in stream.poll().await? {
            let last = event
                .records
                .last()
                .and_then(|record| record.change.sequence_number.clone());
            stream.handled(shard, last);
        }
        Ok(stream)
    }

    async fn call(&self, action: &str, body: Value) -> Result<Value, lambda_runtime::Error> {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Full<Bytes>>();
        let request = hyper::Request::post(&self.endpoint)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", format!("DynamoDBStreams_20120810.{action}"))
            // moto routes by the credential scope's service; it checks no signature.
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=local",
            )
            .body(Full::new(Bytes::from(body.to_string())))?;
        let response = client.request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            return Err(format!(
                "DynamoDB Streams {action}: {status}: {}",
                String::from_utf8_lossy(&bytes)
            )
            .into());
        }
        Ok(serde_json::from_slice(&bytes)?)
    }

    async fn discover(&mut self) -> Result<(), lambda_runtime::Error> {
        if self.stream_arn.is_some() {
            return Ok(());
        }
        let streams = self
            .call("ListStreams", json!({"TableName": self.table}))
            .await?;
        let arn = streams["Streams"][0]["StreamArn"]
            .as_str()
            .ok_or_else(|| format!("table {} has no stream", self.table))?
            .to_owned();
        let described = self
            .call("DescribeStream", json!({"StreamArn": arn}))
            .await?;
        for shard in described["StreamDescription"]["Shards"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(id) = shard["ShardId"].as_str() {
                self.positions.push((id.to_owned(), None));
            }
        }
        self.stream_arn = Some(arn);
        Ok(())
    }

    /// The records written since the last poll (or since the stream began), as a Lambda event,
    /// with the shard each came from.
    pub async fn poll(&mut self) -> Result<Vec<(usize, Event)>, lambda_runtime::Error> {
        self.discover().await?;
        let arn = self.stream_arn.clone().unwrap_or_default();
        let mut batches = Vec::new();
        for (index, (shard, after)) in self.positions.iter().enumerate() {
            let position = match after {
                Some(sequence) => {
                    json!({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": sequence})
                }
                None => json!({"ShardIteratorType": "TRIM_HORIZON"}),
            };
            let iterator = self
                .call(
                    "GetShardIterator",
                    json!({"StreamArn": arn, "ShardId": shard}).merged(position),
                )
                .await?;
            let records = self
                .call(
                    "GetRecords",
                    json!({"ShardIterator": iterator["ShardIterator"]}),
                )
                .await?;
            let mut records = records["Records"].as_array().cloned().unwrap_or_default();
            if records.is_empty() {
                continue;
            }
            for record in &mut records {
                // What the event source mapping adds to each record.
                record["eventSourceARN"] = json!(arn);
            }
            let event: Event = serde_json::from_value(json!({"Records": records}))?;
            batches.push((index, event));
        }
        Ok(batches)
    }

    /// Marks a shard's records handled up to `sequence` (the last one before the first failure).
    pub fn handled(&mut self, shard: usize, sequence: Option<String>) {
        if let (Some((_, after)), Some(sequence)) = (self.positions.get_mut(shard), sequence) {
            *after = Some(sequence);
        }
    }
}

trait Merged {
    fn merged(self, other: Value) -> Value;
}

impl Merged for Value {
    /// The members of two JSON objects in one.
    fn merged(mut self, other: Value) -> Value {
        if let (Some(members), Value::Object(more)) = (self.as_object_mut(), other) {
            members.extend(more);
        }
        self
    }
}

/// One poll: every new record through the handler; failed ones are read again next time. Returns
/// how many records were handled (audit events and the other items' records alike).
pub async fn publish_once(
    stream: &mut LocalStream,
    publisher: &event_publisher::Publisher,
) -> Result<usize, lambda_runtime::Error> {
    let mut handled_records = 0;
    for (shard, event) in stream.poll().await? {
        let sequences: Vec<Option<String>> = event
            .records
            .iter()
            .map(|r| r.change.sequence_number.clone())
            .collect();
        let response = event_publisher::handler(
            publisher,
            lambda_runtime::LambdaEvent::new(event, Default::default()),
        )
        .await?;
        let first_failed = response
            .batch_item_failures
            .first()
            .and_then(|failure| sequences.iter().position(|s| *s == failure.item_identifier));
        let handled = match first_failed {
            Some(0) => None,
            Some(first) => sequences[first - 1].clone(),
            None => sequences.last().cloned().flatten(),
        };
        handled_records += first_failed.unwrap_or(sequences.len());
        stream.handled(shard, handled);
    }
    Ok(handled_records)
}

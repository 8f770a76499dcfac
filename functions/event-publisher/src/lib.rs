//! Publishes each audit event the table's DynamoDB stream carries to Amazon EventBridge (bus
//! `EVENT_BUS_NAME`, source `appkeys`, detail-type = the event's `type`, detail = the event), and
//! nothing else: only committed writes reach a stream, so only committed changes are published.
//! Records go in stream order, at most 10 per `PutEvents`; refused entries are put again twice,
//! then left to the stream's retry through a partial batch response; a record that is not an
//! event is isolated by bisection and ends in the dead-letter queue. Why each step is so:
//! docs/events.md, "How events are published".

use appkeys::store::items::{audit_event, SK};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use lambda_runtime::{Error, LambdaEvent};
use std::collections::HashMap;

pub const SOURCE: &str = "appkeys";
/// PutEvents takes at most 10 entries.
const ENTRIES_PER_CALL: usize = 10;
/// Calls per entry before its record is left to the stream's retry.
pub const ATTEMPTS: u32 = 3;
/// Before the second call; doubled before each later one.
const RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

pub struct Publisher {
    pub events: aws_sdk_eventbridge::Client,
    pub bus: String,
}

/// An audit event from a stream record, with the record's sequence number; `None` for records
/// that are not newly written audit events (the application, key and lookup writes around them).
fn audit_entry(record: &EventRecord, bus: &str) -> Result<Option<PutEventsRequestEntry>, Error> {
    let image: HashMap<String, AttributeValue> = record.change.new_image.clone().into();
    let is_event =
        matches!(image.get(SK), Some(AttributeValue::S(sk)) if audit_event::is_event_sk(sk));
    if record.event_name != "INSERT" || !is_event {
        return Ok(None);
    }
    let event = audit_event::from_item(&image)?;
    Ok(Some(
        PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .source(SOURCE)
            .detail_type(event.kind.as_str())
            .detail(serde_json::to_string(&event)?)
            .time(aws_sdk_eventbridge::primitives::DateTime::from_secs(
                event.created_at.epoch_seconds(),
            ))
            .build(),
    ))
}

pub async fn handler(
    publisher: &Publisher,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, Error> {
    let records = &event.payload.records;
    // (index of the record, its entry), in stream order.
    let mut entries = Vec::new();
    // A record that cannot be read as an event stops the batch there: the records before it are
    // published and checkpointed, and it goes, after the mapping's retries, to the dead-letter
    // queue, instead of failing (and retrying) the whole batch.
    let mut unreadable = None;
    for (index, record) in records.iter().enumerate() {
        match audit_entry(record, &publisher.bus) {
            Ok(Some(entry)) => entries.push((index, entry)),
            Ok(None) => {}
            Err(err) => {
                tracing::error!(error = %err, sequence = ?record.change.sequence_number, "an audit event record cannot be read");
                unreadable = Some(index);
                break;
            }
        }
    }
    if unreadable == Some(0) && records.len() > 1 {
        return Err(format!(
            "the batch's first record is not a readable audit event; failing the batch of {} so that it is halved",
            records.len()
        )
        .into());
    }
    let mut published = 0;
    let mut failed_from = None;
    for chunk in entries.chunks(ENTRIES_PER_CALL) {
        let unpublished = publisher.put(chunk).await;
        published += chunk.len() - unpublished.len();
        if let Some(&first) = unpublished.first() {
            failed_from = Some(first);
            tracing::warn!(
                unpublished = unpublished.len(),
                sequence = ?records[first].change.sequence_number,
                "entries still refused after {ATTEMPTS} attempts; the batch is retried from the first"
            );
            break;
        }
    }
    let failed_from = failed_from.or(unreadable);
    tracing::info!(records = records.len(), published, "stream batch handled");
    let mut response = DynamoDbEventResponse::default();
    if let Some(first) = failed_from {
        response.batch_item_failures = records[first..]
            .iter()
            .map(|record| {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                failure
            })
            .collect();
    }
    Ok(response)
}

impl Publisher {
    /// Puts `chunk` (at most 10 entries) on the bus; entries refused (one by one, or the whole
    /// call) are put again, alone, up to [`ATTEMPTS`] times in all, as the PutEvents reference
    /// advises. Returns the record indexes of those never accepted.
    async fn put(&self, chunk: &[(usize, PutEventsRequestEntry)]) -> Vec<usize> {
        let mut pending: Vec<&(usize, PutEventsRequestEntry)> = chunk.iter().collect();
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(RETRY_DELAY * 2u32.pow(attempt - 2)).await;
            }
            let call = self
                .events
                .put_events()
                .set_entries(Some(
                    pending.iter().map(|(_, entry)| entry.clone()).collect(),
                ))
                .send()
                .await;
            pending = match call {
                // Results come in the order of the entries (PutEvents reference); a response
                // that does not answer for each entry is taken as refusing them all.
                Ok(output) if output.entries().len() != pending.len() => pending,
                Ok(output) => pending
                    .into_iter()
                    .zip(output.entries())
                    .filter(|(_, result)| result.error_code().is_some())
                    .map(|(entry, result)| {
                        tracing::warn!(attempt, code = result.error_code(), "an entry was refused");
                        entry
                    })
                    .collect(),
                Err(err) => {
                    tracing::warn!(attempt, error = %aws_sdk_eventbridge::error::DisplayErrorContext(&err), "PutEvents failed");
                    pending
                }
            };
            if pending.is_empty() {
                break;
            }
        }
        pending.into_iter().map(|(index, _)| *index).collect()
    }
}

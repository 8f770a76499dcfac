//! Lifecycle events on EventBridge (the contract's "Audit trail and events"): the
//! publisher's own handler, fed the table's real DynamoDB stream records by the local stand-in
//! for the event source mapping, puts each committed audit event on a bus; an EventBridge rule
//! delivers it to an SQS queue, as a subscriber would have it (all on the local endpoint: moto's
//! DynamoDB Streams, EventBridge and SQS). PutEvents' partial refusals, which moto never makes,
//! come from a stubbed EventBridge client (`aws-smithy-mocks`) given real stream records.
//!
//! The stream tests (`local_stream_*`) need the local endpoint: the stand-in reads moto's stream
//! with unsigned requests. Against AWS the mapping is AWS's own; skip them there with
//! `-- --skip local_stream_` (docs/testing.md, "Against real DynamoDB").

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use api_tests::concurrent::{all_at_once, assert_conflicts_were_simulated, count_status};
use api_tests::{TestApi, MERCHANT, OTHER_MERCHANT};
use appkeys::domain::limits::Limits;
use appkeys::lambda::sdk::Budget;
use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_eventbridge::operation::put_events::{PutEventsError, PutEventsInput, PutEventsOutput};
use aws_sdk_eventbridge::types::error::InternalException;
use aws_sdk_eventbridge::types::PutEventsResultEntry;
use aws_smithy_mocks::{mock, mock_client, MockResponse, RuleMode};
use event_publisher::{handler, Publisher, ATTEMPTS};
use lambda_runtime::LambdaEvent;
use local_gateway::stream::{publish_once, LocalStream};
use local_gateway::subscriber::Subscriber;
use serde_json::{json, Value};

fn local_endpoint() -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1") || endpoint.starts_with("http://localhost"),
        "the stream tests read the local endpoint's stream (AWS_ENDPOINT_URL={endpoint:?}); \
         against AWS run with `-- --skip local_stream_`"
    );
    endpoint
}

/// A bus of this test's own, a subscriber's queue on it, and the publisher putting on it.
struct Bus {
    subscriber: Subscriber,
    publisher: Publisher,
}

async fn bus() -> Bus {
    let sdk = devkit::guard::sdk(Budget::MANAGEMENT).await;
    let name = format!("appkeys-test-{}", uuid::Uuid::new_v4());
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    events
        .create_event_bus()
        .name(&name)
        .send()
        .await
        .expect("create the bus");
    let subscriber = Subscriber::ensure(&sdk, &name, &format!("{name}-queue"))
        .await
        .expect("the subscriber's queue and rule");
    Bus {
        subscriber,
        publisher: Publisher { events, bus: name },
    }
}

/// Runs the publisher on every record written so far; how many records it handled.
async fn publish_all(stream: &mut LocalStream, publisher: &Publisher) -> usize {
    let mut handled = 0;
    loop {
        match publish_once(stream, publisher)
            .await
            .expect("a poll of the stream")
        {
            0 => return handled,
            more => handled += more,
        }
    }
}

/// Every event of an application, oldest first, through the list-events route's pages.
async fn listed_events(t: &TestApi, merchant: &str, app: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut query = "limit=2".to_owned();
    loop {
        let page = t.events(merchant, app, &query).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.json["items"].as_array().unwrap();
        events.extend(items.iter().cloned());
        if page.json["hasMore"] != true {
            events.reverse();
            return events;
        }
        query = format!(
            "limit=2&startingAfter={}",
            items.last().unwrap()["id"].as_str().unwrap()
        );
    }
}

#[tokio::test]
async fn local_stream_every_committed_change_is_delivered_once_as_its_event() {
    let endpoint = local_endpoint();
    let t = TestApi::new().await;
    let bus = bus().await;
    let mut stream = LocalStream::new(&endpoint, &t.table_name());

    let app = t.create_application_named(MERCHANT, "Prod").await;
    let key = t.create_key(MERCHANT, &app, "checkout").await;
    let rolled = t.roll_key(MERCHANT, &app, &key.text("id"), 3600).await;
    assert_eq!(rolled.status, 201, "{}", rolled.body);
    assert_eq!(
        t.revoke_key(MERCHANT, &app, &key.text("id")).await.status,
        204
    );
    assert_eq!(t.set_enabled(MERCHANT, &app, false).await.status, 200);
    assert_eq!(
        t.set_enabled(MERCHANT, &app, false).await.status,
        200,
        "no change, no event"
    );
    assert_eq!(t.set_enabled(MERCHANT, &app, true).await.status, 200);
    let other = t.create_application_named(OTHER_MERCHANT, "Other").await;
    let other_key = t.create_key(OTHER_MERCHANT, &other, "theirs").await;
    // Refused: their transactions are cancelled (or never sent), so nothing is published.
    t.create_application(MERCHANT, json!({"name": "Prod"}))
        .await
        .assert_problem(409, "name_taken");
    t.revoke_key(MERCHANT, &app, &key.text("id"))
        .await
        .assert_problem(400, "key_already_revoked");
    t.revoke_key(MERCHANT, &other, &other_key.text("id"))
        .await
        .assert_problem(404, "not_found");

    assert!(publish_all(&mut stream, &bus.publisher).await > 0);
    let delivered = bus.subscriber.received().await.unwrap();

    let mut committed = listed_events(&t, MERCHANT, &app).await;
    committed.extend(listed_events(&t, OTHER_MERCHANT, &other).await);
    committed.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    assert_eq!(committed.len(), 8, "{committed:#?}");
    // In commit order, each once, the event as listed, in EventBridge's envelope.
    let details: Vec<&Value> = delivered
        .iter()
        .map(|envelope| &envelope["detail"])
        .collect();
    assert_eq!(details, committed.iter().collect::<Vec<_>>());
    for envelope in &delivered {
        assert_eq!(envelope["source"], "appkeys");
        assert_eq!(envelope["detail-type"], envelope["detail"]["type"]);
        assert_eq!(envelope["time"], envelope["detail"]["createdAt"]);
        let text = envelope.to_string();
        for secret in [
            key.text("fullKey"),
            rolled.text("fullKey"),
            other_key.text("fullKey"),
        ] {
            assert!(!text.contains(&secret), "a full key was published: {text}");
        }
    }

    // Each record once: nothing is published again.
    assert_eq!(publish_all(&mut stream, &bus.publisher).await, 0);
    assert_eq!(
        bus.subscriber.received().await.unwrap(),
        Vec::<Value>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn local_stream_cancelled_transactions_publish_nothing() {
    let endpoint = local_endpoint();
    // Contention: the local endpoint cancels overlapping transactions with TransactionConflict,
    // the store retries them; over the key limit, the condition cancels them for good.
    let t = Arc::new(TestApi::contended(Limits::default()).await);
    let bus = bus().await;
    let mut stream = LocalStream::new(&endpoint, &t.table_name());
    let max = Limits::default().max_keys_per_application as usize;

    let names = all_at_once(&t, 6, |t, _| async move {
        t.create_application(MERCHANT, json!({"name": "Checkout"}))
            .await
    })
    .await;
    assert_eq!(count_status(&names, 201), 1);
    let app = names.iter().find(|r| r.status == 201).unwrap().text("id");
    let keys = all_at_once(&t, max + 8, |t, i| {
        let app = app.clone();
        async move { t.create_key(MERCHANT, &app, &format!("key {i}")).await }
    })
    .await;
    assert_eq!(count_status(&keys, 201), max);
    assert_conflicts_were_simulated(&t).await;

    assert!(publish_all(&mut stream, &bus.publisher).await > 0);
    let delivered = bus.subscriber.received().await.unwrap();
    assert_eq!(delivered.len(), 1 + max, "one event per committed change");
    let types: Vec<&str> = delivered
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types
            .iter()
            .filter(|&&kind| kind == "application.created")
            .count(),
        1
    );
    let published_keys: HashSet<&str> = delivered
        .iter()
        .filter(|e| e["detail-type"] == "api_key.created")
        .map(|e| e["detail"]["keyId"].as_str().unwrap())
        .collect();
    let created_keys: HashSet<String> = keys
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.text("id"))
        .collect();
    assert_eq!(published_keys.len(), max, "{types:?}");
    assert!(published_keys.iter().all(|id| created_keys.contains(*id)));
}

/// A stubbed EventBridge: answers each PutEvents call with the next planned answer (accept all
/// when none is left), and keeps the details of every entry it accepted.
#[derive(Default)]
struct StubBus {
    plan: Mutex<VecDeque<Answer>>,
    accepted: Mutex<Vec<Value>>,
    /// The details of each call's entries, accepted or not.
    calls: Mutex<Vec<Vec<Value>>>,
}

#[derive(Clone, Copy)]
enum Answer {
    /// Refuses the entries at these positions, accepts the others.
    Refuse(&'static [usize]),
    /// The whole call fails.
    Fail,
}

impl StubBus {
    fn planned(answers: impl IntoIterator<Item = Answer>) -> Arc<Self> {
        Arc::new(Self {
            plan: Mutex::new(answers.into_iter().collect()),
            ..Default::default()
        })
    }

    fn answer(&self, input: &PutEventsInput) -> MockResponse<PutEventsOutput, PutEventsError> {
        let details: Vec<Value> = input
            .entries()
            .iter()
            .map(|entry| serde_json::from_str(entry.detail().unwrap()).unwrap())
            .collect();
        self.calls.lock().unwrap().push(details.clone());
        let refused: &[usize] = match self.plan.lock().unwrap().pop_front() {
            Some(Answer::Fail) => {
                return MockResponse::Error(PutEventsError::InternalException(
                    InternalException::builder()
                        .message("stubbed failure")
                        .build(),
                ))
            }
            Some(Answer::Refuse(positions)) => positions,
            None => &[],
        };
        let mut output = PutEventsOutput::builder().failed_entry_count(refused.len() as i32);
        for (position, detail) in details.into_iter().enumerate() {
            let result = if refused.contains(&position) {
                PutEventsResultEntry::builder()
                    .error_code("InternalFailure")
                    .error_message("stubbed refusal")
                    .build()
            } else {
                self.accepted.lock().unwrap().push(detail);
                PutEventsResultEntry::builder()
                    .event_id(uuid::Uuid::new_v4().to_string())
                    .build()
            };
            output = output.entries(result);
        }
        MockResponse::Output(output.build())
    }

    fn publisher(self: &Arc<Self>) -> Publisher {
        let stub = self.clone();
        let rule = mock!(aws_sdk_eventbridge::Client::put_events)
            .then_compute_response(move |input| stub.answer(input));
        Publisher {
            events: mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [&rule]),
            bus: "stubbed".into(),
        }
    }

    fn accepted_ids(&self) -> Vec<String> {
        ids(&self.accepted.lock().unwrap())
    }
}

fn ids(details: &[Value]) -> Vec<String> {
    details
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The real stream records of 25 events (an application, 12 keys, 12 revocations) among the
/// records of the other items those changes wrote; and the events' ids in commit order.
async fn recorded_changes() -> (Event, Vec<String>) {
    let endpoint = local_endpoint();
    let t = TestApi::with_limits(Limits {
        max_keys_per_application: 12,
        ..Limits::default()
    })
    .await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    for i in 0..12 {
        let key = t.create_key(MERCHANT, &app, &format!("key {i}")).await;
        assert_eq!(
            t.revoke_key(MERCHANT, &app, &key.text("id")).await.status,
            204
        );
    }
    let mut records = Vec::new();
    for (_, batch) in LocalStream::new(&endpoint, &t.table_name())
        .poll()
        .await
        .unwrap()
    {
        records.extend(batch.records);
    }
    let events = ids(&listed_events(&t, MERCHANT, &app).await);
    assert_eq!(events.len(), 25);
    assert!(
        records.len() > events.len(),
        "the other items' records are in the batch too"
    );
    let mut event = Event::default();
    event.records = records;
    (event, events)
}

async fn handle(publisher: &Publisher, event: Event) -> Vec<String> {
    let response = handler(publisher, LambdaEvent::new(event, Default::default()))
        .await
        .unwrap();
    response
        .batch_item_failures
        .into_iter()
        .map(|failure| failure.item_identifier.unwrap())
        .collect()
}

fn sequences(event: &Event) -> Vec<String> {
    event
        .records
        .iter()
        .map(|r| r.change.sequence_number.clone().unwrap())
        .collect()
}

#[tokio::test]
async fn local_stream_refused_entries_are_put_again_alone_and_published_once() {
    let (event, events) = recorded_changes().await;
    // The second call's entries 2 and 7 are refused, then accepted when put again.
    let stub = StubBus::planned([Answer::Refuse(&[]), Answer::Refuse(&[2, 7])]);
    assert_eq!(handle(&stub.publisher(), event).await, Vec::<String>::new());
    assert_eq!(stub.accepted_ids().len(), events.len(), "each event once");
    let mut accepted = stub.accepted_ids();
    accepted.sort();
    assert_eq!(accepted, events);
    let calls = stub.calls.lock().unwrap();
    let sizes: Vec<usize> = calls.iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        [10, 10, 2, 5],
        "at most 10 per call; the refused two alone"
    );
    assert_eq!(
        ids(&calls[2]),
        [ids(&calls[1])[2].clone(), ids(&calls[1])[7].clone()]
    );
}

#[tokio::test]
async fn local_stream_an_entry_refused_every_time_is_left_to_the_stream_from_its_record() {
    let (event, events) = recorded_changes().await;
    let refusals = std::iter::repeat_n(Answer::Refuse(&[0]), ATTEMPTS as usize);
    let stub = StubBus::planned(std::iter::once(Answer::Refuse(&[3])).chain(refusals));
    let failed = handle(&stub.publisher(), event.clone()).await;

    // Reported: the record of the 4th event and every record after it, nothing before.
    let all = sequences(&event);
    let first_failed = all.iter().position(|s| *s == failed[0]).unwrap();
    assert_eq!(failed, all[first_failed..]);
    let failed_event = &events[3];
    let new_image = serde_json::to_value(&event.records[first_failed].change.new_image).unwrap();
    assert!(
        new_image.to_string().contains(failed_event.as_str()),
        "{new_image}"
    );
    // Put: the first chunk's other entries; never a later chunk.
    assert_eq!(stub.calls.lock().unwrap().len(), ATTEMPTS as usize);
    let accepted = stub.accepted_ids();
    assert_eq!(accepted, [&events[..3], &events[4..10]].concat());

    // Lambda retries from the first reported record: every event is then published, and only
    // the refused entry's own chunk can be published twice (subscribers deduplicate on `id`).
    let mut retried = event.clone();
    retried.records = event.records[first_failed..].to_vec();
    let retry = StubBus::planned([]);
    assert_eq!(
        handle(&retry.publisher(), retried).await,
        Vec::<String>::new()
    );
    let mut seen = accepted.clone();
    seen.extend(retry.accepted_ids());
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), events.len());
    let twice: Vec<&String> = events
        .iter()
        .filter(|id| seen.iter().filter(|s| s == id).count() > 1)
        .collect();
    assert_eq!(twice, events[4..10].iter().collect::<Vec<_>>());
}

#[tokio::test]
async fn local_stream_an_unreadable_event_record_is_isolated_and_every_other_event_published() {
    let (mut event, events) = recorded_changes().await;
    // The 6th event's record, its type replaced by one no code knows.
    let index = event
        .records
        .iter()
        .position(|r| {
            serde_json::to_value(&r.change.new_image)
                .unwrap()
                .to_string()
                .contains(events[5].as_str())
                && r.event_name == "INSERT"
        })
        .unwrap();
    let mut image: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
        event.records[index].change.new_image.clone().into();
    assert!(image.contains_key("type"), "{image:?}");
    image.insert(
        "type".into(),
        aws_sdk_dynamodb::types::AttributeValue::S("api_key.teleported".into()),
    );
    event.records[index].change.new_image = image.into();

    let stub = StubBus::planned([]);
    let failed = handle(&stub.publisher(), event.clone()).await;
    assert_eq!(
        failed,
        sequences(&event)[index..],
        "reported from the bad record on"
    );
    assert_eq!(
        stub.accepted_ids(),
        events[..5],
        "the events before it are published"
    );

    // Then Lambda's retries, as the mapping is configured (partial batch responses and
    // `BisectBatchOnFunctionError`): a partial failure retries from the reported record, a
    // function error halves the batch. The batch that starts with the bad record fails whole, so
    // it is halved until the record is alone; the events after it are all published, and only the
    // bad record is left for the dead-letter queue (a partial failure alone would send the events
    // behind it there too).
    let mut pending = VecDeque::from([event.records[index..].to_vec()]);
    let mut dead_letters = Vec::new();
    let mut invocations = 0;
    while let Some(records) = pending.pop_front() {
        invocations += 1;
        assert!(invocations < 50, "the retries do not converge");
        let mut batch = event.clone();
        batch.records = records.clone();
        match handler(
            &stub.publisher(),
            LambdaEvent::new(batch.clone(), Default::default()),
        )
        .await
        {
            Err(_) => {
                assert!(records.len() > 1, "a record alone is reported, not failed");
                let (first, second) = records.split_at(records.len() / 2);
                pending.push_back(first.to_vec());
                pending.push_back(second.to_vec());
            }
            Ok(response) => {
                let Some(failure) = response.batch_item_failures.first() else {
                    continue;
                };
                let from = sequences(&batch)
                    .iter()
                    .position(|s| Some(s) == failure.item_identifier.as_ref())
                    .unwrap();
                if from == 0 && records.len() == 1 {
                    dead_letters.push(failure.item_identifier.clone().unwrap());
                } else {
                    pending.push_back(records[from..].to_vec());
                }
            }
        }
    }
    assert_eq!(dead_letters, [sequences(&event)[index].clone()]);
    let mut published = stub.accepted_ids();
    published.sort();
    let mut expected: Vec<String> = events
        .iter()
        .filter(|id| *id != &events[5])
        .cloned()
        .collect();
    expected.sort();
    assert_eq!(published, expected, "every other event, once");
}

#[tokio::test]
async fn local_stream_a_failing_call_is_retried_then_left_to_the_stream() {
    let (event, events) = recorded_changes().await;
    // A failure that passes: all published, none reported.
    let passing = StubBus::planned([Answer::Fail]);
    assert_eq!(
        handle(&passing.publisher(), event.clone()).await,
        Vec::<String>::new()
    );
    let mut accepted = passing.accepted_ids();
    accepted.sort();
    assert_eq!(accepted, events);

    // A failure that lasts: the batch is reported from the first event's record, nothing put.
    let lasting = StubBus::planned(std::iter::repeat_n(Answer::Fail, ATTEMPTS as usize + 1));
    let failed = handle(&lasting.publisher(), event.clone()).await;
    let first_event_record = event
        .records
        .iter()
        .position(|r| {
            serde_json::to_value(&r.change.new_image)
                .unwrap()
                .to_string()
                .contains(&events[0])
        })
        .unwrap();
    assert_eq!(failed, sequences(&event)[first_event_record..]);
    assert_eq!(lasting.accepted_ids(), Vec::<String>::new());
    assert_eq!(
        lasting.calls.lock().unwrap().len(),
        ATTEMPTS as usize,
        "no later chunk"
    );
}

//! Real DynamoDB cancels transactions that contend for an item with `TransactionConflict`, and
//! throttles; the local endpoint does neither on its own, so these tests stub the SDK's responses
//! (`aws-smithy-mocks`) for every writer: some conflicts then success is a success; conflicts
//! until the deadline are 503 with `Retry-After`, with every attempt the whole transaction (never
//! a part of it) and no other write. Time is paused, so the deadline passes instantly.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use appkeys::domain::audit::Origin;
use appkeys::domain::key_format::KeyHash;
use appkeys::domain::limits::Limits;
use appkeys::domain::{
    ApplicationId, ApplicationName, Deadline, Description, Error, Failure, KeyId, MerchantId,
    NewApplication, NewKey, PageRequest, Refusal,
};
use appkeys::http::error;
use appkeys::store::{Caller, Store, Written};
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::get_item::{GetItemError, GetItemOutput};
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::error::{
    ProvisionedThroughputExceededException, TransactionCanceledException,
};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};
use aws_sdk_dynamodb::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

type Item = std::collections::HashMap<String, AttributeValue>;

const MERCHANT: &str = "m_1";

/// The deadline of the writers here: a management function's budget, as the store used to have.
const BUDGET: Duration = Duration::from_secs(5);

fn merchant() -> MerchantId {
    MerchantId::from_claim(MERCHANT).unwrap()
}

/// A test's caller with `left` before its deadline. Leaked: a test is short.
fn caller_within(left: Duration) -> Caller<'static> {
    Caller {
        merchant: Box::leak(Box::new(merchant())),
        origin: Box::leak(Box::new(Origin::system("test"))),
        deadline: Deadline::after(left),
    }
}

fn caller() -> Caller<'static> {
    caller_within(BUDGET)
}

fn fresh<T>(written: Written<T>) -> T {
    match written {
        Written::Fresh(value) => value,
        Written::KeyHeld => panic!("no idempotency key was given"),
    }
}

fn text(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn number(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A cancellation naming `TransactionConflict` on the second item, as DynamoDB words it.
fn conflict() -> TransactWriteItemsError {
    let reason = |code: &str| CancellationReason::builder().code(code).build();
    TransactWriteItemsError::TransactionCanceledException(
        TransactionCanceledException::builder()
            .message("Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict, None, None]")
            .cancellation_reasons(reason("None"))
            .cancellation_reasons(reason("TransactionConflict"))
            .cancellation_reasons(reason("None"))
            .cancellation_reasons(reason("None"))
            .build(),
    )
}

/// Records the number of items of every transaction the store sends.
#[derive(Clone, Default)]
struct Sent(Arc<Mutex<Vec<usize>>>);

impl Sent {
    fn sizes(&self) -> Vec<usize> {
        self.0.lock().unwrap().clone()
    }

    fn record(&self) -> impl Fn(&TransactWriteItemsInput) -> bool + Send + Sync + 'static {
        let sent = self.clone();
        move |input| {
            sent.0.lock().unwrap().push(input.transact_items().len());
            true
        }
    }
}

/// `conflicts` cancellations for a conflict, then (if `then_commit`) a commit.
fn transactions(sent: &Sent, conflicts: usize, then_commit: bool) -> Rule {
    let rule = mock!(Client::transact_write_items)
        .match_requests(sent.record())
        .sequence();
    if then_commit {
        rule.error(conflict)
            .times(conflicts)
            .output(|| TransactWriteItemsOutput::builder().build())
            .build()
    } else {
        rule.error(conflict).repeatedly().build()
    }
}

fn application_id() -> ApplicationId {
    ApplicationId::parse("01890a5d-ac96-774b-bcce-b302099a8057").unwrap()
}

fn key_id() -> KeyId {
    KeyId::parse("01890a5d-ac96-774b-bcce-b302099a8058").unwrap()
}

fn application_item(enabled: bool) -> Item {
    let app = application_id().to_string();
    Item::from([
        ("PK".into(), text(&format!("MERCHANT#{MERCHANT}"))),
        ("SK".into(), text(&format!("APP#{app}"))),
        ("id".into(), text(&app)),
        ("name".into(), text("Prod")),
        ("isEnabled".into(), AttributeValue::Bool(enabled)),
        ("createdAt".into(), number(1_700_000_000)),
    ])
}

fn keyring_item(active: &[KeyId]) -> Item {
    let entries = active
        .iter()
        .map(|id| {
            (
                id.to_string(),
                AttributeValue::M(Item::from([("hash".into(), text(&"ab".repeat(32)))])),
            )
        })
        .collect();
    Item::from([
        ("PK".into(), text(&format!("MERCHANT#{MERCHANT}"))),
        ("SK".into(), text(&format!("KEYRING#{}", application_id()))),
        ("activeKeys".into(), AttributeValue::M(entries)),
        ("rolledKeys".into(), AttributeValue::M(Item::new())),
        ("retiredKeys".into(), AttributeValue::L(Vec::new())),
        ("version".into(), number(3)),
    ])
}

fn key_item() -> Item {
    Item::from([
        ("PK".into(), text(&format!("MERCHANT#{MERCHANT}"))),
        (
            "SK".into(),
            text(&format!("KEY#{}#{}", application_id(), key_id())),
        ),
        ("id".into(), text(&key_id().to_string())),
        ("applicationId".into(), text(&application_id().to_string())),
        ("keyPrefix".into(), text("ks_live_abcd")),
        ("description".into(), text("checkout")),
        ("keyStatus".into(), text("active")),
        ("createdAt".into(), number(1_700_000_000)),
        ("keyHash".into(), text(&"ab".repeat(32))),
    ])
}

/// Answers every `BatchGetItem` with `items`.
fn reads(items: Vec<Item>) -> Rule {
    mock!(Client::batch_get_item).then_compute_output(move |input| {
        let table = input
            .request_items()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone();
        BatchGetItemOutput::builder()
            .responses(table, items.clone())
            .build()
    })
}

fn store(rules: &[&Rule]) -> Store {
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, rules);
    Store::new(client, "t", Limits::default())
}

fn new_application() -> NewApplication {
    NewApplication {
        name: ApplicationName::parse("Prod").unwrap(),
        description: None,
    }
}

fn new_key() -> NewKey {
    NewKey {
        description: Description::parse("description", "checkout", 200).unwrap(),
        key_prefix: "ks_live_abcd".into(),
        hash: KeyHash([7; 32]),
        expires_at: None,
        permissions: appkeys::domain::permissions::Permissions::Unrestricted,
    }
}

/// Every writer, run against `store`.
async fn write(which: Writer, store: &Store) -> Result<(), Error> {
    let caller = caller();
    match which {
        Writer::CreateApplication => store
            .create_application(&caller, new_application(), None)
            .await
            .map(fresh)
            .map(drop),
        Writer::CreateKey => store
            .create_api_key(&caller, application_id(), new_key(), None)
            .await
            .map(fresh)
            .map(drop),
        Writer::Disable => store
            .set_application_enabled(&caller, application_id(), false)
            .await
            .map(drop),
        Writer::Revoke => {
            store
                .revoke_api_key(&caller, application_id(), key_id())
                .await
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Writer {
    CreateApplication,
    CreateKey,
    Disable,
    Revoke,
}

const WRITERS: [Writer; 4] = [
    Writer::CreateApplication,
    Writer::CreateKey,
    Writer::Disable,
    Writer::Revoke,
];

/// What the writers that read first find: an enabled application with one active key.
fn state() -> Rule {
    reads(vec![
        application_item(true),
        keyring_item(&[key_id()]),
        key_item(),
    ])
}

#[tokio::test(start_paused = true)]
async fn every_writer_retries_conflicts_then_succeeds() {
    for writer in WRITERS {
        let sent = Sent::default();
        let (reads, transactions) = (state(), transactions(&sent, 3, true));
        let store = store(&[&reads, &transactions]);
        write(writer, &store)
            .await
            .unwrap_or_else(|err| panic!("{writer:?}: {err:?}"));
        let sizes = sent.sizes();
        assert_eq!(
            sizes.len(),
            4,
            "{writer:?}: three conflicts, then the commit"
        );
        assert!(
            sizes.windows(2).all(|w| w[0] == w[1]),
            "{writer:?}: every attempt is the whole transaction: {sizes:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn every_writer_gives_up_at_its_deadline_with_503_and_retry_after() {
    for writer in WRITERS {
        let sent = Sent::default();
        let (reads, transactions) = (state(), transactions(&sent, 0, false));
        let store = store(&[&reads, &transactions]);
        let started = tokio::time::Instant::now();
        let err = write(writer, &store).await.unwrap_err();
        let spent = started.elapsed();
        assert!(
            matches!(err, Error::Failed(Failure::Contention)),
            "{writer:?}: {err:?}"
        );
        let budget = BUDGET;
        assert!(
            spent <= budget,
            "{writer:?}: it started an attempt past its deadline ({spent:?})"
        );
        assert!(
            spent >= budget / 2,
            "{writer:?}: it gave up long before its deadline ({spent:?})"
        );
        let sizes = sent.sizes();
        assert!(
            sizes.len() > 5,
            "{writer:?}: retried by deadline, not by a small count: {}",
            sizes.len()
        );
        assert!(
            sizes.windows(2).all(|w| w[0] == w[1]),
            "{writer:?}: {sizes:?}"
        );
        let response = error::response(&err, "req-1");
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
    }
}

#[tokio::test(start_paused = true)]
async fn a_shorter_budget_gives_up_sooner() {
    let sent = Sent::default();
    let transactions = transactions(&sent, 0, false);
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&transactions]);
    let store = Store::new(client, "t", Limits::default());
    let started = tokio::time::Instant::now();
    let err = store
        .create_application(
            &caller_within(Duration::from_millis(300)),
            new_application(),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Failed(Failure::Contention)), "{err:?}");
    assert!(started.elapsed() <= Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn a_failed_condition_is_not_a_conflict_and_is_not_retried() {
    let taken = mock!(Client::transact_write_items).then_error(|| {
        let reason = |code: &str| CancellationReason::builder().code(code).build();
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .cancellation_reasons(reason("None"))
                .cancellation_reasons(reason("ConditionalCheckFailed"))
                .cancellation_reasons(reason("None"))
                .cancellation_reasons(reason("None"))
                .build(),
        )
    });
    let store = store(&[&taken]);
    let err = store
        .create_application(&caller(), new_application(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Refused(Refusal::NameTaken)), "{err:?}");
    assert_eq!(taken.num_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn throttling_that_outlasts_the_sdks_retries_is_503_not_500() {
    let throttled = mock!(Client::get_item)
        .sequence()
        .error(|| {
            GetItemError::ProvisionedThroughputExceededException(
                // As the SDK deserializes it: the error code comes from the response.
                ProvisionedThroughputExceededException::builder()
                    .message("slow down")
                    .meta(
                        aws_sdk_dynamodb::error::ErrorMetadata::builder()
                            .code("ProvisionedThroughputExceededException")
                            .build(),
                    )
                    .build(),
            )
        })
        .repeatedly()
        .build();
    let store = store(&[&throttled]);
    let request = PageRequest::default();
    let err = store
        .list_applications(&merchant(), request, Deadline::after(BUDGET))
        .await
        .unwrap_err();
    assert!(matches!(err, Failure::Unavailable(_)), "{err:?}");
    let response = error::response(&err.into(), "req-1");
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
}

#[tokio::test(start_paused = true)]
async fn any_other_failure_is_500_without_detail() {
    let invalid = mock!(Client::get_item).then_error(|| {
        GetItemError::generic(
            aws_sdk_dynamodb::error::ErrorMetadata::builder()
                .code("ValidationException")
                .message("One or more parameter values were invalid: table appkeys-secret-name")
                .build(),
        )
    });
    let store = store(&[&invalid]);
    let request = PageRequest::default();
    let err = store
        .list_applications(&merchant(), request, Deadline::after(BUDGET))
        .await
        .unwrap_err();
    assert!(matches!(err, Failure::Backend(_)), "{err:?}");
    let response = error::response(&err.into(), "req-1");
    assert_eq!(response.status(), 500);
    assert!(response.headers().get("retry-after").is_none());
    let body = match response.body() {
        lambda_http::Body::Text(text) => text.clone(),
        other => panic!("{other:?}"),
    };
    assert!(
        !body.contains("appkeys-secret-name") && !body.contains("ValidationException"),
        "{body}"
    );
}

/// Listing follows `LastEvaluatedKey` when DynamoDB cuts a query page at 1 MB.
#[tokio::test]
async fn a_list_query_is_followed_past_a_page_cut() {
    let counter = mock!(Client::get_item).then_output(|| {
        GetItemOutput::builder()
            .item("applicationCount", number(3))
            .build()
    });
    let app = |i: i64| {
        let mut item = application_item(true);
        let id = ApplicationId::new().to_string();
        item.insert("id".into(), text(&id));
        item.insert("name".into(), text(&format!("app {i}")));
        item
    };
    let first_page = mock!(Client::query)
        .match_requests(|input| input.exclusive_start_key().is_none())
        .then_output(move || {
            QueryOutput::builder()
                .items(app(1))
                .items(app(2))
                .last_evaluated_key("PK", text("MERCHANT#m_1"))
                .last_evaluated_key("SK", text("APP#cut-here"))
                .build()
        });
    let second_page = mock!(Client::query)
        .match_requests(|input| {
            input.exclusive_start_key().and_then(|key| key.get("SK")) == Some(&text("APP#cut-here"))
        })
        .then_output(move || QueryOutput::builder().items(app(3)).build());
    let store = store(&[&counter, &first_page, &second_page]);
    let request = PageRequest::default();
    let page = store
        .list_applications(&merchant(), request, Deadline::after(BUDGET))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
    assert_eq!((first_page.num_calls(), second_page.num_calls()), (1, 1));
}

/// A cancellation with `reason` on the first item, for a transaction of four.
fn cancelled_for(reason: &'static str) -> impl Fn() -> TransactWriteItemsError + Send + Sync {
    move || {
        let code = |code: &str| CancellationReason::builder().code(code).build();
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .cancellation_reasons(code(reason))
                .cancellation_reasons(code("None"))
                .cancellation_reasons(code("None"))
                .cancellation_reasons(code("None"))
                .build(),
        )
    }
}

/// DynamoDB answers a transaction it cannot serve for capacity with a cancellation whose reason
/// is `ThrottlingError` (or `ProvisionedThroughputExceeded`), which the SDK does not retry: the
/// store retries it until its deadline, then answers 503, not 500.
#[tokio::test(start_paused = true)]
async fn a_transaction_cancelled_for_throttling_is_retried_then_503() {
    for reason in ["ThrottlingError", "ProvisionedThroughputExceeded"] {
        let throttled = mock!(Client::transact_write_items)
            .sequence()
            .error(cancelled_for(reason))
            .times(2)
            .output(|| TransactWriteItemsOutput::builder().build())
            .build();
        let store = store(&[&throttled]);
        store
            .create_application(&caller(), new_application(), None)
            .await
            .map(fresh)
            .unwrap();
        assert_eq!(throttled.num_calls(), 3, "{reason}");

        let throttled = mock!(Client::transact_write_items)
            .sequence()
            .error(cancelled_for(reason))
            .repeatedly()
            .build();
        let store = self::store(&[&throttled]);
        let err = store
            .create_application(&caller(), new_application(), None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Failed(Failure::Unavailable(_))),
            "{reason}: {err:?}"
        );
        let response = error::response(&err, "req-1");
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
    }
}

/// When what a writer read keeps changing before it writes (the condition on the keyring fails
/// every time), it reads again only until its deadline, then answers 503.
#[tokio::test(start_paused = true)]
async fn a_writer_whose_reads_keep_going_stale_gives_up_at_its_deadline() {
    // Where each writer's transaction puts the keyring (the slot the stub fails).
    for (writer, keyring_slot, items) in [
        (Writer::CreateKey, 4, 5),
        (Writer::Disable, 2, 4),
        (Writer::Revoke, 3, 4),
    ] {
        let sent = Sent::default();
        let stale = mock!(Client::transact_write_items)
            .match_requests(sent.record())
            .sequence()
            .error(move || {
                let code = |code: &str| CancellationReason::builder().code(code).build();
                let mut reasons = vec![code("None"); items];
                reasons[keyring_slot] = code("ConditionalCheckFailed");
                TransactWriteItemsError::TransactionCanceledException(
                    TransactionCanceledException::builder()
                        .set_cancellation_reasons(Some(reasons))
                        .build(),
                )
            })
            .repeatedly()
            .build();
        let reads = state();
        let store = store(&[&reads, &stale]);
        let started = tokio::time::Instant::now();
        let err = write(writer, &store).await.unwrap_err();
        assert!(
            matches!(err, Error::Failed(Failure::Contention)),
            "{writer:?}: {err:?}"
        );
        assert!(started.elapsed() <= BUDGET, "{writer:?}");
        assert!(
            sent.sizes().len() > 5,
            "{writer:?}: read again and again until the deadline"
        );
    }
}

/// A DynamoDB that accepts connections and never answers: the operation is cut off at its
/// deadline (here 300 ms), long before the SDK's own 3 s attempt timeout would end it. So the
/// deadline bounds the whole operation, not only its retries.
#[tokio::test]
async fn a_request_that_never_answers_is_cut_off_at_the_deadline() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let sdk = appkeys::lambda::sdk::sdk_config(appkeys::lambda::sdk::Budget::MANAGEMENT).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .endpoint_url(format!("http://{address}"))
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::for_tests())
        .build();
    let store = Store::new(Client::from_conf(config), "t", Limits::default());
    let started = std::time::Instant::now();
    let err = store
        .list_applications(
            &merchant(),
            PageRequest::default(),
            Deadline::after(Duration::from_millis(300)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Failure::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

/// Throttling of a batch read, named only by its error code (not a modelled error), is 503.
#[tokio::test(start_paused = true)]
async fn throttling_named_by_code_only_is_503_for_batch_reads_too() {
    let throttled = mock!(Client::batch_get_item)
        .sequence()
        .error(|| {
            aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemError::generic(
                aws_sdk_dynamodb::error::ErrorMetadata::builder()
                    .code("ThrottlingException")
                    .message("Rate of requests exceeds the allowed throughput.")
                    .build(),
            )
        })
        .repeatedly()
        .build();
    let store = store(&[&throttled]);
    let err = store
        .set_application_enabled(&caller(), application_id(), false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Failed(Failure::Unavailable(_))),
        "{err:?}"
    );
}

/// The key query of a listing is followed past a page cut too.
#[tokio::test]
async fn a_key_query_is_followed_past_a_page_cut() {
    let application = application_item(true);
    let app = mock!(Client::get_item).then_output(move || {
        GetItemOutput::builder()
            .set_item(Some(application.clone()))
            .build()
    });
    let first_page = mock!(Client::query)
        .match_requests(|input| input.exclusive_start_key().is_none())
        .then_output(|| {
            QueryOutput::builder()
                .items(key_item())
                .last_evaluated_key("PK", text("MERCHANT#m_1"))
                .last_evaluated_key("SK", text("KEY#cut-here"))
                .build()
        });
    let second_page = mock!(Client::query)
        .match_requests(|input| {
            input.exclusive_start_key().and_then(|key| key.get("SK")) == Some(&text("KEY#cut-here"))
        })
        .then_output(|| {
            let mut other = key_item();
            other.insert("id".into(), text(&KeyId::new().to_string()));
            QueryOutput::builder().items(other).build()
        });
    let store = store(&[&app, &first_page, &second_page]);
    let found = store
        .get_application(&merchant(), application_id(), Deadline::after(BUDGET))
        .await
        .unwrap();
    assert_eq!(found.api_keys.unwrap().len(), 2);
    assert_eq!((first_page.num_calls(), second_page.num_calls()), (1, 1));
}

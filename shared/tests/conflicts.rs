//! Real DynamoDB cancels transactions that contend for an item with `TransactionConflict`, and
//! throttles; the local endpoint does neither on its own, so these tests stub the SDK's responses
//! (`aws-smithy-mocks`) for every writer: some conflicts then success is a success; conflicts
//! until the deadline are 503 with `Retry-After`, with every attempt the whole transaction (never
//! a part of it) and no other write. Time is paused, so the deadline passes instantly.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use appkeys::api_key::KeyHash;
use appkeys::config::Limits;
use appkeys::domain::{
    ApplicationId, ApplicationName, Description, KeyId, MerchantId, NewApplication,
};
use appkeys::http::ApiError;
use appkeys::store::{NewKey, RetryPolicy};
use appkeys::{Store, StoreError};
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

fn merchant() -> MerchantId {
    MerchantId::from_claim(MERCHANT).unwrap()
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: i64) -> AttributeValue {
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
        ("PK".into(), s(&format!("MERCHANT#{MERCHANT}"))),
        ("SK".into(), s(&format!("APP#{app}"))),
        ("id".into(), s(&app)),
        ("name".into(), s("Prod")),
        ("isEnabled".into(), AttributeValue::Bool(enabled)),
        ("createdAt".into(), n(1_700_000_000)),
    ])
}

fn keyring_item(active: &[KeyId]) -> Item {
    let entries = active
        .iter()
        .map(|id| {
            (
                id.to_string(),
                AttributeValue::M(Item::from([("hash".into(), s(&"ab".repeat(32)))])),
            )
        })
        .collect();
    Item::from([
        ("PK".into(), s(&format!("MERCHANT#{MERCHANT}"))),
        ("SK".into(), s(&format!("KEYRING#{}", application_id()))),
        ("activeKeys".into(), AttributeValue::M(entries)),
        ("rolledKeys".into(), AttributeValue::M(Item::new())),
        ("retiredKeys".into(), AttributeValue::L(Vec::new())),
        ("version".into(), n(3)),
    ])
}

fn key_item() -> Item {
    Item::from([
        ("PK".into(), s(&format!("MERCHANT#{MERCHANT}"))),
        (
            "SK".into(),
            s(&format!("KEY#{}#{}", application_id(), key_id())),
        ),
        ("id".into(), s(&key_id().to_string())),
        ("applicationId".into(), s(&application_id().to_string())),
        ("keyPrefix".into(), s("ks_live_abcd")),
        ("description".into(), s("checkout")),
        ("keyStatus".into(), s("active")),
        ("createdAt".into(), n(1_700_000_000)),
        ("keyHash".into(), s(&"ab".repeat(32))),
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
    }
}

/// Every writer, run against `store`.
async fn write(which: Writer, store: &Store) -> Result<(), StoreError> {
    match which {
        Writer::CreateApplication => store
            .create_application(&merchant(), new_application())
            .await
            .map(drop),
        Writer::CreateKey => store
            .create_api_key(&merchant(), application_id(), new_key())
            .await
            .map(drop),
        Writer::Disable => store
            .set_application_enabled(&merchant(), application_id(), false)
            .await
            .map(drop),
        Writer::Revoke => {
            store
                .revoke_api_key(&merchant(), application_id(), key_id())
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
        assert!(matches!(err, StoreError::Contention), "{writer:?}: {err:?}");
        let budget = RetryPolicy::MANAGEMENT.budget;
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
        let response = ApiError::from(err).into_response("req-1");
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
    }
}

#[tokio::test(start_paused = true)]
async fn a_shorter_budget_gives_up_sooner() {
    let sent = Sent::default();
    let transactions = transactions(&sent, 0, false);
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&transactions]);
    let policy = RetryPolicy {
        budget: Duration::from_millis(300),
        ..RetryPolicy::MANAGEMENT
    };
    let store = Store::new(client, "t", Limits::default()).with_retry_policy(policy);
    let started = tokio::time::Instant::now();
    let err = store
        .create_application(&merchant(), new_application())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Contention), "{err:?}");
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
        .create_application(&merchant(), new_application())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NameTaken), "{err:?}");
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
    let request = appkeys::domain::PageRequest {
        page: 1,
        limit: 10,
        include_api_keys: false,
    };
    let err = store
        .list_applications(&merchant(), request)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let response = ApiError::from(err).into_response("req-1");
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
    let request = appkeys::domain::PageRequest {
        page: 1,
        limit: 10,
        include_api_keys: false,
    };
    let err = store
        .list_applications(&merchant(), request)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    let response = ApiError::from(err).into_response("req-1");
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
            .item("applicationCount", n(3))
            .build()
    });
    let app = |i: i64| {
        let mut item = application_item(true);
        let id = ApplicationId::new().to_string();
        item.insert("id".into(), s(&id));
        item.insert("name".into(), s(&format!("app {i}")));
        item
    };
    let first_page = mock!(Client::query)
        .match_requests(|input| input.exclusive_start_key().is_none())
        .then_output(move || {
            QueryOutput::builder()
                .items(app(1))
                .items(app(2))
                .last_evaluated_key("PK", s("MERCHANT#m_1"))
                .last_evaluated_key("SK", s("APP#cut-here"))
                .build()
        });
    let second_page = mock!(Client::query)
        .match_requests(|input| {
            input.exclusive_start_key().and_then(|key| key.get("SK")) == Some(&s("APP#cut-here"))
        })
        .then_output(move || QueryOutput::builder().items(app(3)).build());
    let store = store(&[&counter, &first_page, &second_page]);
    let request = appkeys::domain::PageRequest {
        page: 1,
        limit: 10,
        include_api_keys: false,
    };
    let page = store.list_applications(&merchant(), request).await.unwrap();
    assert_eq!(page.items.len(), 3);
    assert_eq!((first_page.num_calls(), second_page.num_calls()), (1, 1));
}

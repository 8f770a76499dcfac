//! A write whose response is lost after DynamoDB applied it (a dropped connection, an attempt
//! timeout) is retried by the SDK. The retry must answer as the first attempt would have, not
//! with an error for a write that happened (a 500 for a key that then exists, counted and active,
//! without anyone having seen it).
//!
//! Real DynamoDB also deduplicates such retries by the SDK's client request token (for ten
//! minutes); moto does not, so these tests exercise the store's own recognition of its writes.

use api_tests::{generated_key, LoseFirstResponse, TestApi, MERCHANT};
use appkeys::domain::error::Missing;
use appkeys::domain::limits::Limits;
use appkeys::domain::{
    ApplicationId, ApplicationName, Error, Failure, KeyId, MerchantId, NewApplication, Refusal,
};
use appkeys::pepper::Pepper;
use appkeys::store::items::idempotency_record::{Claim, StoredResponse};
use appkeys::store::{Recorder, Written};

const TRANSACTION: &str = "TransactWriteItems";

fn merchant() -> MerchantId {
    MerchantId::from_claim(MERCHANT).unwrap()
}

fn limits(max_keys: u32) -> Limits {
    Limits {
        max_keys_per_application: max_keys,
        ..Limits::default()
    }
}

async fn new_key(store: &appkeys::store::Store, app: ApplicationId) -> Result<String, Error> {
    let (_, key) = generated_key(
        &Pepper::new(b"test pepper, at least 32 bytes long"),
        "checkout",
    );
    store
        .create_api_key(
            &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
            app,
            key,
            None,
        )
        .await
        .map(api_tests::fresh)
        .map(|issued| issued.id.to_string())
}

#[tokio::test]
async fn a_retried_application_create_answers_created_once() {
    let t = TestApi::new().await;
    let lossy = LoseFirstResponse::of(TRANSACTION);
    let store = lossy.store(&t).await;
    let new = NewApplication {
        name: ApplicationName::parse("Web Store").unwrap(),
        description: None,
    };

    let created = store
        .create_application(
            &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
            new,
            None,
        )
        .await
        .map(api_tests::fresh)
        .unwrap();
    assert_eq!(
        lossy.lost(),
        1,
        "the first response was lost and the write retried"
    );

    let listed = t.list(MERCHANT, "").await;
    assert_eq!(listed.json["totalItems"], 1, "{}", listed.body);
    assert_eq!(listed.json["items"][0]["id"], created.id.to_string());
    // The name stays reserved by that one application.
    t.create_application(MERCHANT, serde_json::json!({"name": "web store"}))
        .await
        .assert_problem(409, "name_taken");
}

#[tokio::test]
async fn a_retried_key_create_answers_created_and_counts_once() {
    let t = TestApi::with_limits(limits(2)).await;
    let app = t.create_application_named(MERCHANT, "Web Store").await;
    let app_id = ApplicationId::parse(&app).unwrap();
    let lossy = LoseFirstResponse::of(TRANSACTION);
    let store = lossy.store(&t).await;

    let key_id = new_key(&store, app_id).await.expect("the key is created");
    assert_eq!(
        lossy.lost(),
        1,
        "the first response was lost and the write retried"
    );

    let listed = t.listed_application(MERCHANT, &app).await;
    let keys = listed["apiKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{listed}");
    assert_eq!(keys[0]["id"], key_id.as_str());
    // Counted once: one more fits under the limit of two, then no more.
    t.assert_key_room(MERCHANT, &app, 1).await;
}

#[tokio::test]
async fn a_retried_revocation_answers_no_content_and_frees_one_place() {
    let t = TestApi::with_limits(limits(2)).await;
    let app = t.create_application_named(MERCHANT, "Web Store").await;
    let first = t.create_key(MERCHANT, &app, "first").await.text("id");
    assert_eq!(t.create_key(MERCHANT, &app, "second").await.status, 201);
    let lossy = LoseFirstResponse::of(TRANSACTION);
    let store = lossy.store(&t).await;

    store
        .revoke_api_key(
            &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
            ApplicationId::parse(&app).unwrap(),
            KeyId::parse(&first).unwrap(),
        )
        .await
        .expect("the revocation answers as done");
    assert_eq!(
        lossy.lost(),
        1,
        "the first response was lost and the write retried"
    );

    // Another request revoking it again is still told it is already revoked.
    t.revoke_key(MERCHANT, &app, &first)
        .await
        .assert_problem(400, "key_already_revoked");
    // Exactly one place was freed.
    t.assert_key_room(MERCHANT, &app, 1).await;
}

#[tokio::test]
async fn a_retried_disable_answers_the_disabled_application() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Web Store").await;
    let key = t
        .create_key(MERCHANT, &app, "checkout")
        .await
        .text("fullKey");
    let lossy = LoseFirstResponse::of(TRANSACTION);
    let store = lossy.store(&t).await;

    let disabled = store
        .set_application_enabled(
            &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
            ApplicationId::parse(&app).unwrap(),
            false,
        )
        .await
        .expect("the change answers as done");
    assert_eq!(
        lossy.lost(),
        1,
        "the first response was lost and the write retried"
    );
    assert!(!disabled.is_enabled);
    let verifier = t.verifier(&Default::default()).await;
    assert_eq!(TestApi::allows(&verifier, &key).await, Some(false));
}

/// A lost read is retried like any other (the interceptor works on reads as on writes).
#[tokio::test]
async fn a_lost_read_is_simply_retried() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Web Store").await;
    let lossy = LoseFirstResponse::of("BatchGetItem");
    let store = lossy.store(&t).await;
    let unknown = KeyId::parse(&uuid::Uuid::now_v7().to_string()).unwrap();
    let err = store
        .revoke_api_key(
            &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
            ApplicationId::parse(&app).unwrap(),
            unknown,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Refused(Refusal::NotFound(Missing::Key))),
        "{err:?}"
    );
    assert_eq!(lossy.lost(), 1);
}

/// With an Idempotency-Key, a committed write whose answer was lost meets its own record as
/// well as its own fresh item when the SDK retries it, and is still answered as fresh, once.
struct Records(Claim);

impl<T> Recorder<T> for Records {
    fn claim(&self) -> &Claim {
        &self.0
    }

    fn response(&self, _: &T) -> Result<StoredResponse, Failure> {
        Ok(StoredResponse {
            status: 201,
            body: "{}".into(),
            location: None,
            no_store: false,
            secret: None,
        })
    }
}

#[tokio::test]
async fn a_lost_response_of_an_idempotent_key_creation_is_answered_fresh_and_counted_once() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Web Store").await;
    let lossy = LoseFirstResponse::of("TransactWriteItems");
    let store = lossy.store(&t).await;
    let records = Records(Claim::new(
        "POST /api/v1/applications/{id}/api-keys",
        "00",
        "fingerprint".into(),
        "caller".into(),
        store.clock().now(),
    ));
    let (_, key) = generated_key(&t.pepper, "checkout");
    let written = store
        .create_api_key(
            &api_tests::caller_of(
                &MerchantId::from_claim(MERCHANT).unwrap(),
                &appkeys::domain::audit::Origin::system("test"),
            ),
            ApplicationId::parse(&app).unwrap(),
            key,
            Some(&records),
        )
        .await
        .expect("answered");
    assert_eq!(lossy.lost(), 1, "the committed attempt's answer was lost");
    assert!(matches!(written, Written::Fresh(_)), "{written:?}");
    let listed = t.listed_application(MERCHANT, &app).await;
    assert_eq!(listed["apiKeys"].as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test]
async fn a_lost_response_of_an_idempotent_application_creation_is_answered_fresh_once() {
    let t = TestApi::new().await;
    let lossy = LoseFirstResponse::of("TransactWriteItems");
    let store = lossy.store(&t).await;
    let records = Records(Claim::new(
        "POST /api/v1/applications",
        "01",
        "fingerprint".into(),
        "caller".into(),
        store.clock().now(),
    ));
    let written = store
        .create_application(
            &api_tests::caller_of(
                &MerchantId::from_claim(MERCHANT).unwrap(),
                &appkeys::domain::audit::Origin::system("test"),
            ),
            NewApplication {
                name: ApplicationName::parse("Web Store").unwrap(),
                description: None,
            },
            Some(&records),
        )
        .await
        .expect("answered");
    assert_eq!(lossy.lost(), 1);
    assert!(matches!(written, Written::Fresh(_)), "{written:?}");
    assert_eq!(t.list(MERCHANT, "").await.json["totalItems"], 1);
}

//! Interleavings forced, not hoped for: a competing write runs after a writer has read and right
//! before its transaction goes out (`api_tests::Interleave`), and the authorizer's answers
//! afterwards must be exactly what the contract says. Where the writer's transaction must notice
//! the change, the test also proves that it did and tried again.

use api_tests::{fresh_store, generated_key, Interleave, TestApi, MERCHANT};
use appkeys::domain::{ApplicationId, KeyId, MerchantId};
use appkeys::domain::{Error, Refusal};

fn merchant() -> MerchantId {
    MerchantId::from_claim(MERCHANT).unwrap()
}

fn ids(app: &str, key: &str) -> (ApplicationId, KeyId) {
    (
        ApplicationId::parse(app).unwrap(),
        KeyId::parse(key).unwrap(),
    )
}

struct Fixture {
    t: TestApi,
    app: String,
    /// (id, full key) of the two keys the application starts with.
    first: (String, String),
    second: (String, String),
}

async fn fixture() -> Fixture {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let created = |r: api_tests::TestResponse| (r.text("id"), r.text("fullKey"));
    let first = created(t.create_key(MERCHANT, &app, "first").await);
    let second = created(t.create_key(MERCHANT, &app, "second").await);
    Fixture {
        t,
        app,
        first,
        second,
    }
}

impl Fixture {
    async fn allows(&self, key: &str) -> Option<bool> {
        TestApi::allows(&self.t.verifier(&Default::default()).await, key).await
    }

    fn application(&self) -> ApplicationId {
        ApplicationId::parse(&self.app).unwrap()
    }
}

/// A key created between set-status's read and its transaction: the transaction must not commit
/// without the new key's lookup record, or the new key would pay on a disabled application.
#[tokio::test(flavor = "multi_thread")]
async fn a_key_created_while_disabling_is_disabled_too() {
    let f = fixture().await;
    let created_key = std::sync::Arc::new(std::sync::Mutex::new(None));
    let (table, limits, clock, pepper, slot, app) = (
        f.t.table_name(),
        f.t.state.config.limits,
        f.t.clock.clock(),
        f.t.pepper.clone(),
        created_key.clone(),
        f.application(),
    );
    let interleave = Interleave::before_first_transaction(move || async move {
        let store = fresh_store(&table, limits, clock).await;
        let (full_key, new) = generated_key(&pepper, "made meanwhile");
        store
            .create_api_key(
                &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
                app,
                new,
                None,
            )
            .await
            .map(api_tests::fresh)
            .expect("the competing create");
        *slot.lock().unwrap() = Some(full_key.expose_secret().to_owned());
    });
    let store = interleave.store(&f.t).await;

    let disabled = store
        .set_application_enabled(
            &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
            f.application(),
            false,
        )
        .await
        .unwrap();
    assert!(!disabled.is_enabled);
    assert!(interleave.competed());
    assert_eq!(
        interleave.transactions(),
        2,
        "the first transaction was refused and set-status read again"
    );

    let meanwhile = created_key
        .lock()
        .unwrap()
        .clone()
        .expect("the competing key");
    for key in [&f.first.1, &f.second.1, &meanwhile] {
        assert_eq!(f.allows(key).await, Some(false));
    }
    assert_eq!(f.t.set_enabled(MERCHANT, &f.app, true).await.status, 200);
    for key in [&f.first.1, &f.second.1, &meanwhile] {
        assert_eq!(f.allows(key).await, Some(true));
    }
}

/// An application disabled before a key creation's transaction (which assumed it enabled and
/// read nothing): the key must be written disabled.
#[tokio::test(flavor = "multi_thread")]
async fn a_key_created_while_its_application_is_disabled_is_written_disabled() {
    let f = fixture().await;
    let (table, limits, clock, app) = (
        f.t.table_name(),
        f.t.state.config.limits,
        f.t.clock.clock(),
        f.application(),
    );
    let interleave = Interleave::before_first_transaction(move || async move {
        let store = fresh_store(&table, limits, clock).await;
        store
            .set_application_enabled(
                &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
                app,
                false,
            )
            .await
            .expect("the competing disable");
    });
    let store = interleave.store(&f.t).await;
    let (full_key, new) = generated_key(&f.t.pepper, "made meanwhile");
    store
        .create_api_key(
            &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
            f.application(),
            new,
            None,
        )
        .await
        .map(api_tests::fresh)
        .unwrap();
    assert_eq!(
        interleave.transactions(),
        2,
        "the first transaction was refused and the key rewritten"
    );
    assert_eq!(f.allows(full_key.expose_secret()).await, Some(false));
    assert_eq!(f.t.set_enabled(MERCHANT, &f.app, true).await.status, 200);
    assert_eq!(f.allows(full_key.expose_secret()).await, Some(true));
}

/// A key revoked between disable's read and its transaction.
#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_while_disabling_leaves_the_key_revoked_after_enabling() {
    let f = fixture().await;
    let (table, limits, clock) = (f.t.table_name(), f.t.state.config.limits, f.t.clock.clock());
    let (app, key) = ids(&f.app, &f.first.0);
    let interleave = Interleave::before_first_transaction(move || async move {
        let store = fresh_store(&table, limits, clock).await;
        store
            .revoke_api_key(
                &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
                app,
                key,
            )
            .await
            .expect("the competing revocation");
    });
    let store = interleave.store(&f.t).await;
    store
        .set_application_enabled(
            &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
            f.application(),
            false,
        )
        .await
        .unwrap();
    assert_eq!(
        interleave.transactions(),
        2,
        "the keyring changed: set-status read again"
    );
    assert_eq!(f.allows(&f.first.1).await, Some(false));
    assert_eq!(f.allows(&f.second.1).await, Some(false));
    assert_eq!(f.t.set_enabled(MERCHANT, &f.app, true).await.status, 200);
    assert_eq!(
        f.allows(&f.first.1).await,
        Some(false),
        "a revoked key came back with its application"
    );
    assert_eq!(f.allows(&f.second.1).await, Some(true));
}

/// The application disabled between a revocation's read and its transaction.
#[tokio::test(flavor = "multi_thread")]
async fn a_disable_while_revoking_leaves_both_in_force() {
    let f = fixture().await;
    let (table, limits, clock, app) = (
        f.t.table_name(),
        f.t.state.config.limits,
        f.t.clock.clock(),
        f.application(),
    );
    let interleave = Interleave::before_first_transaction(move || async move {
        let store = fresh_store(&table, limits, clock).await;
        store
            .set_application_enabled(
                &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
                app,
                false,
            )
            .await
            .expect("the competing disable");
    });
    let store = interleave.store(&f.t).await;
    let (app, key) = ids(&f.app, &f.first.0);
    store
        .revoke_api_key(
            &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
            app,
            key,
        )
        .await
        .unwrap();
    assert!(interleave.competed());
    assert_eq!(f.allows(&f.first.1).await, Some(false));
    assert_eq!(f.allows(&f.second.1).await, Some(false));
    assert_eq!(f.t.set_enabled(MERCHANT, &f.app, true).await.status, 200);
    assert_eq!(f.allows(&f.first.1).await, Some(false));
    assert_eq!(f.allows(&f.second.1).await, Some(true));
    // The revocation freed its place exactly once.
    f.t.assert_key_room(
        MERCHANT,
        &f.app,
        f.t.state.config.limits.max_keys_per_application as usize - 1,
    )
    .await;
}

/// Another request revokes the key between this revocation's read and its transaction: this one
/// is told the key is already revoked (it did not revoke it), after reading again.
#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_that_loses_the_race_is_told_so() {
    let f = fixture().await;
    let (table, limits, clock) = (f.t.table_name(), f.t.state.config.limits, f.t.clock.clock());
    let (app, key) = ids(&f.app, &f.first.0);
    let interleave = Interleave::before_first_transaction(move || async move {
        let store = fresh_store(&table, limits, clock).await;
        store
            .revoke_api_key(
                &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
                app,
                key,
            )
            .await
            .expect("the competing revocation");
    });
    let store = interleave.store(&f.t).await;
    let err = store
        .revoke_api_key(
            &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
            app,
            key,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Refused(Refusal::KeyAlreadyRevoked)),
        "{err:?}"
    );
    assert_eq!(interleave.transactions(), 1);
    f.t.assert_key_room(
        MERCHANT,
        &f.app,
        f.t.state.config.limits.max_keys_per_application as usize - 1,
    )
    .await;
}

/// A key created between a revocation's read and its transaction. The revocation rewrites the
/// keyring: unless its version condition refuses the stale rewrite, the new key drops out of the
/// keyring, and a later disable (which rewrites only the keyring's keys' lookup records) would
/// leave it allowed. (No other test fails with the condition weakened.)
#[tokio::test(flavor = "multi_thread")]
async fn a_key_created_while_revoking_is_disabled_with_its_application_later() {
    let f = fixture().await;
    let created_key = std::sync::Arc::new(std::sync::Mutex::new(None));
    let (table, limits, clock, pepper, slot, app) = (
        f.t.table_name(),
        f.t.state.config.limits,
        f.t.clock.clock(),
        f.t.pepper.clone(),
        created_key.clone(),
        f.application(),
    );
    let interleave = Interleave::before_first_transaction(move || async move {
        let store = fresh_store(&table, limits, clock).await;
        let (full_key, new) = generated_key(&pepper, "made meanwhile");
        store
            .create_api_key(
                &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
                app,
                new,
                None,
            )
            .await
            .map(api_tests::fresh)
            .expect("the competing create");
        *slot.lock().unwrap() = Some(full_key.expose_secret().to_owned());
    });
    let store = interleave.store(&f.t).await;
    let (app, key) = ids(&f.app, &f.first.0);
    store
        .revoke_api_key(
            &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
            app,
            key,
        )
        .await
        .unwrap();
    assert_eq!(
        interleave.transactions(),
        2,
        "the keyring changed: the revocation read again"
    );
    let meanwhile = created_key
        .lock()
        .unwrap()
        .clone()
        .expect("the competing key");
    assert_eq!(f.t.set_enabled(MERCHANT, &f.app, false).await.status, 200);
    assert_eq!(
        f.allows(&meanwhile).await,
        Some(false),
        "a key of a disabled application was allowed"
    );
    assert_eq!(f.allows(&f.first.1).await, Some(false));
}

/// At the limit with an expired key, a creation reclaims the expired key's place by rewriting
/// the keyring under its version. Between its read and that rewrite, another key is revoked and
/// another created with the freed place: the stale rewrite must be refused (or the new key would
/// drop out of the keyring, out of reach of a disable), and the creation must read again and
/// still find the expired key's place.
#[tokio::test(flavor = "multi_thread")]
async fn a_reclaiming_creation_racing_a_revoke_and_a_plain_creation_keeps_every_key() {
    let t = TestApi::with_limits(appkeys::domain::limits::Limits {
        max_keys_per_application: 3,
        ..Default::default()
    })
    .await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let app_id = ApplicationId::parse(&app).unwrap();
    let (_, mut expiring) = generated_key(&t.pepper, "short");
    expiring.expires_at = Some(t.clock.now().plus_seconds(60));
    t.store()
        .create_api_key(
            &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
            app_id,
            expiring,
            None,
        )
        .await
        .map(api_tests::fresh)
        .unwrap();
    let kept = t.create_key(MERCHANT, &app, "kept").await.text("fullKey");
    let revoked = t.create_key(MERCHANT, &app, "revoked meanwhile").await;
    let revoked_id = KeyId::parse(&revoked.text("id")).unwrap();
    t.clock
        .advance(61 + appkeys::domain::limits::CLOCK_SKEW_MARGIN_SECONDS);

    let (table, limits, clock, pepper) = (
        t.table_name(),
        t.state.config.limits,
        t.clock.clock(),
        t.pepper.clone(),
    );
    let competitor_key = std::sync::Arc::new(std::sync::Mutex::new(None));
    let slot = competitor_key.clone();
    // The creation's first transaction (a plain add) fails on the full keyring; it reads and
    // prepares the reclaiming rewrite; the competitors run right before that second transaction.
    let interleave = Interleave::before_transaction(2, move || async move {
        let store = fresh_store(&table, limits, clock).await;
        store
            .revoke_api_key(
                &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
                app_id,
                revoked_id,
            )
            .await
            .expect("the competing revoke");
        let (full_key, new) = generated_key(&pepper, "competitor");
        store
            .create_api_key(
                &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
                app_id,
                new,
                None,
            )
            .await
            .map(api_tests::fresh)
            .expect("the competing plain add");
        *slot.lock().unwrap() = Some(full_key.expose_secret().to_owned());
    });
    let store = interleave.store(&t).await;
    let (mine, new) = generated_key(&t.pepper, "mine");
    store
        .create_api_key(
            &api_tests::caller_of(&merchant(), &appkeys::domain::audit::Origin::system("test")),
            app_id,
            new,
            None,
        )
        .await
        .map(api_tests::fresh)
        .expect("the expired key's place is still free");
    assert_eq!(
        interleave.transactions(),
        3,
        "plain add refused, stale rewrite refused, rewrite after reading again"
    );
    let competitor = competitor_key
        .lock()
        .unwrap()
        .clone()
        .expect("the competing key");

    let verifier = t.verifier(&Default::default()).await;
    for key in [mine.expose_secret(), &kept, &competitor] {
        assert_eq!(TestApi::allows(&verifier, key).await, Some(true));
    }
    t.create_key(MERCHANT, &app, "over")
        .await
        .assert_problem(400, "key_limit_reached");
    // Every working key is in the keyring: disabling reaches each one.
    assert_eq!(t.set_enabled(MERCHANT, &app, false).await.status, 200);
    for key in [mine.expose_secret(), &kept, &competitor] {
        assert_eq!(TestApi::allows(&verifier, key).await, Some(false));
    }
}

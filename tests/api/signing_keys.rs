//! How the report function obtains GitHub's signing keys (the contract's "Leaked-key reports"):
//! with a token from Secrets Manager when one is configured; at most one fetch per interval
//! whatever callers send; cached keys serve while the key server refuses; keys GitHub withdraws
//! stop verifying once the keys are refreshed, and no key outlives the day it is trusted for.
//! Driven against a local key server that counts fetches and can be told to refuse them.

use std::sync::Arc;
use std::time::Duration;

use api_tests::{create_secret, delete_secret, Call, TestApi, TestResponse, MERCHANT};
use appkeys::lambda::sdk::{sdk_config, Budget};
use appkeys::lambda::secrets::GITHUB_TOKEN;
use appkeys::secret_scanning::public_keys::Timing;
use appkeys::secret_scanning::PublicKeys;
use local_gateway::signer::{keys_document, KeysServer, Signer};
use local_gateway::Functions;
use serde_json::json;

/// One report function instance (its key cache lives across requests) and its key server.
struct Instance {
    t: TestApi,
    signer: Signer,
    keys: KeysServer,
    functions: Functions,
    full_key: String,
}

async fn instance(timing: Timing) -> Instance {
    let t = TestApi::new().await;
    let signer = Signer::generate("test-key-1");
    let keys = KeysServer::start(keys_document(&[&signer])).await;
    let functions = t
        .functions()
        .with_signing_keys(PublicKeys::new(&keys.url).with_timing(timing));
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let full_key = t
        .create_key(MERCHANT, &app, "checkout")
        .await
        .text("fullKey");
    Instance {
        t,
        signer,
        keys,
        functions,
        full_key,
    }
}

fn millis(refetch: u64, refresh: u64, trusted: u64) -> Timing {
    Timing {
        refetch_interval: Duration::from_millis(refetch),
        refresh_after: Duration::from_millis(refresh),
        trusted_for: Duration::from_millis(trusted),
    }
}

impl Instance {
    /// A report of a token that is not a key (nothing to revoke), signed by `signer`.
    async fn report_by(&self, signer: &Signer) -> TestResponse {
        let body = json!([{"token": "ks_live_notakey", "type": "t", "url": "u", "source": "s"}])
            .to_string();
        self.t
            .send_to(&self.functions, Call::leak_report(&body, signer).into())
            .await
    }
}

#[tokio::test]
async fn the_keys_are_fetched_with_the_token_from_secrets_manager_or_anonymously() {
    let i = instance(Timing::default()).await;
    assert_eq!(i.report_by(&i.signer).await.status, 200);
    assert_eq!(i.keys.authorizations(), [None], "anonymous without a token");

    let sdk = sdk_config(Budget::MANAGEMENT).await;
    let secret = create_secret(" ghp_example0token ").await;
    let lookup = |id: &str| {
        let id = id.to_owned();
        move |name: &str| (name == GITHUB_TOKEN.variable).then(|| id.clone())
    };
    let token = GITHUB_TOKEN
        .read(&sdk, lookup(&secret))
        .await
        .expect("the token is read");
    assert!(!format!("{token:?}").contains("ghp_"), "redacted in Debug");
    let with_token =
        i.t.functions()
            .with_signing_keys(PublicKeys::new(&i.keys.url).with_token(token));
    let body = json!([{"token": "x", "type": "t", "url": "u", "source": "s"}]).to_string();
    let answer =
        i.t.send_to(&with_token, Call::leak_report(&body, &i.signer).into())
            .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        i.keys.authorizations().last().unwrap().as_deref(),
        Some("Bearer ghp_example0token")
    );
    delete_secret(&secret).await;

    // Unset: anonymous. A secret that cannot be read, or holds no token: the start fails.
    assert!(GITHUB_TOKEN
        .read(&sdk, |_: &str| None)
        .await
        .unwrap()
        .is_none());
    let missing = GITHUB_TOKEN
        .read(&sdk, lookup("appkeys-test-no-such-secret"))
        .await
        .unwrap_err();
    assert_eq!(missing.error_type, "GitHubTokenUnreadable");
    assert!(missing.message.contains(GITHUB_TOKEN.variable), "{missing}");
    let blank = create_secret("two words").await;
    let refused = GITHUB_TOKEN.read(&sdk, lookup(&blank)).await.unwrap_err();
    assert!(refused.message.contains("not a token"), "{refused}");
    assert!(
        !refused.message.contains("two words"),
        "the value is not repeated"
    );
    delete_secret(&blank).await;
}

/// Many simultaneous reports signed with made-up identifiers, then a steady stream of them:
/// the key server sees at most one fetch per interval, and every one of them is 401, not 5xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_identifiers_cause_at_most_one_fetch_per_interval() {
    // A burst within the interval of the first fetch (a minute, as deployed).
    let i = Arc::new(instance(millis(60_000, 3_600_000, 86_400_000)).await);
    assert_eq!(i.report_by(&i.signer).await.status, 200);
    assert_eq!(i.keys.fetches(), 1);

    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let i = i.clone();
            tokio::spawn(async move {
                i.report_by(&Signer::generate(&format!("made-up-{n}")))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().assert_problem(401, "unauthorized");
    }
    assert_eq!(
        i.keys.fetches(),
        1,
        "within the interval of the first fetch"
    );

    // A steady stream over several short intervals.
    let interval = Duration::from_millis(300);
    let i = instance(millis(300, 3_600_000, 86_400_000)).await;
    assert_eq!(i.report_by(&i.signer).await.status, 200);
    let started = tokio::time::Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_millis(1_500) {
        i.report_by(&Signer::generate(&format!("stream-{sent}")))
            .await
            .assert_problem(401, "unauthorized");
        sent += 1;
    }
    let windows = (started.elapsed().as_millis() / interval.as_millis()) as usize + 1;
    let fetched = i.keys.fetches() - 1;
    assert!(sent > 3 * windows, "{sent} requests: too few to tell");
    assert!(
        (2..=windows).contains(&fetched),
        "{fetched} fetches for {sent} requests over {windows} intervals"
    );
}

/// GitHub refusing the fetches (its rate limit) on an instance that has keys: reports signed
/// with a cached key still verify, an unknown identifier is 401, never a 5xx, and each refused
/// fetch is logged with its reason.
#[tokio::test]
async fn an_instance_with_keys_keeps_verifying_while_the_key_server_refuses() {
    let i = instance(millis(100, 100, 86_400_000)).await;
    assert_eq!(i.report_by(&i.signer).await.status, 200);
    i.keys.refuse_after(1);
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let answer = i.report_by(&i.signer).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        tokio::time::sleep(Duration::from_millis(150)).await;
        i.report_by(&Signer::generate("rotated-in"))
            .await
            .assert_problem(401, "unauthorized");
    }
    assert_eq!(i.keys.fetches(), 7, "one refused fetch per interval");

    // A revocation still goes through on a cached key.
    let body = json!([{"token": i.full_key, "type": "t", "url": "u", "source": "s"}]).to_string();
    let answer =
        i.t.send_to(&i.functions, Call::leak_report(&body, &i.signer).into())
            .await;
    assert_eq!(answer.json[0]["label"], "true_positive", "{}", answer.body);
}

/// GitHub withdraws a key: once the cache is refreshed, reports signed with it are refused.
/// And while the key server is down, cached keys are trusted for a bounded time only.
#[tokio::test]
async fn a_withdrawn_key_stops_verifying_after_the_refresh_and_no_key_outlives_its_trust() {
    let i = instance(millis(50, 1_000, 86_400_000)).await;
    assert_eq!(i.report_by(&i.signer).await.status, 200);
    let rotated = Signer::generate("test-key-2");
    i.keys.publish(keys_document(&[&rotated]));
    assert_eq!(
        i.report_by(&i.signer).await.status,
        200,
        "cached until the refresh is due"
    );
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    i.report_by(&i.signer)
        .await
        .assert_problem(401, "unauthorized");
    assert_eq!(i.report_by(&rotated).await.status, 200);

    let i = instance(millis(50, 50, 2_000)).await;
    assert_eq!(i.report_by(&i.signer).await.status, 200);
    i.keys.set_down(true);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        i.report_by(&i.signer).await.status,
        200,
        "the fetch failed; the cached key serves"
    );
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let answer = i.report_by(&i.signer).await;
    answer.assert_problem(503, "temporarily_unavailable");
    i.keys.set_down(false);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(i.report_by(&i.signer).await.status, 200, "fetched again");
}

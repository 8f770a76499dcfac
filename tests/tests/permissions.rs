//! Least privilege, checked against behaviour: each function is run through its paths, common
//! and rare (a creation that reclaims an expired key's place and trims the history, a revocation
//! and a roll past the history bound, the authorizer's last-use write), against the local
//! endpoint, with a client that records every DynamoDB action it takes (each item of a
//! transaction as the action IAM authorises it as), the partition it touches, and the attributes
//! each update names. Every recorded action must be in `api_tests::permissions::PERMISSIONS`,
//! and fit the narrowed grants of `api_tests::permissions::NARROWED`, which the deployment test
//! holds the template to: a permission the code needs and the template lacks would be an
//! `AccessDenied` in production that no local test could show otherwise.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_tests::permissions::{narrowed, PERMISSIONS};
use api_tests::{generated_key, Call, TestApi, MERCHANT};
use appkeys::authorize::KeyVerifier;
use appkeys::aws::{sdk_config, Budget};
use appkeys::config::Limits;
use appkeys::domain::{ApplicationId, MerchantId};
use appkeys::store::{CLOCK_SKEW_MARGIN_SECONDS, RETIRED_KEYS_KEPT};
use appkeys::{Api, Store};
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

/// One DynamoDB action as IAM authorises it: the action, the partition prefix of the item
/// (`dynamodb:LeadingKeys`), and, for an update, every attribute it names
/// (`dynamodb:Attributes`: the key, and the update and condition expressions).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    action: String,
    partition: String,
    attributes: Option<BTreeSet<String>>,
}

/// Everything a client was seen to do.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<BTreeSet<Seen>>>);

impl Recorder {
    fn seen(&self) -> BTreeSet<Seen> {
        self.0.lock().unwrap().clone()
    }

    fn actions(&self) -> BTreeSet<String> {
        self.seen().into_iter().map(|seen| seen.action).collect()
    }

    fn record(&self, action: &str, key: Option<&HashMap<String, AttributeValue>>) {
        self.record_naming(action, key, None);
    }

    fn record_naming(
        &self,
        action: &str,
        key: Option<&HashMap<String, AttributeValue>>,
        attributes: Option<BTreeSet<String>>,
    ) {
        let partition = match key.and_then(|key| key.get("PK")) {
            Some(AttributeValue::S(pk)) => pk
                .split_once('#')
                .map_or(pk.clone(), |(prefix, _)| format!("{prefix}#*")),
            _ => "?".into(),
        };
        self.0.lock().unwrap().insert(Seen {
            action: format!("dynamodb:{action}"),
            partition,
            attributes,
        });
    }

    /// An update, with the attributes it names.
    fn record_update(
        &self,
        key: &HashMap<String, AttributeValue>,
        expressions: [Option<&str>; 2],
        names: Option<&HashMap<String, String>>,
    ) {
        let mut attributes: BTreeSet<String> = key.keys().cloned().collect();
        attributes.extend(attribute_names(expressions, names));
        self.record_naming("UpdateItem", Some(key), Some(attributes));
    }
}

/// The top-level attributes that DynamoDB expressions name: their identifiers, with `#name`
/// placeholders resolved, leaving out `:values`, keywords and functions.
fn attribute_names(
    expressions: [Option<&str>; 2],
    names: Option<&HashMap<String, String>>,
) -> BTreeSet<String> {
    const WORDS: &[&str] = &[
        "SET",
        "REMOVE",
        "ADD",
        "DELETE",
        "AND",
        "OR",
        "NOT",
        "BETWEEN",
        "IN",
        "attribute_exists",
        "attribute_not_exists",
        "attribute_type",
        "begins_with",
        "contains",
        "size",
        "if_not_exists",
        "list_append",
    ];
    let mut found = BTreeSet::new();
    for expression in expressions.into_iter().flatten() {
        let mut chars = expression.chars().peekable();
        while let Some(c) = chars.next() {
            if !(c == '#' || c == ':' || c.is_ascii_alphabetic() || c == '_') {
                continue;
            }
            let mut token = String::from(c);
            while let Some(&next) = chars.peek() {
                if next.is_ascii_alphanumeric() || next == '_' {
                    token.push(next);
                    chars.next();
                } else {
                    break;
                }
            }
            if token.starts_with(':') {
                continue;
            }
            if token.starts_with('#') {
                let name = names
                    .and_then(|names| names.get(&token))
                    .unwrap_or_else(|| panic!("{token} is not defined in {expression}"));
                found.insert(name.clone());
            } else if !WORDS.iter().any(|word| word.eq_ignore_ascii_case(&token)) {
                found.insert(token);
            }
        }
    }
    found
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_sdk_dynamodb::operation::{
            batch_get_item::BatchGetItemInput, get_item::GetItemInput, query::QueryInput,
            transact_write_items::TransactWriteItemsInput, update_item::UpdateItemInput,
        };
        let input = context.input();
        if let Some(get) = input.downcast_ref::<GetItemInput>() {
            self.record("GetItem", get.key());
        } else if let Some(query) = input.downcast_ref::<QueryInput>() {
            let pk = query
                .expression_attribute_values()
                .and_then(|v| v.get(":pk"))
                .cloned();
            let key = pk.map(|pk| std::collections::HashMap::from([("PK".to_owned(), pk)]));
            self.record("Query", key.as_ref());
        } else if let Some(batch) = input.downcast_ref::<BatchGetItemInput>() {
            for wanted in batch
                .request_items()
                .into_iter()
                .flat_map(|items| items.values())
            {
                for key in wanted.keys() {
                    self.record("BatchGetItem", Some(key));
                }
            }
        } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
            self.record_update(
                update.key().unwrap_or(&HashMap::new()),
                [update.update_expression(), update.condition_expression()],
                update.expression_attribute_names(),
            );
        } else if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
            for item in transaction.transact_items() {
                if let Some(put) = item.put() {
                    self.record("PutItem", Some(put.item()));
                } else if let Some(update) = item.update() {
                    self.record_update(
                        update.key(),
                        [
                            Some(update.update_expression()),
                            update.condition_expression(),
                        ],
                        update.expression_attribute_names(),
                    );
                } else if let Some(delete) = item.delete() {
                    self.record("DeleteItem", Some(delete.key()));
                } else if let Some(check) = item.condition_check() {
                    self.record("ConditionCheckItem", Some(check.key()));
                }
            }
        } else {
            self.record("(unrecorded operation)", None);
        }
        Ok(())
    }
}

async fn recording_api(t: &TestApi, recorder: &Recorder) -> Api {
    let sdk = sdk_config(Budget::MANAGEMENT).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(recorder.clone())
        .build();
    let mut api = t.api.clone();
    api.store = Store::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        t.table_name(),
        api.config.limits,
    )
    .with_clock(t.clock.clone());
    api
}

/// The authorizer's verifier, as `TestApi::verifier` builds it, with a recording client.
async fn recording_verifier(t: &TestApi, recorder: &Recorder) -> KeyVerifier {
    let sdk = sdk_config(Budget::AUTHORIZER).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(recorder.clone())
        .build();
    let store = Store::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        t.table_name(),
        t.api.config.limits,
    )
    .with_clock(t.clock.clone());
    KeyVerifier::new(store, t.pepper.clone(), t.api.config.key_mode)
}

fn assert_allowed(function: &str, recorder: &Recorder) {
    let allowed: BTreeSet<String> = PERMISSIONS
        .iter()
        .find(|(f, _)| *f == function)
        .map(|(_, actions)| actions.iter().map(|a| a.to_string()).collect())
        .unwrap_or_else(|| panic!("{function} has no entry in PERMISSIONS"));
    let seen = recorder.actions();
    assert!(!seen.is_empty(), "{function} was not exercised");
    let missing: Vec<&String> = seen.difference(&allowed).collect();
    assert!(
        missing.is_empty(),
        "{function} does {missing:?}, which its role may not"
    );
    // Where the role's grants are narrowed, each action fits one of them.
    let grants = narrowed(function);
    if grants.is_empty() {
        return;
    }
    for seen in recorder.seen() {
        let fits = grants.iter().any(|grant| {
            grant.actions.contains(&seen.action.as_str())
                && grant.partitions.contains(&seen.partition.as_str())
                && grant.attributes.is_none_or(|allowed| {
                    let named = seen.attributes.as_ref().unwrap_or_else(|| {
                        panic!(
                            "{function}: the attributes of {} are not recorded",
                            seen.action
                        )
                    });
                    named.iter().all(|name| allowed.contains(&name.as_str()))
                })
        });
        assert!(
            fits,
            "{function} does {seen:?}, which no grant of its role allows"
        );
    }
}

async fn send(api: &Api, t: &TestApi, function: &str, call: Call) -> api_tests::TestResponse {
    let functions = local_gateway::Functions::new(api.clone(), t.pepper.clone());
    Box::pin(functions.invoke(function, call.merchant(MERCHANT).into()))
        .await
        .unwrap()
        .into()
}

#[tokio::test]
async fn every_function_does_only_what_its_role_allows() {
    let t = TestApi::with_limits(Limits {
        max_keys_per_application: 1,
        ..Limits::default()
    })
    .await;
    let merchant = MerchantId::from_claim(MERCHANT).unwrap();
    let recorders: Vec<(&str, Recorder)> = [
        "create-application",
        "list-applications",
        "set-application-status",
        "create-api-key",
        "revoke-api-key",
        "roll-api-key",
        "get-application",
        "authorizer",
    ]
    .into_iter()
    .map(|f| (f, Recorder::default()))
    .collect();
    let recorder = |name: &str| {
        recorders
            .iter()
            .find(|(f, _)| *f == name)
            .unwrap()
            .1
            .clone()
    };
    let api = |name: &'static str| {
        let recorder = recorder(name);
        let t = &t;
        async move { recording_api(t, &recorder).await }
    };

    // create-application: created, and refused for its name.
    let creating = api("create-application").await;
    let created = send(
        &creating,
        &t,
        "create-application",
        Call::post(
            "/api/v1/applications",
            "/api/v1/applications",
            json!({"name": "Prod"}),
        ),
    )
    .await;
    assert_eq!(created.status, 201);
    let app = created.text("id");
    let app_id = ApplicationId::parse(&app).unwrap();
    assert_eq!(
        send(
            &creating,
            &t,
            "create-application",
            Call::post(
                "/api/v1/applications",
                "/api/v1/applications",
                json!({"name": "prod"})
            )
        )
        .await
        .status,
        409
    );

    // create-api-key and revoke-api-key, up to and past the history bound: each revocation
    // retires a key; the last ones trim the history.
    let (keys, revoking) = (api("create-api-key").await, api("revoke-api-key").await);
    for i in 0..=RETIRED_KEYS_KEPT {
        let key = send(
            &keys,
            &t,
            "create-api-key",
            Call::create_key(&app, json!({"description": format!("k{i}")})),
        )
        .await;
        assert_eq!(key.status, 201, "{}", key.body);
        assert_eq!(
            send(
                &revoking,
                &t,
                "revoke-api-key",
                Call::revoke_key(&app, &key.text("id"))
            )
            .await
            .status,
            204
        );
    }
    // At the limit with an expired key: the creation reclaims its place, and trims the history.
    let (_, mut expiring) = generated_key(&t.pepper, "expiring");
    expiring.expires_at = Some(t.clock.now().plus_seconds(60));
    t.store()
        .create_api_key(
            &merchant,
            app_id,
            expiring,
            &appkeys::audit::Origin::system("test"),
            None,
        )
        .await
        .map(appkeys::store::Written::unwrap_fresh)
        .unwrap();
    t.clock.advance(61 + CLOCK_SKEW_MARGIN_SECONDS);
    let reclaims = send(
        &keys,
        &t,
        "create-api-key",
        Call::create_key(&app, json!({"description": "reclaims"})),
    )
    .await;
    assert_eq!(reclaims.status, 201, "{}", reclaims.body);
    assert_eq!(
        send(
            &keys,
            &t,
            "create-api-key",
            Call::create_key(&app, json!({"description": "over"}))
        )
        .await
        .status,
        400
    );

    // roll-api-key at the limit: at once (which retires the old key and trims the history), then
    // with a grace window, then again (refused).
    let rolling = api("roll-api-key").await;
    let roll = |key: String, seconds: i64| {
        Call::new(
            "POST",
            "/api/v1/applications/{id}/api-keys/{keyId}/roll",
            format!("/api/v1/applications/{app}/api-keys/{key}/roll"),
        )
        .param("id", &app)
        .param("keyId", &key)
        .body(json!({ "expiresInSeconds": seconds }).to_string())
    };
    let rolled_at_once = send(&rolling, &t, "roll-api-key", roll(reclaims.text("id"), 0)).await;
    assert_eq!(rolled_at_once.status, 201, "{}", rolled_at_once.body);
    let rolled = send(
        &rolling,
        &t,
        "roll-api-key",
        roll(rolled_at_once.text("id"), 3600),
    )
    .await;
    assert_eq!(rolled.status, 201, "{}", rolled.body);
    let again = send(
        &rolling,
        &t,
        "roll-api-key",
        roll(rolled_at_once.text("id"), 3600),
    )
    .await;
    assert_eq!(again.status, 400, "{}", again.body);

    // The authorizer: an allowed call with a key that was never used records its last use, on
    // its own task after the decision.
    let authorizing = recording_verifier(&t, &recorder("authorizer")).await;
    assert_eq!(
        TestApi::allows(&authorizing, &rolled.text("fullKey")).await,
        Some(true)
    );
    let waited = Instant::now();
    while !recorder("authorizer")
        .actions()
        .contains("dynamodb:UpdateItem")
    {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "the authorizer never wrote the key's last use"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // set-application-status, list-applications and get-application.
    let status = api("set-application-status").await;
    assert_eq!(
        send(
            &status,
            &t,
            "set-application-status",
            Call::set_status(&app, json!({"isEnabled": false}))
        )
        .await
        .status,
        200
    );
    let listing = api("list-applications").await;
    assert_eq!(
        send(
            &listing,
            &t,
            "list-applications",
            Call::list("include=apiKeys")
        )
        .await
        .status,
        200
    );

    let getting = api("get-application").await;
    let one = send(
        &getting,
        &t,
        "get-application",
        Call::new(
            "GET",
            "/api/v1/applications/{id}",
            format!("/api/v1/applications/{app}"),
        )
        .param("id", &app),
    )
    .await;
    assert_eq!(one.status, 200, "{}", one.body);
    // The last-use write landed (on the key item that listings read).
    let used = one.json["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["id"] == rolled.json["id"])
        .unwrap();
    assert!(used["lastUsedAt"].is_string(), "{used}");

    for (function, recorder) in &recorders {
        assert_allowed(function, recorder);
    }
    // The authorizer's write names its key and `lastUsedAt`, nothing else.
    let named: BTreeSet<BTreeSet<String>> = recorder("authorizer")
        .seen()
        .into_iter()
        .filter_map(|seen| seen.attributes)
        .collect();
    assert_eq!(
        named,
        BTreeSet::from([["PK", "SK", "lastUsedAt"].map(String::from).into()])
    );
    // The rare paths were taken: the history was trimmed by every writer that retires keys.
    assert!(recorder("revoke-api-key")
        .actions()
        .contains("dynamodb:DeleteItem"));
    assert!(recorder("roll-api-key")
        .actions()
        .contains("dynamodb:DeleteItem"));
    assert!(recorder("create-api-key")
        .actions()
        .contains("dynamodb:DeleteItem"));
}

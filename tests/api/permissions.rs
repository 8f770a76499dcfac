//! Least privilege, checked against behaviour: each function is run through its paths, common
//! and rare (a creation that reclaims an expired key's place and trims the history, a revocation
//! and a roll past the history bound, the authorizer's last-use write, every POST with an
//! `Idempotency-Key`: first run, replay, another request with the key, a kept refusal and its
//! replay; the event publisher on the stream's records), against the local endpoint, with a
//! client that records every AWS action it takes (each item of a transaction as the action IAM
//! authorises it as), the partition it touches, and the attributes each update names. Every
//! recorded action must be in `api_tests::permissions::PERMISSIONS`,
//! and fit the narrowed grants of `api_tests::permissions::NARROWED`, which the deployment test
//! holds the template to: a permission the code needs and the template lacks would be an
//! `AccessDenied` in production that no local test could show otherwise.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_tests::permissions::{narrowed, PublisherResource, EVENT_PUBLISHER_GRANTS, PERMISSIONS};
use api_tests::{generated_key, Call, TestApi, MERCHANT};
use appkeys::authorize::KeyVerifier;
use appkeys::domain::limits::Limits;
use appkeys::domain::limits::{CLOCK_SKEW_MARGIN_SECONDS, RETIRED_KEYS_KEPT};
use appkeys::domain::{ApplicationId, MerchantId};
use appkeys::lambda::sdk::{sdk_config, Budget};
use appkeys::lambda::State;
use appkeys::store::Store;
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

/// One DynamoDB action as IAM authorises it: the action, the partition prefix of the item
/// (`dynamodb:LeadingKeys`), and, for an update, a put or a batch read, every attribute it names
/// (`dynamodb:Attributes`: the key, the item put, the update, condition and projection
/// expressions; a read without a projection reads [`ALL_ATTRIBUTES`]).
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

    /// A put, with the attributes it writes and its condition names.
    fn record_put(
        &self,
        item: &HashMap<String, AttributeValue>,
        condition: Option<&str>,
        names: Option<&HashMap<String, String>>,
    ) {
        let mut attributes: BTreeSet<String> = item.keys().cloned().collect();
        attributes.extend(attribute_names([condition, None], names));
        self.record_naming("PutItem", Some(item), Some(attributes));
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

/// What a read without a projection names: every attribute, which no attribute list allows.
const ALL_ATTRIBUTES: &str = "(all attributes)";

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
            batch_get_item::BatchGetItemInput, get_item::GetItemInput, put_item::PutItemInput,
            query::QueryInput, transact_write_items::TransactWriteItemsInput,
            update_item::UpdateItemInput,
        };
        let input = context.input();
        if let Some(get) = input.downcast_ref::<GetItemInput>() {
            self.record("GetItem", get.key());
        } else if let Some(put) = input.downcast_ref::<PutItemInput>() {
            self.record_put(
                put.item().unwrap_or(&HashMap::new()),
                put.condition_expression(),
                put.expression_attribute_names(),
            );
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
                let read = match wanted.projection_expression() {
                    Some(projection) => attribute_names(
                        [Some(projection), None],
                        wanted.expression_attribute_names(),
                    ),
                    None => BTreeSet::from([ALL_ATTRIBUTES.to_owned()]),
                };
                for key in wanted.keys() {
                    let mut named: BTreeSet<String> = key.keys().cloned().collect();
                    named.extend(read.iter().cloned());
                    self.record_naming("BatchGetItem", Some(key), Some(named));
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
                    self.record_put(
                        put.item(),
                        put.condition_expression(),
                        put.expression_attribute_names(),
                    );
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
                    let mut named: BTreeSet<String> = delete.key().keys().cloned().collect();
                    named.extend(attribute_names(
                        [delete.condition_expression(), None],
                        delete.expression_attribute_names(),
                    ));
                    self.record_naming("DeleteItem", Some(delete.key()), Some(named));
                } else if let Some(check) = item.condition_check() {
                    self.record("ConditionCheckItem", Some(check.key()));
                }
            }
        } else {
            let put_events =
                input.downcast_ref::<aws_sdk_eventbridge::operation::put_events::PutEventsInput>();
            match put_events {
                // The bus each entry goes to stands in for the partition.
                Some(put) => {
                    for entry in put.entries() {
                        self.0.lock().unwrap().insert(Seen {
                            action: "events:PutEvents".into(),
                            partition: entry.event_bus_name().unwrap_or("default").to_owned(),
                            attributes: None,
                        });
                    }
                }
                None => self.record("(unrecorded operation)", None),
            }
        }
        Ok(())
    }
}

async fn recording_api(t: &TestApi, recorder: &Recorder) -> State {
    let sdk = sdk_config(Budget::MANAGEMENT).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(recorder.clone())
        .build();
    let mut api = t.state.clone();
    api.store = Store::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        t.table_name(),
        api.config.limits,
    )
    .with_clock(t.clock.clock());
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
        t.state.config.limits,
    )
    .with_clock(t.clock.clock());
    KeyVerifier::new(store, t.pepper.clone(), t.state.config.key_mode)
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
    // Nor may it do more than its code does: every action its code could take was seen (the
    // stream and dead-letter actions of the publisher's role are its event source mapping's).
    let by_mapping: BTreeSet<String> = EVENT_PUBLISHER_GRANTS
        .iter()
        .filter(|(_, on)| *on != PublisherResource::EventBus)
        .flat_map(|(actions, _)| actions.iter().map(|a| a.to_string()))
        .collect();
    let unused: Vec<&String> = allowed
        .iter()
        .filter(|a| a.starts_with("dynamodb:") || a.starts_with("events:"))
        .filter(|a| !by_mapping.contains(*a) && !seen.contains(*a))
        .collect();
    assert!(
        unused.is_empty(),
        "{function} may do {unused:?}, which it was never seen to do"
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

/// The event publisher, putting on a bus of the local endpoint with a recording client.
async fn recording_publisher(recorder: &Recorder) -> event_publisher::Publisher {
    let sdk = sdk_config(Budget::MANAGEMENT).await;
    let bus = format!("appkeys-permissions-{}", uuid::Uuid::new_v4());
    let events = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&sdk)
            .interceptor(recorder.clone())
            .build(),
    );
    aws_sdk_eventbridge::Client::new(&sdk)
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("a bus on the local endpoint");
    event_publisher::Publisher { events, bus }
}

/// Sends `call` twice, then once more with another body under the same key: the second is the
/// first's replay (read from the key's record), the third is 422.
async fn with_key_twice_and_reused(
    api: &State,
    t: &TestApi,
    function: &str,
    call: impl Fn(&str) -> Call,
    other: Call,
    key: &str,
) -> api_tests::TestResponse {
    let first = send(api, t, function, call(key)).await;
    let replay = send(api, t, function, call(key)).await;
    assert_eq!(
        (replay.status, replay.header("idempotent-replayed")),
        (first.status, Some("true")),
        "{function}: {}",
        replay.body
    );
    assert_eq!(replay.json, first.json);
    send(api, t, function, other.idempotency_key(key))
        .await
        .assert_problem(422, "idempotency_key_reused");
    first
}

async fn send(api: &State, t: &TestApi, function: &str, call: Call) -> api_tests::TestResponse {
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
        "list-events",
        "report-leaked-keys",
        "authorizer",
        "event-publisher",
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

    // With an Idempotency-Key: created, replayed, reused with another body; a kept refusal (the
    // name is taken), replayed.
    let create_app = |name: &'static str| {
        move |key: &str| {
            Call::post(
                "/api/v1/applications",
                "/api/v1/applications",
                json!({ "name": name }),
            )
            .idempotency_key(key)
        }
    };
    let other_app = Call::post(
        "/api/v1/applications",
        "/api/v1/applications",
        json!({"name": "Other"}),
    );
    assert_eq!(
        with_key_twice_and_reused(
            &creating,
            &t,
            "create-application",
            create_app("Staging"),
            other_app.clone(),
            "app-1"
        )
        .await
        .status,
        201
    );
    with_key_twice_and_reused(
        &creating,
        &t,
        "create-application",
        create_app("PROD"),
        other_app,
        "app-2",
    )
    .await
    .assert_problem(409, "name_taken");

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
            &api_tests::caller_of(&merchant, &appkeys::domain::audit::Origin::system("test")),
            app_id,
            expiring,
            None,
        )
        .await
        .map(api_tests::fresh)
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

    // With an Idempotency-Key, at the limit: a kept refusal (the limit), replayed.
    with_key_twice_and_reused(
        &keys,
        &t,
        "create-api-key",
        |key| Call::create_key(&app, json!({"description": "over"})).idempotency_key(key),
        Call::create_key(&app, json!({"description": "other"})),
        "key-1",
    )
    .await
    .assert_problem(400, "key_limit_reached");

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
    // With an Idempotency-Key: rolled (the key made at the last roll), replayed, reused; a kept
    // refusal (already rolled), replayed.
    let rolled = with_key_twice_and_reused(
        &rolling,
        &t,
        "roll-api-key",
        |key| roll(rolled.text("id"), 3600).idempotency_key(key),
        roll(rolled.text("id"), 60),
        "roll-1",
    )
    .await;
    assert_eq!(rolled.status, 201, "{}", rolled.body);
    with_key_twice_and_reused(
        &rolling,
        &t,
        "roll-api-key",
        |key| roll(rolled_at_once.text("id"), 3600).idempotency_key(key),
        roll(rolled_at_once.text("id"), 60),
        "roll-2",
    )
    .await
    .assert_problem(400, "key_already_rolled");

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

    // list-events: two pages.
    let listing_events = api("list-events").await;
    let page = send(
        &listing_events,
        &t,
        "list-events",
        Call::events(&app, "limit=2"),
    )
    .await;
    assert_eq!(page.json["hasMore"], true, "{}", page.body);
    let after = page.json["items"][1]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        send(
            &listing_events,
            &t,
            "list-events",
            Call::events(&app, &format!("limit=2&startingAfter={after}"))
        )
        .await
        .status,
        200
    );

    // report-leaked-keys: a signed report naming an active key of the application (revoked, past
    // the history bound, so the oldest retired key is trimmed), the same key again, a key
    // revoked before, a well-formed unknown key and garbage.
    let reporting =
        local_gateway::Functions::new(api("report-leaked-keys").await, t.pepper.clone());
    let signer = local_gateway::signer::Signer::generate("permissions-key");
    let keys =
        local_gateway::signer::KeysServer::start(local_gateway::signer::keys_document(&[&signer]))
            .await;
    let reporting =
        reporting.with_signing_keys(appkeys::secret_scanning::PublicKeys::new(&keys.url));
    let unknown = appkeys::domain::key_format::FullKey::generate(t.state.config.key_mode)
        .expose_secret()
        .to_owned();
    let tokens = [
        rolled.text("fullKey"),
        rolled.text("fullKey"),
        reclaims.text("fullKey"),
        unknown,
        "ks_live_garbage".to_owned(),
    ];
    let body = serde_json::Value::Array(
        tokens
            .iter()
            .map(|token| json!({"token": token, "type": "appkeys_api_key", "url": "https://github.com/octo/leaky", "source": "content"}))
            .collect(),
    )
    .to_string();
    let report = api_tests::TestResponse::from(
        Box::pin(reporting.invoke(
            "report-leaked-keys",
            Call::leak_report(&body, &signer).into(),
        ))
        .await
        .unwrap(),
    );
    assert_eq!(report.status, 200, "{}", report.body);
    let labels: Vec<&str> = report
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|verdict| verdict["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "true_positive",
            "true_positive",
            "true_positive",
            "false_positive",
            "false_positive"
        ]
    );

    // event-publisher: every record of the table's stream so far, through its handler, as the
    // event source mapping hands them over (the local stand-in reads the stream with the actions
    // the mapping needs: ListStreams, DescribeStream, GetShardIterator, GetRecords).
    let publisher = recording_publisher(&recorder("event-publisher")).await;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("the local endpoint");
    let mut stream = local_gateway::stream::LocalStream::new(&endpoint, &t.table_name());
    while local_gateway::stream::publish_once(&mut stream, &publisher)
        .await
        .unwrap()
        > 0
    {}
    let buses: BTreeSet<String> = recorder("event-publisher")
        .seen()
        .into_iter()
        .map(|seen| seen.partition)
        .collect();
    assert_eq!(
        buses,
        BTreeSet::from([publisher.bus.clone()]),
        "it puts on its own bus only"
    );

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
    assert!(recorder("report-leaked-keys")
        .actions()
        .contains("dynamodb:DeleteItem"));
    // Its attribute-narrowed read is the store's projection, with the item's key.
    assert_eq!(
        api_tests::permissions::REPORT_REVOCATION_READS,
        [&["PK", "SK"][..], Store::REVOCATION_READS].concat()
    );
    // The report function's writes to lookup records name the revocation's attributes only.
    let on_lookups: BTreeSet<BTreeSet<String>> = recorder("report-leaked-keys")
        .seen()
        .into_iter()
        .filter(|seen| seen.partition == "KEYHASH#*" && seen.action != "dynamodb:BatchGetItem")
        .map(|seen| seen.attributes.expect("an update's attributes"))
        .collect();
    assert_eq!(
        on_lookups,
        BTreeSet::from([["PK", "SK", "keyStatus", "ttl"].map(String::from).into()])
    );
}

//! Least privilege, checked against behaviour: each function is run through its paths, common
//! and rare (a creation that reclaims an expired key's place and trims the history, a revocation
//! past the history bound), against the local endpoint, with a client that records every
//! DynamoDB action it takes (each item of a transaction as the action IAM authorises it as).
//! Every recorded action must be in `api_tests::permissions::PERMISSIONS`, which the deployment
//! test holds the template to: a permission the code needs and the template lacks would be an
//! `AccessDenied` in production that no local test could show otherwise.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use api_tests::permissions::{PARTITIONS, PERMISSIONS};
use api_tests::{generated_key, Call, TestApi, MERCHANT};
use appkeys::aws::{sdk_config, Budget};
use appkeys::config::Limits;
use appkeys::domain::{ApplicationId, MerchantId};
use appkeys::store::{CLOCK_SKEW_MARGIN_SECONDS, RETIRED_KEYS_KEPT};
use appkeys::{Api, Store};
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

/// Every (action, partition prefix) a client was seen to take.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<BTreeSet<(String, String)>>>);

impl Recorder {
    fn seen(&self) -> BTreeSet<(String, String)> {
        self.0.lock().unwrap().clone()
    }

    fn actions(&self) -> BTreeSet<String> {
        self.seen().into_iter().map(|(action, _)| action).collect()
    }

    fn partitions(&self) -> BTreeSet<String> {
        self.seen()
            .into_iter()
            .map(|(_, partition)| partition)
            .collect()
    }

    fn record(
        &self,
        action: &str,
        key: Option<&std::collections::HashMap<String, AttributeValue>>,
    ) {
        let partition = match key.and_then(|key| key.get("PK")) {
            Some(AttributeValue::S(pk)) => pk
                .split_once('#')
                .map_or(pk.clone(), |(prefix, _)| format!("{prefix}#*")),
            _ => "?".into(),
        };
        self.0
            .lock()
            .unwrap()
            .insert((format!("dynamodb:{action}"), partition));
    }
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
            self.record("UpdateItem", update.key());
        } else if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
            for item in transaction.transact_items() {
                if let Some(put) = item.put() {
                    self.record("PutItem", Some(put.item()));
                } else if let Some(update) = item.update() {
                    self.record("UpdateItem", Some(update.key()));
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
    if let Some((_, prefix)) = PARTITIONS.iter().find(|(f, _)| *f == function) {
        assert_eq!(
            recorder.partitions(),
            BTreeSet::from([prefix.to_string()]),
            "{function}"
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
    assert_eq!(
        send(
            &keys,
            &t,
            "create-api-key",
            Call::create_key(&app, json!({"description": "reclaims"}))
        )
        .await
        .status,
        201
    );
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

    // set-application-status and list-applications.
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

    for (function, recorder) in &recorders {
        assert_allowed(function, recorder);
    }
    // The rare paths were taken: the history was trimmed by both writers that retire keys.
    assert!(recorder("revoke-api-key")
        .actions()
        .contains("dynamodb:DeleteItem"));
    assert!(recorder("create-api-key")
        .actions()
        .contains("dynamodb:DeleteItem"));
}

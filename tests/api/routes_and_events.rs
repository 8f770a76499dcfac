//! One source of truth for the routes: the route table in `devkit/src/routes.rs` names exactly
//! the function binaries in `functions/`, and `cargo lambda watch`'s router agrees with it.
//! Every function has an event fixture under `events/` that its handler accepts: an API Gateway
//! event for each route, the authorizer's request, and a real DynamoDB Streams event for the
//! event publisher. (The SAM template is checked against the same table in `deployment/`.)

use std::collections::BTreeSet;
use std::path::PathBuf;

use api_tests::TestApi;
use devkit::routes::{Guard, AUTHORIZER_FUNCTION, EVENT_PUBLISHER_FUNCTION, ROUTES};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn function_binaries() -> BTreeSet<String> {
    std::fs::read_dir(workspace().join("functions"))
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.path().join("src/main.rs").exists())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_route_table_names_exactly_the_function_binaries() {
    let mut routed: BTreeSet<String> = ROUTES.iter().map(|r| r.function.to_owned()).collect();
    routed.insert(AUTHORIZER_FUNCTION.to_owned());
    routed.insert(EVENT_PUBLISHER_FUNCTION.to_owned());
    assert_eq!(routed, function_binaries());
}

#[test]
fn cargo_lambda_watch_routes_agree_with_the_route_table() {
    let manifest: toml::Table = std::fs::read_to_string(workspace().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .unwrap();
    let mut from_router = BTreeSet::new();
    for (path, routes) in router {
        // matchit spells a catch-all `{*name}`; API Gateway spells it `{name+}`.
        let path = match path.split_once("{*") {
            Some((head, tail)) => format!("{head}{{{}+}}", tail.trim_end_matches('}')),
            None => path.clone(),
        };
        match routes {
            toml::Value::String(function) => {
                from_router.insert(format!("ANY {path} -> {function}"));
            }
            toml::Value::Array(list) => {
                for route in list {
                    from_router.insert(format!(
                        "{} {path} -> {}",
                        route["method"].as_str().unwrap(),
                        route["function"].as_str().unwrap()
                    ));
                }
            }
            other => panic!("unexpected router entry {other:?}"),
        }
    }
    let from_table: BTreeSet<String> = ROUTES
        .iter()
        .map(|r| format!("{} -> {}", r.route_key(), r.function))
        .collect();
    assert_eq!(from_router, from_table);
}

fn event(function: &str) -> String {
    read_event_file(&format!("{function}.json"))
}

fn read_event_file(name: &str) -> String {
    std::fs::read_to_string(workspace().join("events").join(name))
        .unwrap_or_else(|_| panic!("events/{name} is missing"))
}

/// The public keys that sign `events/report-leaked-keys.json`, as GitHub publishes its own (the
/// private key was thrown away once the fixture was signed). Serve this file as
/// `SECRET_SCANNING_KEYS_URL` to invoke the fixture.
const FIXTURE_SIGNING_KEYS: &str = "report-leaked-keys.public-keys.json";

#[tokio::test]
async fn every_http_function_accepts_its_event_fixture() {
    let t = TestApi::new().await;
    let keys_document: serde_json::Value =
        serde_json::from_str(&read_event_file(FIXTURE_SIGNING_KEYS)).unwrap();
    let keys = local_gateway::signer::KeysServer::start(keys_document).await;
    let functions = t
        .functions()
        .with_signing_keys(appkeys::secret_scanning::PublicKeys::new(&keys.url));
    for route in ROUTES {
        let request = lambda_http::request::from_str(&event(route.function)).unwrap_or_else(|e| {
            panic!(
                "events/{}.json is not an HTTP API event: {e}",
                route.function
            )
        });
        let fixture: serde_json::Value = serde_json::from_str(&event(route.function)).unwrap();
        let authorizer = &fixture["requestContext"]["authorizer"];
        match route.guard {
            Guard::Jwt => assert!(
                authorizer["jwt"]["claims"].is_object(),
                "{}",
                route.function
            ),
            Guard::ApiKey => assert!(authorizer["lambda"].is_object(), "{}", route.function),
            // As API Gateway sends a route without an authorizer: no authorizer context at all,
            // GitHub's two headers.
            Guard::Signature => {
                assert!(authorizer.is_null(), "{}", route.function);
                for header in [
                    "github-public-key-identifier",
                    "github-public-key-signature",
                ] {
                    assert!(fixture["headers"][header].is_string(), "{header}");
                }
            }
            Guard::Public => assert!(authorizer.is_null(), "{}", route.function),
        }
        let response = functions.invoke(route.function, request).await.unwrap();
        let status = response.status().as_u16();
        // The fixtures' ids do not exist in a fresh table: 404 still proves the handler parsed
        // the event, found the merchant claim and the path parameters.
        // The report is signed by the published key and names a well-formed key that no table
        // holds: verified, looked up, labelled.
        let expected: &[u16] = match route.function {
            "create-application" => &[201],
            "list-applications" | "payments-echo" | "report-leaked-keys" => &[200],
            // Not configured in the tests' functions: the console answers 404.
            _ => &[404],
        };
        assert!(expected.contains(&status), "{}: {status}", route.function);
        if route.guard == Guard::Signature {
            let body: serde_json::Value = match response.body() {
                lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap(),
                other => panic!("{other:?}"),
            };
            assert_eq!(body[0]["label"], "false_positive", "{body}");
        }
    }
}

#[tokio::test]
async fn the_authorizer_accepts_its_event_fixture() {
    let t = TestApi::new().await;
    let request: authorizer::Request = serde_json::from_str(&event(AUTHORIZER_FUNCTION)).unwrap();
    let verifier = t
        .verifier(&devkit::counter::RequestCounter::default())
        .await;
    let response = authorizer::handler(
        &verifier,
        lambda_runtime::LambdaEvent::new(request, Default::default()),
    )
    .await
    .unwrap();
    assert!(
        !response.is_authorized,
        "the fixture's placeholder key must be denied"
    );
}

/// `events/event-publisher.json` is a real stream record (an application's creation, read from
/// moto's DynamoDB stream as the local event source mapping reads it): the publisher puts its
/// event on the bus, and a subscriber of the bus receives it as the contract says.
#[tokio::test]
async fn the_event_publisher_accepts_its_event_fixture() {
    let event: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_str(&event(EVENT_PUBLISHER_FUNCTION))
            .expect("events/event-publisher.json is a DynamoDB Streams event");
    let record = &event.records[0];
    assert_eq!(
        (record.event_name.as_str(), event.records.len()),
        ("INSERT", 1),
        "one new audit event"
    );
    let sdk = devkit::guard::sdk(appkeys::lambda::sdk::Budget::MANAGEMENT).await;
    let bus = format!("appkeys-fixture-{}", uuid::Uuid::new_v4());
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    events.create_event_bus().name(&bus).send().await.unwrap();
    let subscriber =
        local_gateway::subscriber::Subscriber::ensure(&sdk, &bus, &format!("{bus}-queue"))
            .await
            .unwrap();
    let publisher = event_publisher::Publisher {
        events,
        bus: bus.clone(),
    };
    let response = event_publisher::handler(
        &publisher,
        lambda_runtime::LambdaEvent::new(event.clone(), Default::default()),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let delivered = subscriber.received().await.unwrap();
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let image: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
        record.change.new_image.clone().into();
    let expected = appkeys::store::items::audit_event::from_item(&image).unwrap();
    assert_eq!(delivered[0]["source"], event_publisher::SOURCE);
    assert_eq!(delivered[0]["detail-type"], "application.created");
    assert_eq!(
        delivered[0]["detail"],
        serde_json::to_value(&expected).unwrap()
    );
}

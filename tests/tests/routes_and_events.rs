//! One source of truth for the routes: the route table in `shared/src/routes.rs` names exactly
//! the function binaries in `functions/`, and `cargo lambda watch`'s router agrees with it.
//! Every function has an event fixture under `events/` that its handler accepts.

use std::collections::BTreeSet;
use std::path::PathBuf;

use api_tests::TestApi;
use appkeys::routes::{AUTHORIZER_FUNCTION, ROUTES};

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
    std::fs::read_to_string(workspace().join("events").join(format!("{function}.json")))
        .unwrap_or_else(|_| panic!("events/{function}.json is missing"))
}

#[tokio::test]
async fn every_http_function_accepts_its_event_fixture() {
    let t = TestApi::new().await;
    for route in ROUTES {
        let request = lambda_http::request::from_str(&event(route.function)).unwrap_or_else(|e| {
            panic!(
                "events/{}.json is not an HTTP API event: {e}",
                route.function
            )
        });
        let response = t.functions().invoke(route.function, request).await.unwrap();
        let status = response.status().as_u16();
        // The fixtures' ids do not exist in a fresh table: 404 still proves the handler parsed
        // the event, found the merchant claim and the path parameters.
        let expected: &[u16] = match route.function {
            "create-application" => &[201],
            "list-applications" | "payments-echo" => &[200],
            _ => &[404],
        };
        assert!(expected.contains(&status), "{}: {status}", route.function);
    }
}

#[tokio::test]
async fn the_authorizer_accepts_its_event_fixture() {
    let t = TestApi::new().await;
    let request: authorizer::Request = serde_json::from_str(&event(AUTHORIZER_FUNCTION)).unwrap();
    let verifier = t.verifier(&appkeys::aws::RequestCounter::default()).await;
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

/// `infra/template.yaml`, with CloudFormation's short-form tags (`!Ref`, `!GetAtt`, …) kept as
/// tagged values.
fn template() -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(
        &std::fs::read_to_string(workspace().join("infra/template.yaml")).unwrap(),
    )
    .unwrap()
}

fn resources_of_type<'a>(
    template: &'a serde_yaml_ng::Value,
    kind: &str,
) -> Vec<(String, &'a serde_yaml_ng::Value)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
        .map(|(name, resource)| (name.as_str().unwrap().to_owned(), resource))
        .collect()
}

/// The logical ids named by `!GetAtt X.Arn` anywhere in `value`.
fn get_att_targets(value: &serde_yaml_ng::Value, found: &mut Vec<String>) {
    use serde_yaml_ng::Value;
    match value {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => {
            if let Some(target) = tagged.value.as_str() {
                found.push(target.trim_end_matches(".Arn").to_owned());
            }
        }
        Value::Tagged(tagged) => get_att_targets(&tagged.value, found),
        Value::Sequence(items) => items.iter().for_each(|item| get_att_targets(item, found)),
        Value::Mapping(map) => map.values().for_each(|item| get_att_targets(item, found)),
        _ => {}
    }
}

fn sub_string(value: &serde_yaml_ng::Value) -> &str {
    match value {
        serde_yaml_ng::Value::Tagged(tagged) if tagged.tag == "Sub" => {
            tagged.value.as_str().unwrap()
        }
        other => panic!("expected !Sub, got {other:?}"),
    }
}

fn pascal_case(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|word| word[..1].to_uppercase() + &word[1..])
        .collect()
}

#[test]
fn the_sam_template_deploys_exactly_the_function_binaries_and_the_route_table() {
    let template = template();
    let functions = resources_of_type(&template, "AWS::Serverless::Function");
    let mut binary_of = std::collections::HashMap::new();
    for (logical_id, function) in &functions {
        assert_eq!(
            function["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{logical_id}"
        );
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            logical_id,
            &pascal_case(&binary),
            "logical ids are the binaries' names in PascalCase"
        );
        binary_of.insert(logical_id.clone(), binary);
    }
    assert_eq!(
        binary_of.values().cloned().collect::<BTreeSet<_>>(),
        function_binaries()
    );

    // Routes: SAM HttpApi events (behind the default JWT authorizer) and explicit routes.
    let mut from_template = BTreeSet::new();
    for (logical_id, function) in &functions {
        if let Some(events) = function["Properties"]["Events"].as_mapping() {
            for event in events.values() {
                assert_eq!(event["Type"].as_str(), Some("HttpApi"));
                let p = &event["Properties"];
                assert_eq!(p["PayloadFormatVersion"].as_str(), Some("2.0"));
                from_template.insert(format!(
                    "{} {} -> {} ({:?})",
                    p["Method"].as_str().unwrap(),
                    p["Path"].as_str().unwrap(),
                    binary_of[logical_id],
                    appkeys::routes::Guard::Jwt
                ));
            }
        }
    }
    assert_eq!(
        template["Resources"]["HttpApi"]["Properties"]["Auth"]["DefaultAuthorizer"].as_str(),
        Some("JwtAuthorizer")
    );
    for (_, route) in resources_of_type(&template, "AWS::ApiGatewayV2::Route") {
        let p = &route["Properties"];
        assert_eq!(p["AuthorizationType"].as_str(), Some("CUSTOM"));
        let integration_id = sub_string(&p["Target"])
            .trim_start_matches("integrations/${")
            .trim_end_matches('}');
        let mut targets = Vec::new();
        get_att_targets(
            &template["Resources"][integration_id]["Properties"]["IntegrationUri"],
            &mut targets,
        );
        assert_eq!(targets.len(), 1, "the integration names one function");
        let authorizer_id = match &p["AuthorizerId"] {
            serde_yaml_ng::Value::Tagged(tagged) if tagged.tag == "Ref" => {
                tagged.value.as_str().unwrap().to_owned()
            }
            other => panic!("AuthorizerId {other:?}"),
        };
        assert_eq!(authorizer_id, "ApiKeyAuthorizer");
        from_template.insert(format!(
            "{} -> {} ({:?})",
            p["RouteKey"].as_str().unwrap(),
            binary_of[&targets[0]],
            appkeys::routes::Guard::ApiKey
        ));
    }
    let from_table: BTreeSet<String> = ROUTES
        .iter()
        .map(|r| format!("{} -> {} ({:?})", r.route_key(), r.function, r.guard))
        .collect();
    assert_eq!(from_template, from_table);

    // The API-key authorizer: the authorizer binary, payload 2.0, simple responses, no caching.
    let authorizer = &template["Resources"]["ApiKeyAuthorizer"]["Properties"];
    assert!(sub_string(&authorizer["AuthorizerUri"])
        .contains(&format!("${{{}.Arn}}", pascal_case(AUTHORIZER_FUNCTION))));
    assert_eq!(
        authorizer["AuthorizerPayloadFormatVersion"].as_str(),
        Some("2.0")
    );
    assert_eq!(authorizer["EnableSimpleResponses"].as_bool(), Some(true));
    assert_eq!(
        authorizer["AuthorizerResultTtlInSeconds"].as_u64(),
        Some(0),
        "caching would outlive revocations"
    );
    assert_eq!(
        authorizer["IdentitySource"][0].as_str(),
        Some("$request.header.Authorization")
    );
}

/// What each function's code calls, and so all its role may do. `TransactWriteItems` is
/// authorised per item: `PutItem` / `UpdateItem`.
const PERMISSIONS: &[(&str, &[&str])] = &[
    (
        "create-application",
        &["dynamodb:PutItem", "dynamodb:UpdateItem"],
    ),
    ("list-applications", &["dynamodb:GetItem", "dynamodb:Query"]),
    (
        "set-application-status",
        &["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"],
    ),
    (
        "create-api-key",
        &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "secretsmanager:GetSecretValue",
        ],
    ),
    (
        "revoke-api-key",
        &["dynamodb:GetItem", "dynamodb:UpdateItem"],
    ),
    (
        "authorizer",
        &["dynamodb:GetItem", "secretsmanager:GetSecretValue"],
    ),
    ("payments-echo", &[]),
];

#[test]
fn each_function_may_do_exactly_what_its_code_does() {
    let template = template();
    for (logical_id, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        let mut actions = BTreeSet::new();
        for policy in function["Properties"]["Policies"].as_sequence().unwrap() {
            let statements = policy["Statement"]
                .as_sequence()
                .expect("inline statements only, no managed policies");
            for statement in statements {
                assert_eq!(statement["Effect"].as_str(), Some("Allow"));
                assert!(
                    !matches!(&statement["Resource"], serde_yaml_ng::Value::String(s) if s.contains('*')),
                    "{logical_id}: no wildcard resources"
                );
                match &statement["Action"] {
                    serde_yaml_ng::Value::String(action) => {
                        actions.insert(action.clone());
                    }
                    serde_yaml_ng::Value::Sequence(list) => {
                        actions.extend(list.iter().map(|a| a.as_str().unwrap().to_owned()));
                    }
                    other => panic!("{logical_id}: Action {other:?}"),
                }
            }
        }
        assert!(
            actions.iter().all(|a| !a.contains('*')),
            "{logical_id}: no wildcard actions"
        );
        let expected: BTreeSet<String> = PERMISSIONS
            .iter()
            .find(|(name, _)| *name == binary)
            .unwrap_or_else(|| panic!("{binary} has no entry in PERMISSIONS"))
            .1
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(actions, expected, "{logical_id}");
    }
    // The pepper is readable only by the functions that hash keys.
    let readers: BTreeSet<&str> = PERMISSIONS
        .iter()
        .filter(|(_, actions)| actions.contains(&"secretsmanager:GetSecretValue"))
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(readers, BTreeSet::from(["authorizer", "create-api-key"]));
}

//! The deployment, checked offline and strictly: `infra/template.yaml` transformed by SAM's own
//! translator into the CloudFormation that `sam deploy` would create, and evaluated for several
//! sets of parameters (`api_tests::cloudformation`). The checks follow the route table
//! (`devkit/src/routes.rs`), the functions' budgets and configuration, and the authorizer's log
//! format, so that a new route, function or setting is checked without editing this file.
//!
//! AWS documentation relied on:
//! - HTTP API routes from an OpenAPI definition, reimported as a whole on every update:
//!   serverless-application-model issues #1971 and #1650, aws-sam-cli #2834.
//! - Reserved headers of HTTP API parameter mapping:
//!   <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-parameter-mapping.html>
//! - JWT authorizers, scopes, `aud`/`client_id`:
//!   <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html>
//! - Access log variables: <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html>
//! - HTTP API metrics (`ApiId`, `Stage`, `Route` dimensions, detailed metrics):
//!   <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html>
//! - CORS: <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html>

use std::collections::{BTreeMap, BTreeSet};

use api_tests::cloudformation::{check_constraints, scalar, transformed, Stack};
use api_tests::{TestApi, MERCHANT};
use appkeys::domain::limits::{
    Limits, MAX_APPLICATIONS_PER_MERCHANT_RANGE, MAX_KEYS_PER_APPLICATION_RANGE,
};
use appkeys::lambda::config::{KEY_MODES, MERCHANT_CLAIM_PATTERN};
use appkeys::lambda::sdk::Budget;
use appkeys::lambda::Config;
use devkit::routes::{Guard, Route, Scopes, AUTHORIZER_FUNCTION, ROUTES};
use serde_json::{json, Value};

mod api;
mod events;
mod operability;
mod public_routes;
mod safety;

const BACKEND_URL: &str = "https://payments.internal.example";

fn echo_mode() -> Stack {
    Stack::deploy(&[])
}

fn backend_mode() -> Stack {
    Stack::deploy(&[("PaymentsBackendUrl", BACKEND_URL)])
}

fn workspace() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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

/// binary name → (logical id, the AWS::Lambda::Function).
fn functions(stack: &Stack) -> BTreeMap<String, (&str, &Value)> {
    stack
        .of_type("AWS::Lambda::Function")
        .into_iter()
        .map(|(id, function)| {
            let binary = function["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("{id} names no binary"));
            assert_eq!(
                function["Metadata"]["BuildMethod"], "rust-cargolambda",
                "{id}"
            );
            (binary.to_owned(), (id, function))
        })
        .collect()
}

fn logical_id_of(stack: &Stack, binary: &str) -> String {
    functions(stack)
        .get(binary)
        .unwrap_or_else(|| panic!("no function for {binary}"))
        .0
        .to_owned()
}

fn api(stack: &Stack) -> (&str, &Value) {
    let apis = stack.of_type("AWS::ApiGatewayV2::Api");
    assert_eq!(apis.len(), 1, "one HTTP API");
    apis[0]
}

fn definition(stack: &Stack) -> &Value {
    let body = &api(stack).1["Properties"]["Body"];
    assert!(body.is_object(), "the API is defined by its OpenAPI Body");
    body
}

/// Every operation of the API definition: (route key, operation).
fn operations(body: &Value) -> Vec<(String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in body["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let method = match method.as_str() {
                "x-amazon-apigateway-any-method" => "ANY".to_owned(),
                other => other.to_uppercase(),
            };
            found.push((format!("{method} {path}"), operation));
        }
    }
    found
}

fn operation<'a>(body: &'a Value, route: &Route) -> &'a Value {
    operations(body)
        .into_iter()
        .find(|(key, _)| *key == route.route_key())
        .unwrap_or_else(|| panic!("the API does not serve {}", route.route_key()))
        .1
}

/// SAM's name for "no authorizer on this route" (`Auth: Authorizer: NONE` on an `HttpApi` event,
/// the documented way to exempt one function from the API's `DefaultAuthorizer`): it writes
/// `security: [{"NONE": []}]`, and `NONE` is no security scheme of the API.
const NO_AUTHORIZER: &str = "NONE";

/// The guard an operation's `security` names. Every operation names one: an operation without
/// `security` would be open without saying so. `NONE` is read as the signature guard, the one
/// route whose function authenticates the caller itself; `api.rs` checks that it is that route
/// alone, and that no scheme of that name exists.
fn guard(operation: &Value) -> Gate {
    let security = operation["security"].as_array().expect("security");
    assert_eq!(security.len(), 1, "one authorizer: {security:?}");
    let names: Vec<&String> = security[0].as_object().unwrap().keys().collect();
    match names.as_slice() {
        [name] if *name == "JwtAuthorizer" => Gate::Jwt,
        [name] if *name == "ApiKeyAuthorizer" => Gate::ApiKey,
        [name] if *name == NO_AUTHORIZER => Gate::None,
        other => panic!("unexpected authorizer {other:?}"),
    }
}

/// What API Gateway puts in front of a route: the routes whose function authenticates the caller
/// itself and the static ones alike have no authorizer.
#[derive(Debug, PartialEq, Eq)]
enum Gate {
    Jwt,
    ApiKey,
    None,
}

impl From<Guard> for Gate {
    fn from(guard: Guard) -> Self {
        match guard {
            Guard::Jwt => Gate::Jwt,
            Guard::ApiKey => Gate::ApiKey,
            Guard::Signature | Guard::Public => Gate::None,
        }
    }
}

fn lambda_target(integration: &Value) -> &str {
    assert_eq!(integration["type"], "aws_proxy", "{integration}");
    assert_eq!(integration["payloadFormatVersion"], "2.0");
    let uri = integration["uri"].as_str().unwrap();
    uri.split("/functions/")
        .nth(1)
        .and_then(|rest| rest.strip_suffix(".Arn/invocations"))
        .unwrap_or_else(|| panic!("not a Lambda integration: {uri}"))
}

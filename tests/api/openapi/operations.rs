use std::collections::BTreeSet;

use api_tests::openapi::{description, openapi_path, ANY_METHODS};
use appkeys::domain::key_format::{check_format, KeyMode};
use devkit::routes::{Guard, ROUTES};
use serde_json::{json, Value};

#[test]
fn the_description_documents_exactly_the_route_table() {
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .flat_map(|route| {
            let methods: Vec<&str> = if route.method == "ANY" {
                ANY_METHODS.to_vec()
            } else {
                vec![route.method]
            };
            methods
                .into_iter()
                .map(|method| (method.to_owned(), openapi_path(route.path)))
        })
        .collect();
    assert_eq!(description().operations(), expected);
}

#[test]
fn each_operation_names_the_security_of_its_guard_and_its_path_parameters() {
    let doc = description();
    let mut operation_ids = BTreeSet::new();
    for (method, path) in doc.operations() {
        let route = devkit::routes::ROUTES
            .iter()
            .find(|r| openapi_path(r.path) == path)
            .unwrap();
        let operation = doc.operation(&method, &path).unwrap();
        let security = match route.guard {
            Guard::Jwt => json!([{ "merchantJwt": [] }]),
            Guard::ApiKey => json!([{ "apiKey": [] }]),
            Guard::Signature => json!([{ "githubSignature": [] }]),
            Guard::Public => json!([]),
        };
        assert_eq!(operation["security"], security, "{method} {path}");
        assert!(
            operation_ids.insert(operation["operationId"].as_str().unwrap().to_owned()),
            "operationId of {method} {path} is not unique"
        );

        // Every `{name}` of the path is a documented path parameter, and nothing else is.
        let mut documented: BTreeSet<String> = BTreeSet::new();
        for parameters in [
            &doc.document["paths"][&path]["parameters"],
            &operation["parameters"],
        ] {
            for parameter in parameters.as_array().into_iter().flatten() {
                let parameter = doc.resolve(parameter);
                if parameter["in"] == "path" {
                    assert_eq!(parameter["required"], true, "{method} {path}");
                    documented.insert(parameter["name"].as_str().unwrap().to_owned());
                }
            }
        }
        let in_path: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        assert_eq!(documented, in_path, "{method} {path}");

        // Management routes document the function's and the gateway's failures.
        if route.guard == Guard::Jwt {
            for status in ["401", "500"] {
                assert!(
                    operation["responses"].get(status).is_some(),
                    "{method} {path} lacks {status}"
                );
            }
        }
    }
}

/// Every example in the description is valid against the schema it illustrates.
#[test]
fn examples_are_valid() {
    let doc = description();
    let mut checked = 0;
    let mut check = |schema: &Value, example: &Value, what: &str| {
        let problems = doc.violations(schema, example);
        assert!(problems.is_empty(), "{what}: {problems:?}");
        checked += 1;
    };
    for (method, path) in doc.operations() {
        let operation = doc.operation(&method, &path).unwrap();
        let mut media_types = Vec::new();
        if let Some(body) = operation.get("requestBody") {
            media_types.extend(doc.resolve(body)["content"].as_object().unwrap().values());
        }
        for response in operation["responses"].as_object().unwrap().values() {
            if let Some(content) = doc.resolve(response).get("content") {
                media_types.extend(content.as_object().unwrap().values());
            }
        }
        for media in media_types {
            if let Some(example) = media.get("example") {
                check(&media["schema"], example, &format!("{method} {path}"));
            }
            for example in media
                .get("examples")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let example = &doc.resolve(example.1)["value"];
                check(&media["schema"], example, &format!("{method} {path}"));
            }
        }
    }
    assert!(checked >= 10, "only {checked} examples");

    // The example keys are real ones: they pass the checks the authorizer makes before any read.
    for example in ["CreatedApiKey", "RolledApiKey"] {
        let key = &doc.document["components"]["examples"][example]["value"]["fullKey"];
        assert!(
            check_format(key.as_str().unwrap(), KeyMode::Live).is_ok(),
            "{example}"
        );
    }
}

//! `docs/openapi.yaml`, read as the tests' oracle: every response the harness receives is checked
//! against the operation it answers (documented status, content type, required headers, body
//! schema), so the description cannot drift from what the functions and the gateway answer.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::Validator;
use serde_json::{json, Value};

use crate::TestResponse;

pub const OPENAPI_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml");

/// The methods OpenAPI can name; API Gateway's `ANY` is listed as the ones a payment call uses.
pub const ANY_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const OPENAPI_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The description's path for a route of the route table. API Gateway's greedy `{name+}` is
/// `{name}` there: OpenAPI has no greedy parameters, and generated clients match `{name}` only
/// (openapi-python-client skips an operation whose path has `{proxy+}`). The value may hold `/`.
pub fn openapi_path(route_path: &str) -> String {
    route_path.replace("+}", "}")
}

pub struct ApiDescription {
    pub document: Value,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

/// The description, parsed once per test binary.
pub fn description() -> &'static ApiDescription {
    static DESCRIPTION: OnceLock<ApiDescription> = OnceLock::new();
    DESCRIPTION.get_or_init(|| {
        let text = std::fs::read_to_string(OPENAPI_PATH).expect("docs/openapi.yaml is readable");
        let document: Value = serde_yaml_ng::from_str(&text).expect("docs/openapi.yaml is YAML");
        ApiDescription {
            document,
            validators: Mutex::new(HashMap::new()),
        }
    })
}

impl ApiDescription {
    /// Every `(METHOD, path)` the description documents.
    pub fn operations(&self) -> BTreeSet<(String, String)> {
        let mut operations = BTreeSet::new();
        for (path, item) in self.document["paths"].as_object().expect("paths") {
            for method in OPENAPI_METHODS {
                if item.get(method).is_some() {
                    operations.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        operations
    }

    /// The operation for `method` on `path` (a description path, or a route-table path).
    pub fn operation(&self, method: &str, path: &str) -> Option<&Value> {
        self.document["paths"]
            .get(openapi_path(path))?
            .get(method.to_ascii_lowercase())
    }

    /// Follows a local `$ref` (`#/components/...`), as many times as it takes.
    pub fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("only local references are used: {reference}"));
            value = self
                .document
                .pointer(pointer)
                .unwrap_or_else(|| panic!("dangling reference {reference}"));
        }
        value
    }

    /// A validator for a schema of the description; its `#/components/...` references resolve
    /// against the description's own components.
    pub fn validator(&self, schema: &Value) -> Arc<Validator> {
        let key = schema.to_string();
        let mut validators = self.validators.lock().unwrap();
        if let Some(validator) = validators.get(&key) {
            return validator.clone();
        }
        let wrapped = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "allOf": [schema],
            "components": self.document["components"],
        });
        let validator = Arc::new(
            jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&wrapped)
                .unwrap_or_else(|err| panic!("schema {schema} does not compile: {err}")),
        );
        validators.insert(key, validator.clone());
        validator
    }

    /// Every way `instance` fails `schema`, or nothing.
    pub fn violations(&self, schema: &Value, instance: &Value) -> Vec<String> {
        self.validator(schema)
            .iter_errors(instance)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect()
    }

    pub fn schema(&self, name: &str) -> Value {
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    /// Why `response` is not what the description documents for `method path`, if it is not.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        response: &TestResponse,
    ) -> Result<(), String> {
        let operation = self
            .operation(method, path)
            .ok_or_else(|| format!("{method} {path} is not documented"))?;
        let responses = &operation["responses"];
        let status = response.status.to_string();
        let range = format!("{}XX", response.status / 100);
        let documented = responses
            .get(&status)
            .or_else(|| responses.get(&range))
            .or_else(|| responses.get("default"))
            .ok_or_else(|| format!("status {status} is not documented for {method} {path}"))?;
        let documented = self.resolve(documented);

        if let Some(headers) = documented.get("headers").and_then(Value::as_object) {
            for (name, header) in headers {
                let header = self.resolve(header);
                match response.header(name) {
                    Some(value) => {
                        let problems = self.violations(&header["schema"], &json!(value));
                        if !problems.is_empty() {
                            return Err(format!("header {name}: {}", problems.join("; ")));
                        }
                    }
                    None if header["required"] == json!(true) => {
                        return Err(format!("required header {name} is missing"));
                    }
                    None => {}
                }
            }
        }

        match documented.get("content").and_then(Value::as_object) {
            None => {
                if response.body.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "{status} is documented without a body, got {}",
                        response.body
                    ))
                }
            }
            Some(content) => {
                let content_type = response
                    .header("content-type")
                    .map(|value| value.split(';').next().unwrap_or("").trim())
                    .unwrap_or("");
                let media = content.get(content_type).ok_or_else(|| {
                    format!(
                        "content type {content_type:?} is not documented for {status} (documented: {:?})",
                        content.keys().collect::<Vec<_>>()
                    )
                })?;
                // A page or an asset (the console): its bytes, as a string.
                if !content_type.ends_with("json") {
                    return if media["schema"]["type"] == "string" {
                        Ok(())
                    } else {
                        Err(format!(
                            "{content_type} is documented with a non-string schema"
                        ))
                    };
                }
                let body: Value = serde_json::from_str(&response.body)
                    .map_err(|err| format!("body is not JSON ({err}): {}", response.body))?;
                let problems = self.violations(&media["schema"], &body);
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "body {} does not match: {}",
                        response.body,
                        problems.join("; ")
                    ))
                }
            }
        }
    }
}

/// Panics, naming the mismatch, when a response is not what the description documents for
/// `method` on a route of the route table. Methods the description cannot list (`HEAD` on the
/// payment route's `ANY`) are not checked.
pub fn assert_documented(method: &str, route_path: &str, response: &TestResponse) {
    let description = description();
    if description.operation(method, route_path).is_none() {
        return;
    }
    if let Err(problem) = description.check_response(method, route_path, response) {
        panic!(
            "{method} {route_path} answered {} contrary to docs/openapi.yaml: {problem}",
            response.status
        );
    }
}

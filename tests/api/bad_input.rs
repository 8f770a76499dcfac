//! Every kind of bad input the contract lists gets a 4xx problem+json with a clear message, and
//! the table is unchanged afterwards.

use api_tests::{Call, TestApi, MERCHANT};
use serde_json::json;

struct Case {
    what: &'static str,
    call: Call,
    status: u16,
    code: &'static str,
    /// The field the error must name, for validation errors.
    field: Option<&'static str>,
}

fn case(
    what: &'static str,
    call: Call,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
) -> Case {
    Case {
        what,
        call: call.merchant(MERCHANT),
        status,
        code,
        field,
    }
}

const APPS: &str = "/api/v1/applications";

fn create_app(body: &str) -> Call {
    Call::new("POST", APPS, APPS).body(body)
}

#[tokio::test]
async fn every_bad_input_is_a_4xx_problem_and_writes_nothing() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Existing").await;
    let key = t.create_key(MERCHANT, &app, "k").await.text("id");
    let before = t.snapshot().await;

    let key_call = |body: &str| Call::create_key(&app, json!(null)).body(body);
    let status_call = |body: &str| Call::set_status(&app, json!(null)).body(body);
    let cases = vec![
        // Malformed bodies.
        case(
            "malformed JSON",
            create_app("{\"name\": "),
            400,
            "validation_failed",
            Some("body"),
        ),
        case(
            "trailing garbage",
            create_app("{\"name\": \"a\"} x"),
            400,
            "validation_failed",
            Some("body"),
        ),
        case(
            "JSON array",
            create_app("[\"a\"]"),
            400,
            "validation_failed",
            Some("body"),
        ),
        case(
            "JSON string",
            create_app("\"a\""),
            400,
            "validation_failed",
            Some("body"),
        ),
        case(
            "JSON null",
            create_app("null"),
            400,
            "validation_failed",
            Some("body"),
        ),
        case(
            "empty body",
            Call::new("POST", APPS, APPS),
            400,
            "validation_failed",
            Some("body"),
        ),
        case(
            "blank body",
            create_app("  "),
            400,
            "validation_failed",
            Some("body"),
        ),
        case(
            "body over 16 KiB",
            create_app(&format!(
                "{{\"name\":\"a\",\"description\":\"{}\"}}",
                "d".repeat(16 * 1024)
            )),
            413,
            "payload_too_large",
            None,
        ),
        // A member given twice: ambiguous, in every body.
        case(
            "name twice",
            create_app(r#"{"name": "a", "name": "b"}"#),
            400,
            "validation_failed",
            Some("name"),
        ),
        case(
            "description twice",
            key_call(r#"{"description": "a", "description": "a"}"#),
            400,
            "validation_failed",
            Some("description"),
        ),
        case(
            "isEnabled twice",
            status_call(r#"{"isEnabled": true, "isEnabled": false}"#),
            400,
            "validation_failed",
            Some("isEnabled"),
        ),
        case(
            "a nested member twice",
            create_app(r#"{"name": "a", "extra": {"x": 1, "x": 2}}"#),
            400,
            "validation_failed",
            Some("extra.x"),
        ),
        // Look-alike text: invisible and direction-changing characters.
        case(
            "zero-width space in a name",
            create_app("{\"name\": \"Pay\\u200Bments\"}"),
            400,
            "validation_failed",
            Some("name"),
        ),
        case(
            "right-to-left override in a key description",
            key_call("{\"description\": \"a\\u202Eb\"}"),
            400,
            "validation_failed",
            Some("description"),
        ),
        case(
            "carriage return inside a description",
            key_call("{\"description\": \"a\\r\\nb\"}"),
            400,
            "validation_failed",
            Some("description"),
        ),
        // Application fields.
        case(
            "missing name",
            create_app("{}"),
            400,
            "validation_failed",
            Some("name"),
        ),
        case(
            "null name",
            create_app("{\"name\": null}"),
            400,
            "validation_failed",
            Some("name"),
        ),
        case(
            "numeric name",
            create_app("{\"name\": 42}"),
            400,
            "validation_failed",
            Some("name"),
        ),
        case(
            "object name",
            create_app("{\"name\": {\"a\": 1}}"),
            400,
            "validation_failed",
            Some("name"),
        ),
        case(
            "blank name",
            create_app("{\"name\": \"   \"}"),
            400,
            "validation_failed",
            Some("name"),
        ),
        case(
            "name over 100",
            create_app(&json!({"name": "n".repeat(101)}).to_string()),
            400,
            "validation_failed",
            Some("name"),
        ),
        case(
            "name with a control character",
            create_app("{\"name\": \"a\\u0007b\"}"),
            400,
            "validation_failed",
            Some("name"),
        ),
        case(
            "name with a newline",
            create_app("{\"name\": \"a\\nb\"}"),
            400,
            "validation_failed",
            Some("name"),
        ),
        case(
            "unknown field",
            create_app("{\"name\": \"ok\", \"colour\": \"red\"}"),
            400,
            "validation_failed",
            Some("colour"),
        ),
        case(
            "description wrong type",
            create_app("{\"name\": \"ok\", \"description\": 5}"),
            400,
            "validation_failed",
            Some("description"),
        ),
        case(
            "description blank",
            create_app("{\"name\": \"ok\", \"description\": \" \"}"),
            400,
            "validation_failed",
            Some("description"),
        ),
        case(
            "description over 500",
            create_app(&json!({"name": "ok", "description": "d".repeat(501)}).to_string()),
            400,
            "validation_failed",
            Some("description"),
        ),
        case(
            "isEnabled on create",
            create_app("{\"name\": \"ok\", \"isEnabled\": false}"),
            400,
            "validation_failed",
            Some("isEnabled"),
        ),
        // Key fields.
        case(
            "key without description",
            key_call("{}"),
            400,
            "validation_failed",
            Some("description"),
        ),
        case(
            "key description blank",
            key_call("{\"description\": \"\\t \"}"),
            400,
            "validation_failed",
            Some("description"),
        ),
        case(
            "key description null",
            key_call("{\"description\": null}"),
            400,
            "validation_failed",
            Some("description"),
        ),
        case(
            "key description over 200",
            key_call(&json!({"description": "d".repeat(201)}).to_string()),
            400,
            "validation_failed",
            Some("description"),
        ),
        case(
            "key description wrong type",
            key_call("{\"description\": [\"a\"]}"),
            400,
            "validation_failed",
            Some("description"),
        ),
        case(
            "key unknown field",
            key_call("{\"description\": \"a\", \"scopes\": []}"),
            400,
            "validation_failed",
            Some("scopes"),
        ),
        case(
            "key body not an object",
            key_call("true"),
            400,
            "validation_failed",
            Some("body"),
        ),
        // Status fields.
        case(
            "status missing",
            status_call("{}"),
            400,
            "validation_failed",
            Some("isEnabled"),
        ),
        case(
            "status as string",
            status_call("{\"isEnabled\": \"false\"}"),
            400,
            "validation_failed",
            Some("isEnabled"),
        ),
        case(
            "status as number",
            status_call("{\"isEnabled\": 0}"),
            400,
            "validation_failed",
            Some("isEnabled"),
        ),
        case(
            "status null",
            status_call("{\"isEnabled\": null}"),
            400,
            "validation_failed",
            Some("isEnabled"),
        ),
        case(
            "status unknown field",
            status_call("{\"isEnabled\": false, \"name\": \"x\"}"),
            400,
            "validation_failed",
            Some("name"),
        ),
        // Path ids that are not UUIDs.
        case(
            "app id not a UUID (key)",
            Call::create_key("123", json!({"description": "a"})),
            404,
            "not_found",
            None,
        ),
        case(
            "app id not a UUID (status)",
            Call::set_status("../x", json!({"isEnabled": false})),
            404,
            "not_found",
            None,
        ),
        case(
            "key id not a UUID",
            Call::revoke_key(&app, "not-a-uuid"),
            404,
            "not_found",
            None,
        ),
        case(
            "app id not a UUID (revoke)",
            Call::revoke_key("x", &key),
            404,
            "not_found",
            None,
        ),
        // Query values.
        case(
            "page 0",
            Call::list("page=0"),
            400,
            "validation_failed",
            Some("page"),
        ),
        case(
            "page negative",
            Call::list("page=-1"),
            400,
            "validation_failed",
            Some("page"),
        ),
        case(
            "page not a number",
            Call::list("page=two"),
            400,
            "validation_failed",
            Some("page"),
        ),
        case(
            "limit 0",
            Call::list("limit=0"),
            400,
            "validation_failed",
            Some("limit"),
        ),
        case(
            "limit 101",
            Call::list("limit=101"),
            400,
            "validation_failed",
            Some("limit"),
        ),
        case(
            "limit fractional",
            Call::list("limit=1.5"),
            400,
            "validation_failed",
            Some("limit"),
        ),
        case(
            "include other",
            Call::list("include=secrets"),
            400,
            "validation_failed",
            Some("include"),
        ),
        case(
            "include empty",
            Call::list("include="),
            400,
            "validation_failed",
            Some("include"),
        ),
        case(
            "unknown query parameter",
            Call::list("sort=name"),
            400,
            "validation_failed",
            Some("sort"),
        ),
        case(
            "repeated query parameter",
            Call::list("page=1&page=2"),
            400,
            "validation_failed",
            Some("page"),
        ),
        // The routes that take no query parameter refuse any.
        case(
            "query parameter on create application",
            create_app("{\"name\": \"New\"}").query("dryRun=true"),
            400,
            "validation_failed",
            Some("dryRun"),
        ),
        case(
            "query parameter on set status",
            status_call("{\"isEnabled\": false}").query("force=1"),
            400,
            "validation_failed",
            Some("force"),
        ),
        case(
            "query parameter on create key",
            key_call("{\"description\": \"d\"}").query("expand=all"),
            400,
            "validation_failed",
            Some("expand"),
        ),
        case(
            "query parameter on revoke",
            Call::revoke_key(&app, &key).query("reason=leak"),
            400,
            "validation_failed",
            Some("reason"),
        ),
        case(
            "query parameter on get application",
            Call::get_application(&app).query("include=apiKeys"),
            400,
            "validation_failed",
            Some("include"),
        ),
        case(
            "query parameter on roll",
            Call::roll_key(&app, &key, json!({"expiresInSeconds": 60})).query("at=now"),
            400,
            "validation_failed",
            Some("at"),
        ),
    ];

    for Case {
        what,
        call,
        status,
        code,
        field,
    } in cases
    {
        let response = t.send(call.into()).await;
        assert_eq!(response.status, status, "{what}: {}", response.body);
        response.assert_problem(status, code);
        if let Some(field) = field {
            let errors = response.json["errors"]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: no errors[]"));
            assert!(
                errors
                    .iter()
                    .any(|e| e["field"] == field
                        && e["message"].as_str().is_some_and(|m| !m.is_empty())),
                "{what}: errors should name `{field}`: {}",
                response.body
            );
        }
        assert_eq!(t.snapshot().await, before, "{what} changed the table");
    }
}

#[tokio::test]
async fn validation_reports_every_problem_at_once() {
    let t = TestApi::new().await;
    let r = t
        .send(
            create_app("{\"name\": \"\", \"description\": 3, \"extra\": 1}")
                .merchant(MERCHANT)
                .into(),
        )
        .await;
    r.assert_problem(400, "validation_failed");
    let fields: Vec<_> = r.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields.len(), 3, "{}", r.body);
    for field in ["name", "description", "extra"] {
        assert!(
            fields.contains(&field.to_owned()),
            "{field} missing from {fields:?}"
        );
    }
}

#[tokio::test]
async fn limits_are_inclusive() {
    let t = TestApi::new().await;
    let name = "é".repeat(100);
    let r = t
        .create_application(
            MERCHANT,
            json!({"name": name, "description": "d".repeat(500)}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let app = r.json["id"].as_str().unwrap();
    assert_eq!(
        t.create_key(MERCHANT, app, &"k".repeat(200)).await.status,
        201
    );
    assert_eq!(t.list(MERCHANT, "limit=100&page=1").await.status, 200);
    assert_eq!(t.list(MERCHANT, "limit=1").await.status, 200);
}

#[tokio::test]
async fn a_5xx_carries_no_internal_detail() {
    // Point the store at a table that does not exist: DynamoDB fails, the caller learns nothing.
    let mut t = TestApi::new().await;
    let sdk = devkit::guard::sdk(appkeys::lambda::sdk::Budget::MANAGEMENT).await;
    t.state.store = appkeys::store::Store::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        "no-such-table-xyz",
        t.state.config.limits,
    );
    let r = t.create_application(MERCHANT, json!({"name": "x"})).await;
    r.assert_problem(500, "internal");
    for leak in [
        "no-such-table-xyz",
        "ResourceNotFound",
        "DynamoDB",
        "dynamodb",
    ] {
        assert!(!r.body.contains(leak), "{leak} leaked: {}", r.body);
    }
}

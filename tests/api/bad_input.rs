//! Every kind of bad input the contract lists gets a 4xx problem+json with a clear message, and
//! the table is unchanged afterwards.

use api_tests::{Call, TestApi, MERCHANT};
use serde_json::json;

/// One line of `bad_input.cases`.
struct Case {
    what: String,
    call: Call,
    status: u16,
    code: String,
    /// The field the error must name, for validation errors.
    field: Option<String>,
}

/// The cases, with `{app}` and `{key}` standing for the fixture's ids.
fn cases(app: &str, key: &str) -> Vec<Case> {
    let repeat = regex::Regex::new(r"\{\{repeat (.*?) (\d+)\}\}").unwrap();
    include_str!("bad_input.cases")
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let [what, request, body, expected]: [&str; 4] = line
                .split(" | ")
                .map(str::trim)
                .collect::<Vec<_>>()
                .try_into()
                .unwrap_or_else(|_| panic!("four fields: {line}"));
            let request = request.replace("{app}", app).replace("{key}", key);
            let (method, target) = request.split_once(' ').expect("METHOD path");
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let call = Call::to(method, path).query(query).merchant(MERCHANT);
            let call = match body {
                "-" => call,
                body => call.body(repeat.replace_all(body, |found: &regex::Captures| {
                    found[1].repeat(found[2].parse().unwrap())
                })),
            };
            let mut expected = expected.split(' ');
            Case {
                what: what.to_owned(),
                call,
                status: expected.next().unwrap().parse().unwrap(),
                code: expected.next().unwrap().to_owned(),
                field: expected.next().map(str::to_owned),
            }
        })
        .collect()
}

#[tokio::test]
async fn every_bad_input_is_a_4xx_problem_and_writes_nothing() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Existing").await;
    let key = t.create_key(MERCHANT, &app, "k").await.text("id");
    let before = t.snapshot().await;
    let cases = cases(&app, &key);
    let lines = include_str!("bad_input.cases")
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .count();
    assert!(lines >= 65, "the cases file holds every case");
    assert_eq!(cases.len(), lines, "the cases file is read whole");
    for case in cases {
        let what = &case.what;
        let response = t.send(case.call.into()).await;
        assert_eq!(response.status, case.status, "{what}: {}", response.body);
        response.assert_problem(case.status, &case.code);
        if let Some(field) = &case.field {
            let errors = response.json["errors"]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: no errors[]"));
            assert!(
                errors.iter().any(|e| e["field"] == field.as_str()
                    && e["message"].as_str().is_some_and(|m| !m.is_empty())),
                "{what}: errors should name `{field}`: {}",
                response.body
            );
        }
        assert_eq!(t.snapshot().await, before, "{what} changed the table");
    }
}

fn create_app(body: &str) -> Call {
    Call::to("POST", "/api/v1/applications").body(body)
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

use api_tests::openapi::description;
use api_tests::TestResponse;
use lambda_http::http::{HeaderMap, HeaderValue};
use serde_json::{json, Value};

fn response(status: u16, headers: &[(&'static str, &str)], body: Value) -> TestResponse {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    TestResponse {
        status,
        headers: map,
        json: serde_json::from_str(&body).unwrap_or(Value::Null),
        body,
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");
const PROBLEM: (&str, &str) = ("content-type", "application/problem+json");
const APP_ID: &str = "0192f3a4-5b6c-7d8e-9f01-23456789abcd";

fn application() -> Value {
    json!({
        "id": APP_ID,
        "name": "Production Web Store",
        "description": null,
        "isEnabled": true,
        "createdAt": "2026-02-23T12:00:00Z"
    })
}

/// The checker the harness runs on every response passes what the description documents and
/// catches what it does not: the drift it exists to find.
#[test]
fn the_response_checker_catches_drift() {
    let doc = description();
    let create = |status, headers: &[(&'static str, &str)], body| {
        doc.check_response(
            "POST",
            "/api/v1/applications",
            &response(status, headers, body),
        )
    };
    let location = format!("/api/v1/applications/{APP_ID}");
    let created = [JSON, ("location", location.as_str())];
    create(201, &created, application()).unwrap();

    let mut leaked = application();
    leaked["keyHash"] = json!("ab12");
    assert!(
        create(201, &created, leaked).is_err(),
        "an undocumented field"
    );
    let mut no_description = application();
    no_description
        .as_object_mut()
        .unwrap()
        .remove("description");
    assert!(
        create(201, &created, no_description).is_err(),
        "a missing field"
    );
    assert!(create(201, &[JSON], application()).is_err(), "no Location");
    assert!(
        create(201, &[JSON, ("location", "/elsewhere")], application()).is_err(),
        "a wrong Location"
    );
    assert!(
        create(
            201,
            &[PROBLEM, ("location", location.as_str())],
            application()
        )
        .is_err(),
        "a wrong content type"
    );
    assert!(
        create(418, &[JSON], json!({})).is_err(),
        "an undocumented status"
    );

    let problem = |code: &str, status: u16| json!({"type": format!("/errors/{code}"), "title": "T", "status": status, "detail": "D"});
    create(409, &[PROBLEM], problem("name_taken", 409)).unwrap();
    assert!(
        create(409, &[PROBLEM], problem("validation_failed", 409)).is_err(),
        "a 409 with another code"
    );
    assert!(
        create(400, &[PROBLEM], problem("validation_failed", 400)).is_err(),
        "validation_failed without its errors"
    );
    create(401, &[JSON], json!({"message": "Unauthorized"})).unwrap();
    assert!(
        create(500, &[PROBLEM], problem("internal", 500)).is_err(),
        "a 500 with internal detail"
    );

    // A key summary never carries the full key.
    let mut listed = application();
    listed["apiKeys"] = json!([{
        "id": APP_ID, "keyPrefix": "ks_live_abc1", "description": "d", "status": "active",
        "createdAt": "2026-02-23T12:00:00Z", "fullKey": "ks_live_..."
    }]);
    let page = json!({"items": [listed], "page": 1, "limit": 10, "totalItems": 1,
        "totalPages": 1, "hasPreviousPage": false, "hasNextPage": false});
    assert!(doc
        .check_response("GET", "/api/v1/applications", &response(200, &[JSON], page))
        .is_err());

    // 204 has no body; the key's 201 must not be cached.
    let revoke = "/api/v1/applications/{id}/api-keys/{keyId}";
    doc.check_response("DELETE", revoke, &response(204, &[], Value::Null))
        .unwrap();
    assert!(doc
        .check_response("DELETE", revoke, &response(204, &[JSON], json!({})))
        .is_err());
    let key = json!({
        "id": APP_ID, "applicationId": APP_ID, "keyPrefix": "ks_live_abc1", "description": "d",
        "createdAt": "2026-02-23T12:00:00Z", "expiresAt": null, "permissions": null,
        "fullKey": doc.document["components"]["examples"]["CreatedApiKey"]["value"]["fullKey"],
    });
    let create_key = "/api/v1/applications/{id}/api-keys";
    let no_store = [JSON, ("cache-control", "no-store")];
    doc.check_response("POST", create_key, &response(201, &no_store, key.clone()))
        .unwrap();
    assert!(doc
        .check_response("POST", create_key, &response(201, &[JSON], key.clone()))
        .is_err());
    let mut no_expiry = key.clone();
    no_expiry.as_object_mut().unwrap().remove("expiresAt");
    assert!(
        doc.check_response("POST", create_key, &response(201, &no_store, no_expiry))
            .is_err(),
        "expiresAt is always present (null when the key never expires)"
    );

    // A roll answers the new key and the old one's end, uncached; the old one always has an end.
    let roll = "/api/v1/applications/{id}/api-keys/{keyId}/roll";
    let mut rolled = key.clone();
    rolled["rolledKey"] = json!({"id": APP_ID, "expiresAt": "2026-02-23T13:00:00Z"});
    doc.check_response("POST", roll, &response(201, &no_store, rolled.clone()))
        .unwrap();
    assert!(doc
        .check_response("POST", roll, &response(201, &[JSON], rolled.clone()))
        .is_err());
    assert!(
        doc.check_response("POST", roll, &response(201, &no_store, key.clone()))
            .is_err(),
        "a roll without rolledKey"
    );
    let mut endless = rolled.clone();
    endless["rolledKey"]["expiresAt"] = Value::Null;
    assert!(doc
        .check_response("POST", roll, &response(201, &no_store, endless))
        .is_err());
    doc.check_response(
        "POST",
        roll,
        &response(400, &[PROBLEM], problem("key_already_rolled", 400)),
    )
    .unwrap();
    assert!(doc
        .check_response(
            "POST",
            roll,
            &response(400, &[PROBLEM], problem("name_taken", 400))
        )
        .is_err());

    // One application always carries its keys, each with its three nullable times.
    let one = "/api/v1/applications/{id}";
    let summary = json!({
        "id": APP_ID, "keyPrefix": "ks_live_abc1", "description": "d", "status": "expired",
        "createdAt": "2026-02-23T12:00:00Z", "expiresAt": "2026-02-24T12:00:00Z",
        "lastUsedAt": null, "revokedAt": null, "permissions": null
    });
    let mut with_keys = application();
    with_keys["apiKeys"] = json!([summary]);
    doc.check_response("GET", one, &response(200, &[JSON], with_keys.clone()))
        .unwrap();
    assert!(
        doc.check_response("GET", one, &response(200, &[JSON], application()))
            .is_err(),
        "an application without apiKeys"
    );
    let mut unknown_status = with_keys.clone();
    unknown_status["apiKeys"][0]["status"] = json!("rolled");
    assert!(doc
        .check_response("GET", one, &response(200, &[JSON], unknown_status))
        .is_err());
    // An event page: an event carries no secret and every member; a reused key is 422 only
    // with its own code.
    let events = "/api/v1/applications/{id}/events";
    let page = &doc.document["components"]["examples"]["EventPage"]["value"];
    doc.check_response("GET", events, &response(200, &[JSON], page.clone()))
        .unwrap();
    let mut leaked = page.clone();
    leaked["items"][0]["fullKey"] = json!("ks_live_...");
    assert!(doc
        .check_response("GET", events, &response(200, &[JSON], leaked))
        .is_err());
    let mut anonymous = page.clone();
    anonymous["items"][0]
        .as_object_mut()
        .unwrap()
        .remove("actor");
    assert!(doc
        .check_response("GET", events, &response(200, &[JSON], anonymous))
        .is_err());
    let mut unknown_type = page.clone();
    unknown_type["items"][0]["type"] = json!("api_key.deleted");
    assert!(doc
        .check_response("GET", events, &response(200, &[JSON], unknown_type))
        .is_err());
    create(422, &[PROBLEM], problem("idempotency_key_reused", 422)).unwrap();
    assert!(create(422, &[PROBLEM], problem("validation_failed", 422)).is_err());
    assert!(
        create(
            201,
            &[
                JSON,
                ("location", location.as_str()),
                ("idempotent-replayed", "yes")
            ],
            application()
        )
        .is_err(),
        "Idempotent-Replayed is `true` or absent"
    );
    create(
        201,
        &[
            JSON,
            ("location", location.as_str()),
            ("idempotent-replayed", "true"),
        ],
        application(),
    )
    .unwrap();

    let mut no_last_use = with_keys;
    no_last_use["apiKeys"][0]
        .as_object_mut()
        .unwrap()
        .remove("lastUsedAt");
    assert!(
        doc.check_response("GET", one, &response(200, &[JSON], no_last_use))
            .is_err(),
        "lastUsedAt is always present"
    );
}

//! The management API, route by route, as the guide and the contract describe it.

use api_tests::{Call, TestApi, MERCHANT, OTHER_MERCHANT};
use appkeys::domain::limits::Limits;
use serde_json::json;

fn is_rfc3339_utc(value: &serde_json::Value) -> bool {
    let s = value.as_str().unwrap_or_default();
    s.len() == 20 && s.ends_with('Z') && &s[10..11] == "T"
}

#[tokio::test]
async fn create_application_answers_201_with_location_and_the_guide_shape() {
    let t = TestApi::new().await;
    let r = t
        .create_application(
            MERCHANT,
            json!({"name": "  Production Web Store ", "description": "Primary e-commerce backend"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let id = r.json["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 7));
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/applications/{id}").as_str())
    );
    assert_eq!(r.json["name"], "Production Web Store");
    assert_eq!(r.json["description"], "Primary e-commerce backend");
    assert_eq!(r.json["isEnabled"], true);
    assert!(
        is_rfc3339_utc(&r.json["createdAt"]),
        "{}",
        r.json["createdAt"]
    );
    let mut fields: Vec<_> = r.json.as_object().unwrap().keys().cloned().collect();
    fields.sort();
    assert_eq!(
        fields,
        ["createdAt", "description", "id", "isEnabled", "name"]
    );
}

#[tokio::test]
async fn description_is_null_when_absent_or_null() {
    let t = TestApi::new().await;
    let r = t.create_application(MERCHANT, json!({"name": "a"})).await;
    assert_eq!(r.status, 201);
    assert!(
        r.json["description"].is_null() && r.json.as_object().unwrap().contains_key("description")
    );
    let r = t
        .create_application(MERCHANT, json!({"name": "b", "description": null}))
        .await;
    assert_eq!(r.status, 201);
    assert!(r.json["description"].is_null());
}

#[tokio::test]
async fn names_collide_after_trimming_and_case_folding() {
    let t = TestApi::new().await;
    t.create_application_named(MERCHANT, "Prod").await;
    for clash in [" prod ", "PROD", "pRoD\t"] {
        t.create_application(MERCHANT, json!({"name": clash}))
            .await
            .assert_problem(409, "name_taken");
    }
    t.create_application_named(MERCHANT, "Straße").await;
    t.create_application(MERCHANT, json!({"name": "STRASSE"}))
        .await
        .assert_problem(409, "name_taken");
    // Names are unique per merchant, not globally.
    t.create_application_named(OTHER_MERCHANT, "Prod").await;
}

#[tokio::test]
async fn names_that_look_the_same_are_the_same_name() {
    let t = TestApi::new().await;
    let created = t
        .create_application(MERCHANT, json!({"name": "Ｐｒｏｄ", "description": "ﬁrst"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    // Stored and answered in NFKC.
    assert_eq!(created.json["name"], "Prod");
    assert_eq!(created.json["description"], "first");
    for clash in ["Prod", "PROD", " ｐｒｏｄ "] {
        t.create_application(MERCHANT, json!({"name": clash}))
            .await
            .assert_problem(409, "name_taken");
    }
    t.create_application_named(MERCHANT, "Cafe\u{301}").await;
    t.create_application(MERCHANT, json!({"name": "CAFÉ"}))
        .await
        .assert_problem(409, "name_taken");
    // Invisible and direction-changing characters are refused, not made a second name.
    let before = t.snapshot().await;
    for invisible in [
        "Prod\u{200B}",
        "Pay\u{200B}ments",
        "\u{202E}dorP",
        "Pr\u{2060}od",
        "\u{FEFF}Prod",
    ] {
        let r = t
            .create_application(MERCHANT, json!({"name": invisible}))
            .await;
        r.assert_problem(400, "validation_failed");
        assert_eq!(r.json["errors"][0]["field"], "name", "{}", r.body);
    }
    assert_eq!(t.snapshot().await, before);
}

#[tokio::test]
async fn application_limit_is_enforced() {
    let t = TestApi::with_limits(Limits {
        max_applications_per_merchant: 2,
        ..Limits::default()
    })
    .await;
    t.create_application_named(MERCHANT, "one").await;
    t.create_application_named(MERCHANT, "two").await;
    let before = t.snapshot().await;
    t.create_application(MERCHANT, json!({"name": "three"}))
        .await
        .assert_problem(400, "application_limit_reached");
    assert_eq!(
        t.snapshot().await,
        before,
        "a refused create writes nothing"
    );
    t.create_application_named(OTHER_MERCHANT, "three").await;
}

#[tokio::test]
async fn a_taken_name_writes_nothing() {
    let t = TestApi::new().await;
    t.create_application_named(MERCHANT, "Prod").await;
    let before = t.snapshot().await;
    t.create_application(MERCHANT, json!({"name": "prod"}))
        .await
        .assert_problem(409, "name_taken");
    assert_eq!(t.snapshot().await, before);
}

#[tokio::test]
async fn create_key_answers_201_no_store_and_the_documented_key_format() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let r = t
        .create_key(MERCHANT, &app, "  Primary checkout key ")
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let full_key = r.json["fullKey"].as_str().unwrap();
    assert_eq!(full_key.len(), 57);
    assert!(full_key.starts_with("ks_live_"));
    assert!(appkeys::domain::key_format::check_format(
        full_key,
        appkeys::domain::key_format::KeyMode::Live
    )
    .is_ok());
    assert_eq!(r.json["keyPrefix"], &full_key[..12]);
    assert_eq!(r.json["applicationId"], app);
    assert_eq!(r.json["description"], "Primary checkout key");
    assert!(uuid::Uuid::parse_str(r.json["id"].as_str().unwrap()).is_ok());
    assert!(is_rfc3339_utc(&r.json["createdAt"]));
    let mut fields: Vec<_> = r.json.as_object().unwrap().keys().cloned().collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "applicationId",
            "createdAt",
            "description",
            "expiresAt",
            "fullKey",
            "id",
            "keyPrefix",
            "permissions"
        ]
    );

    // Only a keyed hash is stored: neither the key nor an unkeyed hash of it is in the table.
    let stored = t.snapshot().await.join("\n");
    assert!(!stored.contains(full_key));
    assert!(!stored.contains(&full_key[12..]));
    assert!(stored.contains(&t.pepper.hash(full_key).to_hex()));
}

#[tokio::test]
async fn key_mode_test_issues_test_keys() {
    let mut t = TestApi::new().await;
    t.state.config.key_mode = appkeys::domain::key_format::KeyMode::Test;
    let app = t.create_application_named(MERCHANT, "Staging").await;
    let r = t.create_key(MERCHANT, &app, "staging key").await;
    assert!(r.json["fullKey"].as_str().unwrap().starts_with("ks_test_"));
    assert_eq!(r.json["keyPrefix"].as_str().unwrap().len(), 12);
}

#[tokio::test]
async fn key_limit_counts_active_keys_only() {
    let t = TestApi::with_limits(Limits {
        max_keys_per_application: 2,
        ..Limits::default()
    })
    .await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let first = t.create_key(MERCHANT, &app, "one").await;
    assert_eq!(t.create_key(MERCHANT, &app, "two").await.status, 201);
    let before = t.snapshot().await;
    let refused = t.create_key(MERCHANT, &app, "three").await;
    refused.assert_problem(400, "key_limit_reached");
    assert!(refused.json["detail"]
        .as_str()
        .unwrap()
        .contains("Maximum number of API keys for this application has been reached"));
    assert_eq!(t.snapshot().await, before);
    // Revoking frees a place.
    assert_eq!(
        t.revoke_key(MERCHANT, &app, first.json["id"].as_str().unwrap())
            .await
            .status,
        204
    );
    t.assert_key_room(MERCHANT, &app, 1).await;
}

#[tokio::test]
async fn keys_can_be_created_on_a_disabled_application() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    assert_eq!(t.set_enabled(MERCHANT, &app, false).await.status, 200);
    assert_eq!(
        t.create_key(MERCHANT, &app, "made while disabled")
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn revoke_answers_204_then_400_and_leaves_other_keys_alone() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let a = t.create_key(MERCHANT, &app, "a").await.text("id");
    let b = t.create_key(MERCHANT, &app, "b").await.text("id");
    let r = t.revoke_key(MERCHANT, &app, &a).await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    t.revoke_key(MERCHANT, &app, &a)
        .await
        .assert_problem(400, "key_already_revoked");
    let listed = t.list(MERCHANT, "include=apiKeys").await;
    let keys = &listed.json["items"][0]["apiKeys"];
    let status_of = |id: &str| {
        keys.as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status_of(&a), "revoked");
    assert_eq!(status_of(&b), "active");
}

#[tokio::test]
async fn unknown_or_foreign_resources_are_404() {
    let t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let key = t.create_key(MERCHANT, &app, "k").await.text("id");
    let other_app = t.create_application_named(MERCHANT, "Other").await;
    let unknown = appkeys::domain::ApplicationId::new().to_string();

    // Another merchant cannot see, change, add to or revoke in this merchant's application.
    t.create_key(OTHER_MERCHANT, &app, "x")
        .await
        .assert_problem(404, "not_found");
    t.set_enabled(OTHER_MERCHANT, &app, false)
        .await
        .assert_problem(404, "not_found");
    t.revoke_key(OTHER_MERCHANT, &app, &key)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(t.list(OTHER_MERCHANT, "").await.json["totalItems"], 0);
    // A key addressed through the wrong application is not found either.
    t.revoke_key(MERCHANT, &other_app, &key)
        .await
        .assert_problem(404, "not_found");
    // Unknown ids, and ids that are not UUIDs at all.
    t.create_key(MERCHANT, &unknown, "x")
        .await
        .assert_problem(404, "not_found");
    t.set_enabled(MERCHANT, &unknown, true)
        .await
        .assert_problem(404, "not_found");
    t.revoke_key(MERCHANT, &app, &unknown)
        .await
        .assert_problem(404, "not_found");
    t.create_key(MERCHANT, "uuid-v4-app-123", "x")
        .await
        .assert_problem(404, "not_found");
    t.revoke_key(MERCHANT, &app, "key_uuid_888")
        .await
        .assert_problem(404, "not_found");
    t.set_enabled(MERCHANT, &app.to_uppercase(), true)
        .await
        .assert_problem(404, "not_found");
    // Nothing above changed the application.
    let prod = t.listed_application(MERCHANT, &app).await;
    assert_eq!(prod["isEnabled"], true);
    assert_eq!(prod["apiKeys"][0]["status"], "active");
}

#[tokio::test]
async fn set_status_is_idempotent_and_returns_the_application() {
    let t = TestApi::new().await;
    let created = t
        .create_application(MERCHANT, json!({"name": "Prod", "description": "d"}))
        .await;
    let app = created.json["id"].as_str().unwrap();
    for (value, expected) in [(false, false), (false, false), (true, true), (true, true)] {
        let r = t.set_enabled(MERCHANT, app, value).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json["isEnabled"], expected);
        assert_eq!(r.json["id"], app);
        assert_eq!(r.json["name"], "Prod");
        assert_eq!(r.json["description"], "d");
        assert_eq!(r.json["createdAt"], created.json["createdAt"]);
    }
}

#[tokio::test]
async fn list_pages_newest_first_with_the_guide_fields() {
    let t = TestApi::new().await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(
            t.create_application_named(MERCHANT, &format!("app {i}"))
                .await,
        );
    }
    ids.reverse(); // newest first
    t.create_application_named(OTHER_MERCHANT, "not mine").await;

    let r = t.list(MERCHANT, "").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        (r.json["page"].clone(), r.json["limit"].clone()),
        (json!(1), json!(10))
    );
    assert_eq!(r.json["totalItems"], 7);
    assert_eq!(r.json["totalPages"], 1);
    assert_eq!(r.json["hasPreviousPage"], false);
    assert_eq!(r.json["hasNextPage"], false);
    let listed: Vec<_> = r.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, ids);
    assert!(
        r.json["items"][0].get("apiKeys").is_none(),
        "no apiKeys member without include"
    );

    let pages: Vec<_> = [1, 2, 3]
        .iter()
        .map(|p| format!("page={p}&limit=3"))
        .collect();
    let mut seen = Vec::new();
    for (index, query) in pages.iter().enumerate() {
        let r = t.list(MERCHANT, query).await;
        assert_eq!(r.json["totalPages"], 3);
        assert_eq!(r.json["hasPreviousPage"], index > 0);
        assert_eq!(r.json["hasNextPage"], index < 2);
        seen.extend(
            r.json["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(seen, ids);

    let past = t.list(MERCHANT, "page=4&limit=3").await;
    assert_eq!(past.status, 200);
    assert_eq!(past.json["items"], json!([]));
    assert_eq!(past.json["hasPreviousPage"], true);
    assert_eq!(past.json["hasNextPage"], false);

    // Any page number the parser's type holds: past the end is 200 and empty.
    for page in ["1000001", "4294967295"] {
        let far = t.list(MERCHANT, &format!("page={page}&limit=100")).await;
        assert_eq!(far.status, 200, "{}", far.body);
        assert_eq!(far.json["items"], json!([]));
        assert_eq!(far.json["page"].to_string(), page);
        assert_eq!(
            (
                far.json["totalItems"].clone(),
                far.json["hasNextPage"].clone()
            ),
            (json!(7), json!(false))
        );
    }

    let none = t.list("m_nobody", "").await;
    assert_eq!(
        (
            none.json["totalItems"].clone(),
            none.json["totalPages"].clone()
        ),
        (json!(0), json!(0))
    );
}

#[tokio::test]
async fn list_with_api_keys_shows_every_key_newest_first_without_secrets() {
    let t = TestApi::new().await;
    let old_app = t.create_application_named(MERCHANT, "old").await;
    let app = t.create_application_named(MERCHANT, "new").await;
    let empty_app = t.create_application_named(MERCHANT, "empty").await;
    let k1 = t.create_key(MERCHANT, &app, "first").await;
    let k2 = t.create_key(MERCHANT, &app, "second").await;
    let k_old = t.create_key(MERCHANT, &old_app, "old key").await;
    t.revoke_key(MERCHANT, &app, k1.json["id"].as_str().unwrap())
        .await;

    let r = t.list(MERCHANT, "include=apiKeys").await;
    assert_eq!(r.status, 200);
    let items = r.json["items"].as_array().unwrap();
    assert_eq!(items[0]["id"], empty_app);
    assert_eq!(items[0]["apiKeys"], json!([]));
    assert_eq!(items[1]["id"], app);
    let keys = items[1]["apiKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["id"], k2.json["id"]);
    assert_eq!(keys[0]["status"], "active");
    assert_eq!(keys[1]["id"], k1.json["id"]);
    assert_eq!(keys[1]["status"], "revoked");
    assert_eq!(keys[0]["keyPrefix"], k2.json["keyPrefix"]);
    assert_eq!(keys[0]["description"], "second");
    assert_eq!(keys[0]["createdAt"], k2.json["createdAt"]);
    let mut fields: Vec<_> = keys[0].as_object().unwrap().keys().cloned().collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "createdAt",
            "description",
            "expiresAt",
            "id",
            "keyPrefix",
            "lastUsedAt",
            "permissions",
            "revokedAt",
            "status"
        ]
    );
    assert_eq!(items[2]["apiKeys"][0]["id"], k_old.json["id"]);
    for secret in [
        &k1.json["fullKey"],
        &k2.json["fullKey"],
        &k_old.json["fullKey"],
    ] {
        assert!(!r.body.contains(secret.as_str().unwrap()));
    }
    assert!(!r
        .body
        .contains(&t.pepper.hash(k2.json["fullKey"].as_str().unwrap()).to_hex()));

    // A page holds the keys of its own applications only.
    let second_page = t.list(MERCHANT, "include=apiKeys&page=2&limit=1").await;
    assert_eq!(second_page.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(second_page.json["items"][0]["id"], app);
    assert_eq!(
        second_page.json["items"][0]["apiKeys"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn missing_or_empty_merchant_claim_is_401() {
    let t = TestApi::new().await;
    let body = json!({"name": "x"});
    let no_claims = Call::post("/api/v1/applications", "/api/v1/applications", body.clone());
    t.send(no_claims.into())
        .await
        .assert_problem(401, "unauthorized");
    let empty =
        Call::post("/api/v1/applications", "/api/v1/applications", body.clone()).merchant("");
    t.send(empty.into())
        .await
        .assert_problem(401, "unauthorized");
    let other_claim =
        Call::post("/api/v1/applications", "/api/v1/applications", body).claim("sub", "m_123");
    t.send(other_claim.into())
        .await
        .assert_problem(401, "unauthorized");
    // Never taken from the query either.
    t.send(Call::list("merchant_id=m_123").into())
        .await
        .assert_problem(401, "unauthorized");
    assert!(t.snapshot().await.is_empty());
    // Every 401 names the scheme to authenticate with (RFC 9110); the harness checks it on
    // every function response, and here once more by hand.
    let r = t.send(Call::list("").into()).await;
    assert!(
        r.header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer")),
        "{:?}",
        r.headers
    );
}

#[tokio::test]
async fn merchant_claim_name_is_configurable() {
    let mut t = TestApi::new().await;
    t.state.config.merchant_claim = "custom:merchant".into();
    let call = Call::post(
        "/api/v1/applications",
        "/api/v1/applications",
        json!({"name": "x"}),
    );
    t.send(call.clone().merchant(MERCHANT).into())
        .await
        .assert_problem(401, "unauthorized");
    assert_eq!(
        t.send(call.claim("custom:merchant", MERCHANT).into())
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn base64_encoded_bodies_are_decoded() {
    let t = TestApi::new().await;
    // {"name":"Encoded"} — API Gateway base64-encodes bodies it does not recognise as text.
    let call = Call::new("POST", "/api/v1/applications", "/api/v1/applications")
        .base64_body("eyJuYW1lIjoiRW5jb2RlZCJ9")
        .merchant(MERCHANT);
    let r = t.send(call.into()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json["name"], "Encoded");
}

#[tokio::test]
async fn creating_a_key_on_an_enabled_application_is_a_single_request() {
    let mut t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let counter = devkit::counter::RequestCounter::default();
    t.state = t
        .state_with([aws_sdk_dynamodb::config::SharedInterceptor::new(
            counter.clone(),
        )])
        .await;
    assert_eq!(t.create_key(MERCHANT, &app, "one write").await.status, 201);
    assert_eq!(counter.count(), 1, "the common case needs no read");
    // Disabled: the optimistic write fails, the read tells why, the retry carries the real state.
    t.set_enabled(MERCHANT, &app, false).await;
    let before = counter.count();
    assert_eq!(
        t.create_key(MERCHANT, &app, "on a disabled app")
            .await
            .status,
        201
    );
    let disabled_requests = counter.count() - before;
    assert!(disabled_requests <= 3, "{disabled_requests}");
}

/// A page past the end costs no more DynamoDB work than the last page: the count tells the store
/// there is nothing to read.
#[tokio::test]
async fn a_page_past_the_end_costs_no_more_than_the_last_page() {
    let mut t = TestApi::new().await;
    for i in 0..5 {
        let app = t
            .create_application_named(MERCHANT, &format!("app {i}"))
            .await;
        t.create_key(MERCHANT, &app, "k").await;
    }
    let counter = devkit::counter::RequestCounter::default();
    t.state = t
        .state_with([aws_sdk_dynamodb::config::SharedInterceptor::new(
            counter.clone(),
        )])
        .await;
    let requests = |query: &'static str| {
        let (t, counter) = (&t, &counter);
        async move {
            let before = counter.count();
            let r = t.list(MERCHANT, query).await;
            assert_eq!(r.status, 200, "{}", r.body);
            (
                r.json["items"].as_array().unwrap().len(),
                counter.count() - before,
            )
        }
    };
    let (items, last_page) = requests("include=apiKeys&page=3&limit=2").await;
    assert_eq!(items, 1);
    for past in [
        "include=apiKeys&page=4&limit=2",
        "include=apiKeys&page=4294967295&limit=100",
    ] {
        let (items, cost) = requests(past).await;
        assert_eq!(items, 0);
        assert!(
            cost <= last_page,
            "{past}: {cost} requests, the last page took {last_page}"
        );
        assert_eq!(cost, 1, "{past}: only the count is read");
    }
}

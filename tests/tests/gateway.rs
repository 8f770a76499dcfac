//! Black-box HTTP tests (zero2prod style): the local gateway on a random port, against the test's
//! own table, walked through the guide end to end.

use std::time::{SystemTime, UNIX_EPOCH};

use api_tests::{http, TestApi, MERCHANT};
use serde_json::json;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn the_guide_end_to_end_over_http() {
    let t = TestApi::new().await;
    let (base, jwt) = t.spawn_gateway().await;
    let token = jwt.issue(MERCHANT, 600);
    let auth = format!("Bearer {token}");
    let json_headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];

    // Create an application.
    let created = http(
        "POST",
        &format!("{base}/api/v1/applications"),
        &json_headers,
        Some(r#"{"name": "Production Web Store", "description": "Primary e-commerce backend"}"#),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let app = created.text("id");
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/applications/{app}").as_str())
    );

    // Generate an API key.
    let key = http(
        "POST",
        &format!("{base}/api/v1/applications/{app}/api-keys"),
        &json_headers,
        Some(r#"{"description": "Primary checkout key"}"#),
    )
    .await;
    assert_eq!(key.status, 201, "{}", key.body);
    assert_eq!(key.header("cache-control"), Some("no-store"));
    let full_key = key.text("fullKey");
    let key_id = key.text("id");
    let key_auth = format!("Bearer {full_key}");
    let pay_url = format!("{base}/api/v1/payments/ping?x=1");
    let pay_headers = [("authorization", key_auth.as_str())];
    let pay = || http("POST", &pay_url, &pay_headers, Some("{}"));

    // Use it on a payment route: 200 with the authorizer context.
    let paid = pay().await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    assert_eq!(
        paid.json["authorizer"],
        json!({"merchantId": MERCHANT, "applicationId": app, "keyId": key_id})
    );
    assert_eq!(paid.json["path"], "/api/v1/payments/ping");

    // List with its keys.
    let listed = http(
        "GET",
        &format!("{base}/api/v1/applications?include=apiKeys&page=1&limit=10"),
        &json_headers,
        None,
    )
    .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json["totalItems"], 1);
    assert_eq!(listed.json["items"][0]["apiKeys"][0]["id"], key_id);
    assert_eq!(listed.json["items"][0]["apiKeys"][0]["status"], "active");

    // Disable: the key is refused; enable: it works again.
    let status_url = format!("{base}/api/v1/applications/{app}/status");
    let disabled = http(
        "PATCH",
        &status_url,
        &json_headers,
        Some(r#"{"isEnabled": false}"#),
    )
    .await;
    assert_eq!(
        (disabled.status, disabled.json["isEnabled"].clone()),
        (200, json!(false))
    );
    let refused = pay().await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json, json!({"message": "Forbidden"}));
    assert_eq!(
        http(
            "PATCH",
            &status_url,
            &json_headers,
            Some(r#"{"isEnabled": true}"#)
        )
        .await
        .status,
        200
    );
    assert_eq!(pay().await.status, 200);

    // Revoke: refused at once; a second revoke is 400.
    let key_url = format!("{base}/api/v1/applications/{app}/api-keys/{key_id}");
    let revoked = http("DELETE", &key_url, &json_headers, None).await;
    assert_eq!(revoked.status, 204);
    assert!(revoked.body.is_empty());
    assert_eq!(pay().await.status, 403);
    http("DELETE", &key_url, &json_headers, None)
        .await
        .assert_problem(400, "key_already_revoked");
}

#[tokio::test]
async fn management_jwt_failures_are_401_like_api_gateway() {
    let t = TestApi::new().await;
    let (base, jwt) = t.spawn_gateway().await;
    let url = format!("{base}/api/v1/applications");
    let claims = |patch: serde_json::Value| {
        let mut c = json!({"sub": "u", "merchant_id": MERCHANT, "iss": jwt.issuer, "aud": jwt.audience, "iat": now(), "exp": now() + 600});
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let other_key = local_gateway::JwtSettings::new(
        &jwt.issuer,
        &jwt.audience,
        b"another secret",
        "merchant_id",
    );
    let unsigned = {
        // alg "none": header {"alg":"none","typ":"JWT"}, the valid claims, empty signature.
        let valid = jwt.sign(&claims(json!({})));
        let payload = valid.split('.').nth(1).unwrap().to_owned();
        format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.")
    };
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("garbage", Some("Bearer not-a-jwt".into())),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                jwt.sign(&claims(json!({"exp": now() - 3600})))
            )),
        ),
        (
            "no exp",
            Some(format!(
                "Bearer {}",
                jwt.sign(&claims(json!({"exp": null})))
            )),
        ),
        (
            "not yet valid",
            Some(format!(
                "Bearer {}",
                jwt.sign(&claims(json!({"nbf": now() + 3600})))
            )),
        ),
        (
            "wrong audience",
            Some(format!(
                "Bearer {}",
                jwt.sign(&claims(json!({"aud": "someone-else"})))
            )),
        ),
        (
            "wrong issuer",
            Some(format!(
                "Bearer {}",
                jwt.sign(&claims(json!({"iss": "https://evil.example"})))
            )),
        ),
        (
            "wrong signature",
            Some(format!("Bearer {}", other_key.sign(&claims(json!({}))))),
        ),
        ("alg none", Some(format!("Bearer {unsigned}"))),
        (
            "an API key",
            Some("Bearer ks_live_0000000000000000000000000000000000000000000000000".into()),
        ),
    ];
    for (what, header) in cases {
        let headers: Vec<(&str, &str)> = header
            .iter()
            .map(|h| ("authorization", h.as_str()))
            .collect();
        let r = http("GET", &url, &headers, None).await;
        assert_eq!(r.status, 401, "{what}: {}", r.body);
        assert_eq!(r.json, json!({"message": "Unauthorized"}), "{what}");
    }
    // A valid token without the merchant claim reaches the function, which fails closed.
    let no_merchant = format!("Bearer {}", jwt.sign(&claims(json!({"merchant_id": null}))));
    http("GET", &url, &[("authorization", &no_merchant)], None)
        .await
        .assert_problem(401, "unauthorized");
    // And a valid one works.
    let valid = format!("Bearer {}", jwt.sign(&claims(json!({}))));
    assert_eq!(
        http("GET", &url, &[("authorization", &valid)], None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn payment_route_guard_unknown_routes_and_limits() {
    let t = TestApi::new().await;
    let (base, jwt) = t.spawn_gateway().await;
    let pay = format!("{base}/api/v1/payments/ping");
    let missing = http("GET", &pay, &[], None).await;
    assert_eq!(
        (missing.status, missing.json.clone()),
        (401, json!({"message": "Unauthorized"}))
    );
    for header in [
        "Bearer nope",
        "Basic abc",
        "Bearer ks_live_0000000000000000000000000000000000000000000000000",
    ] {
        let r = http("GET", &pay, &[("authorization", header)], None).await;
        assert_eq!(
            (r.status, r.json.clone()),
            (403, json!({"message": "Forbidden"})),
            "{header}"
        );
    }
    // A management token is not an API key.
    let token = format!("Bearer {}", jwt.issue(MERCHANT, 600));
    assert_eq!(
        http("GET", &pay, &[("authorization", &token)], None)
            .await
            .status,
        403
    );

    for (method, path) in [
        ("GET", "/"),
        ("GET", "/api/v1/nothing"),
        ("PUT", "/api/v1/applications"),
        ("GET", "/api/v1/payments"),
    ] {
        let r = http(
            method,
            &format!("{base}{path}"),
            &[("authorization", &token)],
            None,
        )
        .await;
        assert_eq!(
            (r.status, r.json.clone()),
            (404, json!({"message": "Not Found"})),
            "{method} {path}"
        );
    }

    // A body over the functions' limit is their 413, as in AWS.
    let big = format!("{{\"name\": \"{}\"}}", "n".repeat(20_000));
    let r = http(
        "POST",
        &format!("{base}/api/v1/applications"),
        &[("authorization", &token)],
        Some(&big),
    )
    .await;
    r.assert_problem(413, "payload_too_large");
}

#[tokio::test]
async fn an_authorizer_failure_is_a_500_never_an_allow() {
    let mut t = TestApi::new().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let full_key = t.create_key(MERCHANT, &app, "k").await.text("fullKey");
    // Point the functions at a table that does not exist: the lookup fails.
    let sdk = api_tests::sdk(appkeys::aws::Budget::AUTHORIZER).await;
    t.api.store = appkeys::Store::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        "appkeys-missing-table",
        t.api.config.limits,
    );
    let (base, _) = t.spawn_gateway().await;
    let r = http(
        "GET",
        &format!("{base}/api/v1/payments/ping"),
        &[("authorization", &format!("Bearer {full_key}"))],
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.json.clone()),
        (500, json!({"message": "Internal Server Error"}))
    );
}

/// The built-in development JWT secret is public: the gateway serves with it only in front of a
/// loopback AWS endpoint, never in front of real data.
#[test]
fn the_public_development_secret_is_refused_unless_aws_is_on_this_machine() {
    use local_gateway::dev_secret::check;
    use local_gateway::jwt::DEFAULT_SECRET;
    let env = |pairs: Vec<(&'static str, &'static str)>| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    const LOCAL: (&str, &str) = ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566");
    const REMOTE: (&str, &str) = (
        "AWS_ENDPOINT_URL",
        "https://dynamodb.us-east-1.amazonaws.com",
    );
    // scripts/dev: the default secret, moto on loopback.
    assert!(check(env(vec![LOCAL])).is_ok());
    assert!(check(env(vec![LOCAL, ("LOCAL_JWT_SECRET", DEFAULT_SECRET)])).is_ok());
    // A secret of one's own may front anything.
    assert!(check(env(vec![("LOCAL_JWT_SECRET", "my own secret")])).is_ok());
    assert!(check(env(vec![REMOTE, ("LOCAL_JWT_SECRET", "my own secret")])).is_ok());
    // The public secret in front of real AWS (no endpoint, a remote one, or one service remote).
    for refused in [
        env(vec![]),
        env(vec![("LOCAL_JWT_SECRET", "")]),
        env(vec![("LOCAL_JWT_SECRET", DEFAULT_SECRET)]),
        env(vec![REMOTE]),
        env(vec![
            LOCAL,
            (
                "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                "https://secretsmanager.us-east-1.amazonaws.com",
            ),
        ]),
    ] {
        let refusal = check(refused).unwrap_err();
        assert!(
            refusal.contains("LOCAL_JWT_SECRET") && refusal.contains("AWS_ENDPOINT_URL"),
            "{refusal}"
        );
    }
}

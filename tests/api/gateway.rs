//! Black-box HTTP tests (zero2prod style): the local gateway on a random port, against the test's
//! own table, walked through the guide end to end.

use std::time::{SystemTime, UNIX_EPOCH};

use api_tests::{http, TestApi, MERCHANT};
use devkit::routes::{Guard, Scopes, ROUTES};
use local_gateway::Cors;
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
        json!({"merchantId": MERCHANT, "applicationId": app, "keyId": key_id, "permissions": "*"})
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
        let mut c = json!({"sub": "u", "merchant_id": MERCHANT, "iss": jwt.issuer, "aud": jwt.audience, "iat": now(), "exp": now() + 600, "scope": "applications:read"});
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
    let sdk = devkit::guard::sdk(appkeys::lambda::sdk::Budget::AUTHORIZER).await;
    t.state.store = appkeys::store::Store::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        "appkeys-missing-table",
        t.state.config.limits,
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

/// Every management route of the route table, with real ids in its path: (method, url).
fn management_calls(base: &str, app: &str) -> Vec<(&'static str, String)> {
    ROUTES
        .iter()
        .filter(|route| route.guard == Guard::Jwt)
        .map(|route| {
            let path = route
                .path
                .replace("{id}", app)
                .replace("{keyId}", &uuid::Uuid::now_v7().to_string());
            (route.method, format!("{base}{path}"))
        })
        .collect()
}

/// Whether the gateway refused the call for its scope (403 `{"message":"Forbidden"}`) rather
/// than passing it to the function.
async fn refused_for_scope(method: &str, url: &str, token: &str) -> bool {
    let r = http(
        method,
        url,
        &[("authorization", &format!("Bearer {token}"))],
        Some("{}"),
    )
    .await;
    let refused = r.status == 403;
    if refused {
        assert_eq!(r.json, json!({"message": "Forbidden"}), "{method} {url}");
    }
    refused
}

#[tokio::test]
async fn management_routes_require_the_read_or_write_scope_like_the_template() {
    let t = TestApi::new().await;
    let (base, jwt) = t.spawn_gateway().await;
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let claims = |scope_claims: serde_json::Value| {
        let mut c = json!({"sub": "u", "merchant_id": MERCHANT, "iss": jwt.issuer, "aud": jwt.audience, "exp": now() + 600});
        for (k, v) in scope_claims.as_object().unwrap() {
            c[k] = v.clone();
        }
        jwt.sign(&c)
    };
    let both = jwt.issue(MERCHANT, 600);
    let read = jwt.issue_with_scopes(MERCHANT, 600, &["applications:read"]);
    let write = jwt.issue_with_scopes(MERCHANT, 600, &["applications:write"]);
    let none = jwt.issue_with_scopes(MERCHANT, 600, &[]);
    let id_token_like = claims(json!({"scope": "openid profile email"}));
    let scp_read = claims(json!({"scp": ["applications:read"]}));
    let scp_string_write = claims(json!({"scp": "openid applications:write"}));
    let calls = management_calls(&base, &app);
    // Nine: the five of the guide, getApplication, rollApiKey, updateApiKey and listEvents. (The
    // leaked-key report route takes no JWT: it is not a management route.)
    assert_eq!(calls.len(), 9, "every management route is exercised");
    for (method, url) in &calls {
        let reading = *method == "GET";
        assert!(
            !refused_for_scope(method, url, &both).await,
            "{method} {url}"
        );
        assert!(
            !refused_for_scope(method, url, &write).await,
            "{method} {url}"
        );
        assert!(!refused_for_scope(method, url, &scp_string_write).await);
        assert_eq!(
            refused_for_scope(method, url, &read).await,
            !reading,
            "{method} {url}"
        );
        assert_eq!(refused_for_scope(method, url, &scp_read).await, !reading);
        assert!(
            refused_for_scope(method, url, &none).await,
            "{method} {url}"
        );
        assert!(refused_for_scope(method, url, &id_token_like).await);
    }

    // Empty scope names turn the requirement off, as in the template.
    let (open_base, open_jwt) = t
        .spawn_gateway_with(
            Cors::default(),
            Scopes {
                read: String::new(),
                write: String::new(),
            },
        )
        .await;
    let none = open_jwt.issue_with_scopes(MERCHANT, 600, &[]);
    for (method, url) in management_calls(&open_base, &app) {
        assert!(
            !refused_for_scope(method, &url, &none).await,
            "{method} {url}"
        );
    }
    // Without a read scope, reading needs none but writing still needs the write scope.
    let (base, jwt) = t
        .spawn_gateway_with(
            Cors::default(),
            Scopes {
                read: String::new(),
                write: "w".into(),
            },
        )
        .await;
    let none = jwt.issue_with_scopes(MERCHANT, 600, &[]);
    for (method, url) in management_calls(&base, &app) {
        assert_eq!(
            refused_for_scope(method, &url, &none).await,
            method != "GET"
        );
    }
}

#[tokio::test]
async fn a_cognito_access_token_is_matched_by_client_id_when_it_has_no_aud() {
    let t = TestApi::new().await;
    let (base, jwt) = t.spawn_gateway().await;
    let url = format!("{base}/api/v1/applications");
    let token = |audience: serde_json::Value| {
        let mut c = json!({"sub": "u", "merchant_id": MERCHANT, "iss": jwt.issuer, "exp": now() + 600,
            "token_use": "access", "scope": "applications:read"});
        for (k, v) in audience.as_object().unwrap() {
            c[k] = v.clone();
        }
        format!("Bearer {}", jwt.sign(&c))
    };
    let status = |header: String| {
        let url = url.clone();
        async move {
            http("GET", &url, &[("authorization", &header)], None)
                .await
                .status
        }
    };
    assert_eq!(status(token(json!({"client_id": jwt.audience}))).await, 200);
    assert_eq!(
        status(token(json!({"client_id": "another-client"}))).await,
        401
    );
    // With an aud, API Gateway checks the aud and not the client_id.
    assert_eq!(
        status(token(
            json!({"aud": "someone-else", "client_id": jwt.audience})
        ))
        .await,
        401
    );
    assert_eq!(
        status(token(json!({"aud": [jwt.audience.clone(), "x"]}))).await,
        200
    );
    assert_eq!(
        status(token(json!({}))).await,
        401,
        "neither aud nor client_id"
    );
}

/// With the console configured, its client id is an audience too, as the template's
/// `JwtConfiguration` lists it: by `aud`, or by `client_id` for a token without `aud`.
#[tokio::test]
async fn the_consoles_client_id_is_an_audience_only_when_the_console_is_configured() {
    let t = TestApi::new().await;
    let (_, plain) = t.spawn_gateway().await;
    let with_console = plain
        .clone()
        .with_console_client(Some("console-client".into()));
    let status = |base: String, claims: serde_json::Value, jwt: &local_gateway::JwtSettings| {
        let mut c = json!({"sub": "u", "merchant_id": MERCHANT, "iss": jwt.issuer, "exp": now() + 600,
            "scope": "applications:read"});
        for (k, v) in claims.as_object().unwrap() {
            c[k] = v.clone();
        }
        let header = format!("Bearer {}", jwt.sign(&c));
        async move {
            http(
                "GET",
                &format!("{base}/api/v1/applications"),
                &[("authorization", &header)],
                None,
            )
            .await
            .status
        }
    };
    let console_base = t
        .spawn_gateway_over(with_console.clone(), Default::default())
        .await;
    let plain_base = t
        .spawn_gateway_over(plain.clone(), Default::default())
        .await;
    for claims in [
        json!({"client_id": "console-client"}),
        json!({"aud": "console-client"}),
        json!({"aud": ["other", "console-client"]}),
    ] {
        assert_eq!(
            status(console_base.clone(), claims.clone(), &with_console).await,
            200,
            "{claims}"
        );
        assert_eq!(
            status(plain_base.clone(), claims.clone(), &plain).await,
            401,
            "{claims}"
        );
    }
    // With an aud, the client_id is not looked at.
    assert_eq!(
        status(
            console_base.clone(),
            json!({"aud": "other", "client_id": "console-client"}),
            &with_console
        )
        .await,
        401
    );
    let cognito_shaped = with_console.issue_as_client(MERCHANT, 600, "console-client");
    let header = format!("Bearer {cognito_shaped}");
    let answer = http(
        "GET",
        &format!("{console_base}/api/v1/applications"),
        &[("authorization", &header)],
        None,
    )
    .await;
    assert_eq!(answer.status, 200);
}

/// As the template's rule `ConsoleRequiresScopes` refuses a stack, the gateway refuses to serve
/// the console with a scope requirement turned off: the console's ID tokens would pass.
#[test]
fn the_gateway_settings_refuse_the_console_without_both_scopes() {
    let settings = |console: Option<&str>, read: &str, write: &str| {
        local_gateway::JwtSettings::new("https://issuer.example", "api", b"secret", "merchant_id")
            .with_scopes(Scopes {
                read: read.into(),
                write: write.into(),
            })
            .with_console_client(console.map(str::to_owned))
    };
    assert!(settings(Some("console"), "r", "w")
        .check_console_scopes()
        .is_ok());
    assert!(settings(None, "", "").check_console_scopes().is_ok());
    assert!(settings(Some(""), "", "").check_console_scopes().is_ok());
    for (read, write) in [("", "w"), ("r", ""), ("", "")] {
        let why = settings(Some("console"), read, write)
            .check_console_scopes()
            .expect_err("served the console without a scope");
        assert!(
            why.contains("CONSOLE_CLIENT_ID")
                && why.contains("JWT_READ_SCOPE")
                && why.contains("JWT_WRITE_SCOPE"),
            "{why}"
        );
    }
}

/// The same origins as the template's parameter (tests/api/deployment/safety.rs): https, or http
/// to loopback only.
#[test]
fn the_gateway_takes_the_origins_the_template_takes() {
    for list in api_tests::origins::ACCEPTED {
        Cors::parse(list).unwrap_or_else(|why| panic!("{list:?} refused: {why}"));
    }
    for list in api_tests::origins::REFUSED {
        let why = Cors::parse(list).expect_err(list);
        assert!(why.contains("CORS_ALLOWED_ORIGINS"), "{why}");
    }
}

#[tokio::test]
async fn cors_preflights_are_answered_by_the_gateway_for_the_allowed_origins_only() {
    let t = TestApi::new().await;
    let dashboard = "https://dashboard.example.com";
    let (base, jwt) = t
        .spawn_gateway_with(Cors::new([dashboard]), Scopes::default())
        .await;
    let preflight = |origin: &'static str, path: &'static str| {
        let url = format!("{base}{path}");
        async move {
            http(
                "OPTIONS",
                &url,
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "authorization,content-type,idempotency-key",
                    ),
                ],
                None,
            )
            .await
        }
    };
    // No JWT needed: the preflight never reaches the authorizer.
    let allowed = preflight(dashboard, "/api/v1/applications").await;
    assert_eq!(allowed.status, 204, "{}", allowed.body);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some(dashboard)
    );
    let methods = allowed.header("access-control-allow-methods").unwrap();
    for method in ["GET", "POST", "PATCH", "DELETE"] {
        assert!(methods.split(',').any(|m| m == method), "{methods}");
    }
    let headers = allowed.header("access-control-allow-headers").unwrap();
    for header in ["authorization", "content-type", "idempotency-key"] {
        assert!(headers.split(',').any(|h| h == header), "{headers}");
    }
    assert!(allowed.header("access-control-max-age").is_some());
    let other = preflight("https://evil.example", "/api/v1/applications").await;
    assert_eq!(other.status, 204);
    assert_eq!(other.header("access-control-allow-origin"), None);
    // The payment route (ANY) takes its own preflights, and its authorizer refuses them.
    assert_eq!(
        preflight(dashboard, "/api/v1/payments/charges")
            .await
            .status,
        401
    );

    // The call itself: CORS headers for the allowed origin, with Location readable.
    let token = format!("Bearer {}", jwt.issue(MERCHANT, 600));
    let created = http(
        "POST",
        &format!("{base}/api/v1/applications"),
        &[("authorization", &token), ("origin", dashboard)],
        Some(r#"{"name": "From the dashboard"}"#),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        created.header("access-control-allow-origin"),
        Some(dashboard)
    );
    let exposed = created.header("access-control-expose-headers").unwrap();
    assert!(exposed.split(',').any(|h| h == "location"), "{exposed}");
    let foreign = http(
        "GET",
        &format!("{base}/api/v1/applications"),
        &[
            ("authorization", &token),
            ("origin", "https://evil.example"),
        ],
        None,
    )
    .await;
    assert_eq!(foreign.header("access-control-allow-origin"), None);

    // Without CORS configured there is no preflight answer at all.
    let (plain, _) = t.spawn_gateway().await;
    let r = http(
        "OPTIONS",
        &format!("{plain}/api/v1/applications"),
        &[
            ("origin", dashboard),
            ("access-control-request-method", "POST"),
        ],
        None,
    )
    .await;
    assert_eq!((r.status, r.json), (404, json!({"message": "Not Found"})));
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

//! The console's function (contract, "The console"): the page, its settings and its assets with
//! the headers the contract lists, nothing else under /console, and nothing at all without a
//! client id. The page in a real browser is `scripts/console-test`'s.

use console::{Console, Settings, ASSETS, ASSETS_HASH};
use lambda_http::{Body, Request, Response};
use serde_json::Value;

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example";

fn configured() -> Console {
    let vars = [
        ("CONSOLE_CLIENT_ID", "console-client"),
        ("JWT_ISSUER", ISSUER),
        (
            "CONSOLE_AUTH_ORIGINS",
            "https://example.auth.us-east-1.amazoncognito.com",
        ),
        ("PAYMENT_RESOURCES", "charges,refunds"),
    ];
    Console::new(
        Settings::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
        .unwrap(),
    )
}

async fn get(console: &Console, path: &str) -> Response<Body> {
    let request: Request = lambda_http::http::Request::builder()
        .uri(format!(
            "https://abcdef123.execute-api.us-east-1.amazonaws.com{path}"
        ))
        .body(Body::Empty)
        .unwrap();
    console::handler(console, request).await.unwrap()
}

fn header<'a>(response: &'a Response<Body>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .to_str()
        .unwrap()
}

fn text(response: &Response<Body>) -> String {
    match response.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Body::Empty => String::new(),
        _ => unreachable!(),
    }
}

fn assert_hardened(path: &str, response: &Response<Body>) {
    assert_eq!(
        header(response, "x-content-type-options"),
        "nosniff",
        "{path}"
    );
    assert_eq!(header(response, "referrer-policy"), "no-referrer", "{path}");
    let policy = header(response, "content-security-policy");
    assert!(policy.starts_with("default-src 'none'"), "{path}: {policy}");
    for directive in [
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ] {
        assert!(policy.contains(directive), "{path}: {policy}");
    }
}

#[tokio::test]
async fn the_page_settings_and_assets_are_served_with_the_contracts_headers() {
    let console = configured();
    let page = get(&console, "/console").await;
    assert_eq!(page.status(), 200);
    assert_hardened("/console", &page);
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "cache-control"), "no-cache");
    assert_eq!(
        header(&page, "content-security-policy"),
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self' https://cognito-idp.us-east-1.amazonaws.com \
         https://example.auth.us-east-1.amazoncognito.com; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'none'"
    );
    let html = text(&page);
    assert!(!html.contains("__ASSETS__"), "the hash is filled in");
    // Every asset the page names is served from the hashed directory, cached for a year.
    let prefix = format!("/console/assets/{ASSETS_HASH}/");
    let named: Vec<&str> = html
        .match_indices(&prefix)
        .map(|(at, _)| {
            let rest = &html[at..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert!(
        named.len() >= 2,
        "the page loads its script and style: {html}"
    );
    for (name, bytes) in ASSETS {
        let path = format!("{prefix}{name}");
        let asset = get(&console, &path).await;
        assert_eq!(asset.status(), 200, "{path}");
        assert_hardened(&path, &asset);
        assert_eq!(
            header(&asset, "cache-control"),
            "public, max-age=31536000, immutable",
            "{path}"
        );
        let served = match asset.body() {
            Body::Text(text) => text.as_bytes().to_vec(),
            Body::Binary(bytes) => bytes.clone(),
            _ => Vec::new(),
        };
        assert_eq!(&served, bytes, "{path}");
    }
    for path in named {
        assert_eq!(get(&console, path).await.status(), 200, "{path}");
    }

    let settings = get(&console, "/console/config.json").await;
    assert_eq!(settings.status(), 200);
    assert_hardened("/console/config.json", &settings);
    assert_eq!(header(&settings, "cache-control"), "no-cache");
    let settings: Value = serde_json::from_str(&text(&settings)).unwrap();
    assert_eq!(settings["clientId"], "console-client");
    assert_eq!(settings["issuer"], ISSUER);
    assert_eq!(
        settings["scopes"],
        "openid applications:read applications:write"
    );
    assert_eq!(
        settings["paymentResources"],
        serde_json::json!(["charges", "refunds"])
    );
}

#[tokio::test]
async fn nothing_else_under_console_is_served() {
    let console = configured();
    let (first, _) = ASSETS[0];
    for path in [
        "/console/index.html".to_owned(),
        "/console/other".to_owned(),
        format!("/console/assets/{first}"),
        format!("/console/assets/0000000000000000/{first}"),
        format!("/console/assets/{ASSETS_HASH}/../index.html"),
        format!("/console/assets/{ASSETS_HASH}/{first}/"),
        format!("/console/assets/{ASSETS_HASH}/%2e%2e/index.html"),
        format!("/console/assets/{ASSETS_HASH}/missing.js"),
    ] {
        let response = get(&console, &path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_hardened(&path, &response);
        assert_eq!(
            header(&response, "content-type"),
            "application/problem+json"
        );
    }
}

#[tokio::test]
async fn without_a_client_id_every_console_path_is_404() {
    let console = Console::default();
    let (first, _) = ASSETS[0];
    for path in [
        "/console".to_owned(),
        "/console/config.json".to_owned(),
        format!("/console/assets/{ASSETS_HASH}/{first}"),
    ] {
        let response = get(&console, &path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_hardened(&path, &response);
    }
}

/// The template hands the console its settings, and every value its parameters accept starts the
/// function: a deployment cannot ship a console that fails at start.
#[test]
fn the_template_configures_the_console_with_values_it_starts_with() {
    use api_tests::cloudformation::{check_constraints, scalar, transformed, Stack};
    let stack = Stack::deploy(&[
        ("ConsoleClientId", "abc123"),
        (
            "ConsoleAuthOrigins",
            "https://x.auth.us-east-1.amazoncognito.com",
        ),
    ]);
    let functions: Vec<_> = stack
        .of_type("AWS::Lambda::Function")
        .into_iter()
        .filter(|(id, _)| *id == "Console")
        .collect();
    assert_eq!(functions.len(), 1);
    let env: std::collections::BTreeMap<String, String> = functions[0].1["Properties"]
        ["Environment"]["Variables"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), scalar(v)))
        .collect();
    assert_eq!(env["CONSOLE_CLIENT_ID"], "abc123");
    assert_eq!(env["JWT_ISSUER"], stack.parameters["JwtIssuer"]);
    let settings = Settings::from_lookup(|name| env.get(name).cloned())
        .unwrap()
        .expect("configured");
    assert!(settings
        .content_security_policy()
        .contains("https://x.auth.us-east-1.amazoncognito.com"));

    let parameters = &transformed()["Parameters"];
    for (parameter, variable, values) in [
        (
            "ConsoleClientId",
            "CONSOLE_CLIENT_ID",
            vec!["", "a", "7d2f-client_id.x"],
        ),
        (
            "ConsoleAuthOrigins",
            "CONSOLE_AUTH_ORIGINS",
            vec![
                "",
                "https://a.example",
                "https://a.example:8443,https://b.example",
            ],
        ),
    ] {
        for value in values {
            check_constraints(&parameters[parameter], value)
                .unwrap_or_else(|problem| panic!("{parameter}={value:?}: {problem}"));
            let mut env = env.clone();
            env.insert(variable.to_owned(), value.to_owned());
            Settings::from_lookup(|name| env.get(name).cloned())
                .unwrap_or_else(|err| panic!("{parameter}={value:?}: {err}"));
        }
        for refused in ["a b", "https://a.example/path", "http://a.example"] {
            if parameter == "ConsoleClientId" && refused.starts_with("http") {
                continue;
            }
            assert!(
                check_constraints(&parameters[parameter], refused).is_err(),
                "{parameter}={refused:?}"
            );
        }
    }
}

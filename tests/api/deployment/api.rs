//! The API: its routes, integrations and authorizers all inside the one OpenAPI definition, the
//! route table served exactly, scopes, the payments backend's headers, CORS.

use super::*;

#[test]
fn every_function_binary_is_deployed_once() {
    let echo = echo_mode();
    let deployed: BTreeSet<String> = functions(&echo).into_keys().collect();
    assert_eq!(deployed, function_binaries());
    // With a payments backend, payments-echo is not deployed, nor anything of its own.
    let backend = backend_mode();
    let mut expected = function_binaries();
    expected.remove("payments-echo");
    assert_eq!(
        functions(&backend).into_keys().collect::<BTreeSet<_>>(),
        expected
    );
    let echo_id = logical_id_of(&echo, "payments-echo");
    for (id, resource) in &backend.resources {
        assert!(
            !resource.to_string().contains(&format!("\"{echo_id}")),
            "{id} still refers to {echo_id} with a backend"
        );
    }
}

#[test]
fn every_route_and_authorizer_is_inside_the_api_definition_none_beside_it() {
    let raw = transformed();
    for kind in [
        "AWS::ApiGatewayV2::Route",
        "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::Authorizer",
        "AWS::ApiGatewayV2::RouteResponse",
        "AWS::ApiGatewayV2::IntegrationResponse",
    ] {
        let beside: Vec<&String> = raw["Resources"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, r)| r["Type"] == kind)
            .map(|(id, _)| id)
            .collect();
        assert!(
            beside.is_empty(),
            "{kind} {beside:?} beside the API's Body: an update that reimports the Body drops it"
        );
    }
    for stack in [echo_mode(), backend_mode()] {
        let body = definition(&stack);
        let schemes = body["components"]["securitySchemes"].as_object().unwrap();
        let names: BTreeSet<&str> = schemes.keys().map(String::as_str).collect();
        assert_eq!(names, BTreeSet::from(["ApiKeyAuthorizer", "JwtAuthorizer"]));
    }
}

#[test]
fn the_api_serves_exactly_the_route_table() {
    for (stack, backend) in [(echo_mode(), false), (backend_mode(), true)] {
        let body = definition(&stack);
        let mut served = BTreeSet::new();
        for (route_key, operation) in operations(body) {
            let integration = &operation["x-amazon-apigateway-integration"];
            let target = match integration["type"].as_str() {
                Some("http_proxy") => integration["uri"].as_str().unwrap().to_owned(),
                _ => {
                    let id = lambda_target(integration);
                    functions(&stack)
                        .into_iter()
                        .find(|(_, (logical, _))| *logical == id)
                        .unwrap_or_else(|| panic!("{route_key} targets {id}, not a function"))
                        .0
                }
            };
            served.insert(format!("{route_key} -> {target} ({:?})", guard(operation)));
        }
        let expected: BTreeSet<String> = ROUTES
            .iter()
            .map(|r| {
                let target = match r.guard {
                    Guard::ApiKey if backend => format!("{BACKEND_URL}/{{proxy}}"),
                    _ => r.function.to_owned(),
                };
                format!("{} -> {target} ({:?})", r.route_key(), Gate::from(r.guard))
            })
            .collect();
        assert_eq!(served, expected, "backend: {backend}");
    }
}

#[test]
fn api_gateway_may_invoke_exactly_the_routed_functions_and_the_authorizer() {
    let stack = echo_mode();
    let (api_id, _) = api(&stack);
    let mut invocable = BTreeSet::new();
    for (id, permission) in stack.of_type("AWS::Lambda::Permission") {
        let p = &permission["Properties"];
        assert_eq!(p["Principal"], "apigateway.amazonaws.com", "{id}");
        assert_eq!(p["Action"], "lambda:InvokeFunction", "{id}");
        let source = p["SourceArn"].as_str().unwrap();
        assert!(
            source.starts_with(&format!(
                "arn:aws:execute-api:us-east-1:123456789012:{api_id}/"
            )),
            "{id}: {source}"
        );
        let function = scalar(&p["FunctionName"]);
        invocable.insert(function.trim_end_matches(".Arn").to_owned());
    }
    let mut expected: BTreeSet<String> = ROUTES
        .iter()
        .map(|r| logical_id_of(&stack, r.function))
        .collect();
    expected.insert(logical_id_of(&stack, AUTHORIZER_FUNCTION));
    assert_eq!(invocable, expected);
}

#[test]
fn the_authorizers_are_configured_as_the_contract_says() {
    let stack = echo_mode();
    let schemes = &definition(&stack)["components"]["securitySchemes"];
    let api_key = &schemes["ApiKeyAuthorizer"]["x-amazon-apigateway-authorizer"];
    assert_eq!(api_key["type"], "request");
    assert_eq!(api_key["authorizerPayloadFormatVersion"], "2.0");
    assert_eq!(api_key["enableSimpleResponses"], true);
    assert_eq!(
        api_key["identitySource"],
        json!(["$request.header.Authorization"])
    );
    assert_eq!(
        api_key["authorizerResultTtlInSeconds"],
        json!(0),
        "a cached allow would outlive a revocation"
    );
    let authorizer = logical_id_of(&stack, AUTHORIZER_FUNCTION);
    assert!(api_key["authorizerUri"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/functions/{authorizer}.Arn/invocations")));

    let jwt = &schemes["JwtAuthorizer"]["x-amazon-apigateway-authorizer"];
    assert_eq!(jwt["type"], "jwt");
    assert_eq!(jwt["identitySource"], "$request.header.Authorization");
    assert_eq!(
        jwt["jwtConfiguration"]["issuer"],
        stack.parameters["JwtIssuer"].as_str()
    );
    assert_eq!(
        jwt["jwtConfiguration"]["audience"],
        json!([stack.parameters["JwtAudience"]])
    );
}

/// An ID token issued to the console carries its client id as `aud` and no scope: with the
/// console configured, both scopes must be required, so that such a token is refused.
#[test]
fn a_console_requires_both_scopes_so_that_its_id_tokens_are_refused() {
    for scope in ["JwtWriteScope", "JwtReadScope"] {
        let refusal = Stack::try_deploy(&[("ConsoleClientId", "console-client"), (scope, "")])
            .err()
            .unwrap_or_else(|| panic!("a console with an empty {scope} was accepted"));
        assert!(refusal.contains("ConsoleRequiresScopes"), "{refusal}");
    }
    assert!(Stack::try_deploy(&[("ConsoleClientId", "console-client")]).is_ok());
    // Without the console, a deployer may still turn the scopes off.
    assert!(Stack::try_deploy(&[("JwtWriteScope", "")]).is_ok());
}

/// The console signs in as its own client, whose Cognito access tokens carry no `aud` but its
/// `client_id`: the JWT authorizer accepts that client beside `JwtAudience`, and only when set.
#[test]
fn the_jwt_authorizer_accepts_the_consoles_client_when_there_is_one() {
    let stack = Stack::deploy(&[("ConsoleClientId", "console-client")]);
    let schemes = &definition(&stack)["components"]["securitySchemes"];
    let jwt = &schemes["JwtAuthorizer"]["x-amazon-apigateway-authorizer"];
    assert_eq!(
        jwt["jwtConfiguration"]["audience"],
        json!([stack.parameters["JwtAudience"], "console-client"])
    );
}

#[test]
fn every_management_route_requires_the_scopes_of_the_shared_rule() {
    let parameter_sets: [(&[(&str, &str)], Scopes); 4] = [
        (&[], Scopes::default()),
        (
            &[
                ("JwtReadScope", "payments/apps.read"),
                ("JwtWriteScope", "payments/apps.write"),
            ],
            Scopes {
                read: "payments/apps.read".into(),
                write: "payments/apps.write".into(),
            },
        ),
        (
            &[("JwtReadScope", "")],
            Scopes {
                read: String::new(),
                write: "applications:write".into(),
            },
        ),
        (
            &[("JwtWriteScope", "")],
            Scopes {
                read: "applications:read".into(),
                write: String::new(),
            },
        ),
    ];
    for (parameters, scopes) in parameter_sets {
        let stack = Stack::deploy(parameters);
        let body = definition(&stack);
        for route in ROUTES {
            let security = &operation(body, route)["security"][0];
            let (name, required) = match route.guard {
                Guard::Jwt => ("JwtAuthorizer", route.required_scopes(&scopes)),
                Guard::ApiKey => ("ApiKeyAuthorizer", Vec::new()),
                Guard::Signature | Guard::Public => ("NONE", Vec::new()),
            };
            let configured: Vec<&str> = security[name]
                .as_array()
                .unwrap_or_else(|| panic!("{}: {security}", route.route_key()))
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect();
            assert_eq!(
                configured,
                required,
                "{} with {parameters:?}",
                route.route_key()
            );
        }
    }
}

/// Headers an HTTP API parameter mapping may not change ("Reserved headers" in the
/// parameter-mapping guide); a `*` ends a prefix.
const RESERVED_HEADERS: &[&str] = &[
    "access-control-*",
    "apigw-*",
    "authorization",
    "connection",
    "content-encoding",
    "content-length",
    "content-location",
    "forwarded",
    "keep-alive",
    "origin",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "x-amz-*",
    "x-amzn-*",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "via",
];

#[test]
fn the_payments_backend_gets_who_is_calling_in_headers_it_can_trust_and_no_reserved_mapping() {
    let stack = backend_mode();
    let body = definition(&stack);
    let payments = ROUTES.iter().find(|r| r.guard == Guard::ApiKey).unwrap();
    let integration = &operation(body, payments)["x-amazon-apigateway-integration"];
    assert_eq!(integration["type"], "http_proxy");
    assert_eq!(integration["httpMethod"], "ANY");
    assert_eq!(integration["payloadFormatVersion"], "1.0");
    assert_eq!(integration["uri"], format!("{BACKEND_URL}/{{proxy}}"));
    let mappings = integration["requestParameters"].as_object().unwrap();
    let mut headers = BTreeMap::new();
    for (key, value) in mappings {
        let (action, target) = key.split_once(':').unwrap();
        let header = target
            .strip_prefix("header.")
            .unwrap_or_else(|| panic!("{key}"));
        let header = header.to_ascii_lowercase();
        let reserved = RESERVED_HEADERS.iter().any(|r| match r.strip_suffix('*') {
            Some(prefix) => header.starts_with(prefix),
            None => header == *r,
        });
        assert!(
            !reserved,
            "{key}: a reserved header; the deployment would fail"
        );
        // Overwritten, never appended: a caller cannot forge who it is.
        assert_eq!(action, "overwrite", "{key}");
        headers.insert(header, value.as_str().unwrap().to_owned());
    }
    assert_eq!(
        headers,
        BTreeMap::from([
            (
                "x-api-key-id".to_owned(),
                "$context.authorizer.keyId".to_owned()
            ),
            (
                "x-api-key-permissions".to_owned(),
                "$context.authorizer.permissions".to_owned()
            ),
            (
                "x-application-id".to_owned(),
                "$context.authorizer.applicationId".to_owned()
            ),
            (
                "x-merchant-id".to_owned(),
                "$context.authorizer.merchantId".to_owned()
            ),
        ])
    );
    // The mapped context keys are those the authorizer answers with.
    let context_keys: BTreeSet<&str> = headers
        .values()
        .map(|v| v.strip_prefix("$context.authorizer.").unwrap())
        .collect();
    assert_eq!(
        context_keys,
        BTreeSet::from(["applicationId", "keyId", "merchantId", "permissions"])
    );
}

#[test]
fn cors_is_off_by_default_and_mirrors_the_local_gateway_when_set() {
    assert!(definition(&echo_mode())
        .get("x-amazon-apigateway-cors")
        .is_none());
    let stack = Stack::deploy(&[(
        "CorsAllowedOrigins",
        "https://dashboard.example.com,http://localhost:5173",
    )]);
    let cors = &definition(&stack)["x-amazon-apigateway-cors"];
    assert_eq!(
        cors["allowOrigins"],
        json!(["https://dashboard.example.com", "http://localhost:5173"])
    );
    assert_eq!(
        cors["allowHeaders"],
        json!(local_gateway::cors::ALLOW_HEADERS)
    );
    assert_eq!(
        cors["exposeHeaders"],
        json!(local_gateway::cors::EXPOSE_HEADERS)
    );
    let methods: BTreeSet<&str> = cors["allowMethods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        local_gateway::Cors::allow_methods().into_iter().collect()
    );
    assert_eq!(cors["maxAge"], json!(local_gateway::cors::MAX_AGE_SECONDS));
    assert!(
        cors.get("allowCredentials").is_none(),
        "tokens travel in a header, not cookies"
    );
}

/// Two kinds of route go without a gateway authorizer: the leaked-key report route (GitHub cannot
/// present a JWT or an API key, and its function checks the report's signature before it reads
/// anything) and the console's static files (a browser loads them before it has signed in). That
/// exemption is deliberate and narrow: exactly those routes of the route table (spelled out here,
/// so that another needs a decision), no scheme named `NONE` that could be reused, and a throttle
/// of their own, no larger than the API's default.
#[test]
fn only_the_report_and_console_routes_go_without_an_authorizer_each_with_its_own_throttle() {
    let open_routes: Vec<String> = ROUTES
        .iter()
        .filter(|r| matches!(r.guard, Guard::Signature | Guard::Public))
        .map(Route::route_key)
        .collect();
    assert_eq!(
        open_routes,
        [
            "POST /api/v1/secret-scanning/reports",
            "GET /console",
            "GET /console/{proxy+}"
        ]
    );
    let custom = Stack::deploy(&[
        ("SecretScanningRateLimit", "5"),
        ("SecretScanningBurstLimit", "7"),
        ("ConsoleRateLimit", "3"),
    ]);
    for (stack, report, console) in [
        (echo_mode(), ("500", "1000"), ("50", "50")),
        (backend_mode(), ("500", "1000"), ("50", "50")),
        (custom, ("5", "7"), ("3", "3")),
    ] {
        let body = definition(&stack);
        let mut open: Vec<String> = operations(body)
            .into_iter()
            .filter(|(_, operation)| {
                operation["security"]
                    .as_array()
                    .expect("every operation names its security")
                    .iter()
                    .any(|requirement| requirement.get(NO_AUTHORIZER).is_some())
            })
            .map(|(key, operation)| {
                assert_eq!(
                    operation["security"],
                    json!([{ NO_AUTHORIZER: [] }]),
                    "{key}: no authorizer, and nothing else beside it"
                );
                key
            })
            .collect();
        open.sort();
        let mut expected = open_routes.clone();
        expected.sort();
        assert_eq!(open, expected, "routes without an authorizer");
        assert!(
            body["components"]["securitySchemes"]
                .get(NO_AUTHORIZER)
                .is_none(),
            "NONE must stay SAM's word for no authorizer, not a scheme"
        );
        let stage = stack.of_type("AWS::ApiGatewayV2::Stage")[0].1;
        let settings = stage["Properties"]["RouteSettings"]
            .as_object()
            .expect("route settings");
        let keys: Vec<&String> = settings.keys().collect();
        assert_eq!(keys, expected.iter().collect::<Vec<_>>());
        let default_rate: u32 = stack.parameters["ThrottlingRateLimit"].parse().unwrap();
        for (key, setting) in settings {
            let (rate, burst) = if key.contains("secret-scanning") {
                report
            } else {
                console
            };
            assert_eq!(scalar(&setting["ThrottlingRateLimit"]), rate, "{key}");
            assert_eq!(scalar(&setting["ThrottlingBurstLimit"]), burst, "{key}");
            // Route settings replace the defaults for the route: its alarms need these.
            assert_eq!(setting["DetailedMetricsEnabled"], true, "{key}");
            // By default a bucket of its own no larger than the other routes' (docs/security.md,
            // "Report flood": sized to what a junk report costs, not to GitHub's traffic).
            assert!(
                rate.parse::<u32>().unwrap() <= default_rate,
                "{key}: {rate} vs {default_rate}"
            );
        }
    }
}

/// Tenant isolation rests on the merchant claim: the parameter says who may set it, points to
/// the deployment guide's section on Cognito, Auth0 and Okta, and gives no user-writable
/// attribute as its example.
#[test]
fn the_merchant_claim_parameter_says_only_administrators_may_set_it() {
    let parameter = &transformed()["Parameters"]["MerchantClaim"];
    let description = parameter["Description"].as_str().unwrap();
    assert!(
        description.contains("only the identity provider's administrators may be able to set it"),
        "{description}"
    );
    assert!(!description.contains("custom:"), "{description}");
    assert_eq!(parameter["Default"], "merchant_id");
    let guide = std::fs::read_to_string(workspace().join("docs/deploy.md")).unwrap();
    assert!(description.contains("\"The merchant claim: who may set it\""));
    assert!(guide.contains("\n## The merchant claim: who may set it\n"));
    for provider in ["Cognito", "Auth0", "Okta"] {
        assert!(
            guide
                .lines()
                .any(|line| line.starts_with("### ") && line.contains(provider)),
            "{provider}"
        );
    }
}

//! What keeps a deployment safe: retained secrets, parameters the functions accept, throttling,
//! timeouts that fit the budgets, least privilege.

use super::*;

#[test]
fn the_pepper_and_the_table_outlive_the_stack() {
    let stack = echo_mode();
    for kind in ["AWS::SecretsManager::Secret", "AWS::DynamoDB::Table"] {
        let found = stack.of_type(kind);
        assert!(!found.is_empty(), "{kind}");
        for (id, resource) in found {
            assert_eq!(resource["DeletionPolicy"], "Retain", "{id}");
            assert_eq!(resource["UpdateReplacePolicy"], "Retain", "{id}");
        }
    }
    let source = std::fs::read_to_string(workspace().join("infra/template.yaml")).unwrap();
    assert!(
        source.contains("NEVER EDIT GenerateSecretString"),
        "the pepper's warning against regenerating it is in the template"
    );
}

/// Each function's environment in `stack`, as a lookup for `Config::from_lookup`.
fn environment(function: &Value) -> BTreeMap<String, String> {
    function["Properties"]["Environment"]["Variables"]
        .as_object()
        .map(|vars| vars.iter().map(|(k, v)| (k.clone(), scalar(v))).collect())
        .unwrap_or_default()
}

#[test]
fn parameters_carry_the_bounds_the_functions_accept() {
    let parameters = &transformed()["Parameters"];
    let range = |name: &str| {
        (
            scalar(&parameters[name]["MinValue"])
                .parse::<u32>()
                .unwrap(),
            scalar(&parameters[name]["MaxValue"])
                .parse::<u32>()
                .unwrap(),
        )
    };
    assert_eq!(
        range("MaxKeysPerApplication"),
        MAX_KEYS_PER_APPLICATION_RANGE.into_inner()
    );
    assert_eq!(
        range("MaxApplicationsPerMerchant"),
        MAX_APPLICATIONS_PER_MERCHANT_RANGE.into_inner()
    );
    let defaults = Limits::default();
    assert_eq!(
        scalar(&parameters["MaxKeysPerApplication"]["Default"]),
        defaults.max_keys_per_application.to_string()
    );
    assert_eq!(
        scalar(&parameters["MaxApplicationsPerMerchant"]["Default"]),
        defaults.max_applications_per_merchant.to_string()
    );
    let key_modes: Vec<String> = parameters["KeyMode"]["AllowedValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(scalar)
        .collect();
    assert_eq!(key_modes, KEY_MODES);
    assert_eq!(
        parameters["MerchantClaim"]["AllowedPattern"],
        MERCHANT_CLAIM_PATTERN
    );
    // The resources: the template's default is the code's, and every list the parameter takes
    // starts every function, every list it refuses (but the empty one, which the code reads as
    // the default) is refused by the code too.
    assert_eq!(
        parameters["PaymentResources"]["Default"],
        appkeys::domain::permissions::DEFAULT_RESOURCES
    );
    for (list, template_accepts) in [
        ("charges,refunds,customers", true),
        ("payouts", true),
        ("Charges", false),
        ("charges,", false),
        ("1x", false),
    ] {
        assert_eq!(
            check_constraints(&parameters["PaymentResources"], list).is_ok(),
            template_accepts,
            "{list}"
        );
        assert_eq!(
            appkeys::domain::permissions::PaymentResources::parse(list).is_ok(),
            template_accepts,
            "{list}"
        );
    }

    // Every value the template accepts at its bounds starts every function; one past a bound is
    // refused by both.
    let at_bounds: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![
            (
                "MaxKeysPerApplication",
                MAX_KEYS_PER_APPLICATION_RANGE.start().to_string(),
            ),
            (
                "MaxApplicationsPerMerchant",
                MAX_APPLICATIONS_PER_MERCHANT_RANGE.start().to_string(),
            ),
            ("KeyMode", "test".into()),
            ("MerchantClaim", "c".into()),
        ],
        vec![
            (
                "MaxKeysPerApplication",
                MAX_KEYS_PER_APPLICATION_RANGE.end().to_string(),
            ),
            (
                "MaxApplicationsPerMerchant",
                MAX_APPLICATIONS_PER_MERCHANT_RANGE.end().to_string(),
            ),
            (
                "MerchantClaim",
                format!("https://example.com/{}", "c".repeat(236)),
            ),
        ],
    ];
    for overrides in at_bounds {
        let overrides: Vec<(&str, &str)> =
            overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let stack = Stack::deploy(&overrides);
        for (binary, (_, function)) in functions(&stack) {
            let env = environment(function);
            let lookup = |name: &str| env.get(name).cloned();
            Config::from_lookup(lookup)
                .unwrap_or_else(|err| panic!("{binary} with {overrides:?} would not start: {err}"));
            if env.contains_key("API_KEY_PEPPER_SECRET_ID") {
                appkeys::lambda::config::pepper_source(|name| env.get(name).cloned()).unwrap();
            }
        }
    }
    for (name, past) in [
        (
            "MaxKeysPerApplication",
            (MAX_KEYS_PER_APPLICATION_RANGE.end() + 1).to_string(),
        ),
        ("MaxKeysPerApplication", "0".to_owned()),
        (
            "MaxApplicationsPerMerchant",
            (MAX_APPLICATIONS_PER_MERCHANT_RANGE.end() + 1).to_string(),
        ),
        ("MerchantClaim", "merchant id".to_owned()),
        ("MerchantClaim", "c".repeat(257)),
        ("KeyMode", "prod".to_owned()),
    ] {
        assert!(
            check_constraints(&parameters[name], &past).is_err(),
            "{name}={past}"
        );
        let variable = match name {
            "MaxKeysPerApplication" => "MAX_KEYS_PER_APPLICATION",
            "MaxApplicationsPerMerchant" => "MAX_APPLICATIONS_PER_MERCHANT",
            "MerchantClaim" => "MERCHANT_CLAIM",
            _ => "KEY_MODE",
        };
        let refused = Config::from_lookup(|n| match n {
            "TABLE_NAME" => Some("t".into()),
            n if n == variable => Some(past.clone()),
            _ => None,
        });
        assert!(
            refused.is_err(),
            "{variable}={past} must be refused by the functions too"
        );
    }
}

#[test]
fn urls_origins_and_scopes_are_checked_before_they_deploy() {
    let parameters = &transformed()["Parameters"];
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "JwtIssuer",
            &[
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
                "https://example.eu.auth0.com/",
            ],
            &[
                "",
                "http://issuer.example",
                "https://",
                "https://issuer example",
            ],
        ),
        (
            "JwtAudience",
            &["applications-api", "7abc123client"],
            &["", "two words"],
        ),
        (
            "PaymentsBackendUrl",
            &["", BACKEND_URL, "https://10.0.0.5:8443/payments/v1"],
            &[
                "http://payments.internal.example",
                "https://payments.internal.example/",
                "https://payments.internal.example/x?y=1",
                "https://payments.internal.example/{proxy}",
                "payments.internal.example",
            ],
        ),
        (
            "JwtReadScope",
            &["", "applications:read", "https://api.example.com/apps.read"],
            &["two scopes", "quote\"d", "back\\slash"],
        ),
        (
            "PaymentResources",
            &[
                "charges,refunds,customers",
                "payouts",
                "balance_transactions,x-1",
            ],
            &["", "Charges", "charges,", "charges, refunds", "1x", "a.b"],
        ),
        (
            "CorsAllowedOrigins",
            api_tests::origins::ACCEPTED,
            api_tests::origins::REFUSED,
        ),
        (
            "AlarmEmail",
            &["", "oncall@example.com"],
            &["oncall", "a b@example.com"],
        ),
    ];
    for (name, accepted, refused) in cases {
        for value in *accepted {
            check_constraints(&parameters[*name], value)
                .unwrap_or_else(|problem| panic!("{name}={value:?} refused: {problem}"));
        }
        for value in *refused {
            assert!(
                check_constraints(&parameters[*name], value).is_err(),
                "{name}={value:?} accepted"
            );
        }
    }
}

#[test]
fn routes_are_throttled_and_the_authorizer_has_its_own_concurrency() {
    let stack = Stack::deploy(&[
        ("ThrottlingRateLimit", "300"),
        ("ThrottlingBurstLimit", "600"),
        ("AuthorizerReservedConcurrency", "50"),
    ]);
    let stages = stack.of_type("AWS::ApiGatewayV2::Stage");
    assert_eq!(stages.len(), 1);
    let settings = &stages[0].1["Properties"]["DefaultRouteSettings"];
    assert_eq!(scalar(&settings["ThrottlingRateLimit"]), "300");
    assert_eq!(scalar(&settings["ThrottlingBurstLimit"]), "600");
    assert_eq!(settings["DetailedMetricsEnabled"], true);
    let authorizer = functions(&stack)[AUTHORIZER_FUNCTION].1;
    assert_eq!(
        scalar(&authorizer["Properties"]["ReservedConcurrentExecutions"]),
        "50"
    );
    // 0 means no reservation (not "throttle everything", which Lambda's 0 would mean).
    let unreserved = Stack::deploy(&[("AuthorizerReservedConcurrency", "0")]);
    assert!(functions(&unreserved)[AUTHORIZER_FUNCTION].1["Properties"]
        .get("ReservedConcurrentExecutions")
        .is_none());
    // Defaults: sane, not API Gateway's account-wide 10,000 requests per second.
    let defaults = echo_mode();
    assert_eq!(defaults.parameters["ThrottlingRateLimit"], "1000");
    assert_eq!(defaults.parameters["ThrottlingBurstLimit"], "2000");
    assert_eq!(defaults.parameters["AuthorizerReservedConcurrency"], "100");
}

/// The unauthenticated report function has a concurrency of its own, so that a flood of junk
/// reports cannot take the account's; 0 means no reservation, as for the authorizer.
#[test]
fn the_report_function_has_its_own_concurrency() {
    let report = |stack: &Stack| {
        let signature = ROUTES
            .iter()
            .find(|r| r.guard == Guard::Signature)
            .expect("the report route")
            .function;
        functions(stack)[signature].1["Properties"]
            .get("ReservedConcurrentExecutions")
            .map(scalar)
    };
    let defaults = echo_mode();
    assert_eq!(defaults.parameters["ReportReservedConcurrency"], "10");
    assert_eq!(report(&defaults).as_deref(), Some("10"));
    let reserved = Stack::deploy(&[("ReportReservedConcurrency", "25")]);
    assert_eq!(report(&reserved).as_deref(), Some("25"));
    assert_eq!(
        report(&Stack::deploy(&[("ReportReservedConcurrency", "0")])),
        None
    );
}

/// Every policy document says its language version, 2012-10-17: without it IAM reads the
/// document as the 2008 language, where policy variables are literal text.
#[test]
fn every_policy_document_names_its_version() {
    fn documents<'a>(path: String, value: &'a Value, found: &mut Vec<(String, &'a Value)>) {
        match value {
            Value::Object(members) => {
                for (key, member) in members {
                    let here = format!("{path}/{key}");
                    if key == "PolicyDocument" || key == "AssumeRolePolicyDocument" {
                        found.push((here.clone(), member));
                    }
                    documents(here, member, found);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    documents(format!("{path}[{i}]"), item, found);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    documents(String::new(), &transformed()["Resources"], &mut found);
    let roles = echo_mode().of_type("AWS::IAM::Role").len();
    assert!(found.len() > roles, "each role's trust and inline policies");
    for (path, document) in found {
        assert_eq!(document["Version"], "2012-10-17", "{path}");
    }
}

#[test]
fn each_function_times_out_after_its_budget_and_its_own_deadline() {
    let stack = echo_mode();
    for (binary, (id, function)) in functions(&stack) {
        let budget = devkit::routes::budget_of(&binary);
        let timeout = scalar(&function["Properties"]["Timeout"]);
        assert_eq!(
            timeout,
            budget.function_timeout.as_secs().to_string(),
            "{id}: Timeout must be Budget::function_timeout (shared/src/lambda/sdk.rs)"
        );
    }
}

/// A policy statement's list of strings (`Action`, a condition's values), one or many.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(one) => vec![one.clone()],
        Value::Array(list) => list.iter().map(scalar).collect(),
        other => panic!("not a string or a list: {other}"),
    }
}

/// The DynamoDB grant a statement makes, in the terms of `api_tests::permissions::Narrowed`:
/// (actions, partitions, attributes); `None` for a condition it does not set. Any other
/// condition fails the test, so that nothing narrows or widens a grant unseen.
fn dynamodb_grant(
    id: &str,
    statement: &Value,
) -> (
    BTreeSet<String>,
    Option<BTreeSet<String>>,
    Option<BTreeSet<String>>,
) {
    let actions: BTreeSet<String> = strings(&statement["Action"]).into_iter().collect();
    let Some(condition) = statement.get("Condition") else {
        return (actions, None, None);
    };
    let mut seen = BTreeSet::new();
    let mut take = |operator: &str, key: &str| {
        let value = &condition[operator][key];
        (!value.is_null()).then(|| {
            seen.insert(format!("{operator} {key}"));
            strings(value).into_iter().collect::<BTreeSet<String>>()
        })
    };
    let partitions = take("ForAllValues:StringLike", "dynamodb:LeadingKeys");
    let attributes = take("ForAllValues:StringEquals", "dynamodb:Attributes");
    let return_values = take("StringEqualsIfExists", "dynamodb:ReturnValues");
    let select = take("StringEqualsIfExists", "dynamodb:Select");
    let reads = actions.iter().all(|action| {
        matches!(
            action.as_str(),
            "dynamodb:GetItem" | "dynamodb:BatchGetItem" | "dynamodb:Query"
        )
    });
    match (attributes.is_some(), reads) {
        // Without it, a read could ask for every attribute (IAM's example "Allows access to
        // specific attributes": the dynamodb:Select requirement).
        (true, true) => {
            assert_eq!(
                select,
                Some(BTreeSet::from(["SPECIFIC_ATTRIBUTES".to_owned()])),
                "{id}: a read narrowed to attributes must select them"
            );
            assert!(return_values.is_none(), "{id}: ReturnValues on a read");
        }
        // Without it, the write could read back every attribute of the item (ALL_OLD).
        (true, false) => {
            assert_eq!(
                return_values,
                Some(BTreeSet::from(["NONE".to_owned()])),
                "{id}: a grant narrowed to attributes must return none"
            );
            assert!(select.is_none(), "{id}: Select on a write");
        }
        (false, _) => assert!(
            return_values.is_none() && select.is_none(),
            "{id}: ReturnValues or Select without Attributes"
        ),
    }
    let all: BTreeSet<String> = condition
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(operator, keys)| {
            keys.as_object()
                .unwrap_or_else(|| panic!("{id}: condition {operator}"))
                .keys()
                .map(move |key| format!("{operator} {key}"))
        })
        .collect();
    assert_eq!(all, seen, "{id}: conditions");
    (actions, partitions, attributes)
}

#[test]
fn each_function_may_do_exactly_what_its_code_does() {
    let stack = echo_mode();
    let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let mut checked_narrowed = 0;
    for (binary, (id, function)) in functions(&stack) {
        let role_arn = scalar(&function["Properties"]["Role"]);
        let role = &stack.resource(role_arn.strip_suffix(".Arn").unwrap())["Properties"];
        assert_eq!(
            role["ManagedPolicyArns"],
            json!(["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]),
            "{id}: logs only"
        );
        let mut actions = BTreeSet::new();
        let mut grants = Vec::new();
        for policy in role["Policies"].as_array().into_iter().flatten() {
            for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                assert_eq!(statement["Effect"], "Allow");
                let resource = scalar(&statement["Resource"]);
                assert!(!resource.contains('*'), "{id}: no wildcard resources");
                let listed = strings(&statement["Action"]);
                if listed.iter().any(|a| a.starts_with("dynamodb:")) {
                    assert!(
                        listed.iter().all(|a| a.starts_with("dynamodb:")),
                        "{id}: one service per statement"
                    );
                    let grant = dynamodb_grant(id, statement);
                    // The table's items; the publisher's stream grants are EVENT_PUBLISHER_GRANTS.
                    if resource == "Table.Arn" {
                        grants.push(grant);
                    }
                } else {
                    assert!(statement.get("Condition").is_none(), "{id}: {statement}");
                }
                actions.extend(listed);
            }
        }
        assert!(
            actions.iter().all(|a| !a.contains('*')),
            "{id}: no wildcard actions"
        );
        let expected: BTreeSet<String> = api_tests::permissions::PERMISSIONS
            .iter()
            .find(|(name, _)| *name == binary)
            .unwrap_or_else(|| panic!("{binary} has no entry in PERMISSIONS"))
            .1
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(actions, expected, "{id}");

        // Every statement on the table's items is narrowed by partition (dynamodb:LeadingKeys),
        // and one that reaches key lookup records to the attributes it may touch ...
        for (actions, partitions, attributes) in &grants {
            let partitions = partitions
                .as_ref()
                .unwrap_or_else(|| panic!("{id}: {actions:?} on the whole table"));
            if partitions.contains("KEYHASH#*") {
                assert!(
                    attributes.is_some(),
                    "{id}: {actions:?} on lookup records, any attribute"
                );
            }
        }
        // ... statement by statement, exactly the narrowed grants listed.
        let narrowed = api_tests::permissions::narrowed(&binary);
        let mut wanted: Vec<_> = narrowed
            .iter()
            .map(|n| {
                (
                    set(n.actions),
                    Some(set(n.partitions)),
                    n.attributes.map(set),
                )
            })
            .collect();
        wanted.sort();
        grants.sort();
        assert_eq!(grants, wanted, "{id}: DynamoDB statements");
        checked_narrowed += narrowed.len();
    }
    assert_eq!(
        checked_narrowed,
        api_tests::permissions::NARROWED.len(),
        "every narrowed grant names a deployed function"
    );
}

/// The authorizer writes a key's last use and nothing else: its one write grant names
/// `lastUsedAt` (and the key attributes IAM requires) and reads nothing back.
#[test]
fn the_authorizer_may_write_only_a_keys_last_use() {
    let stack = echo_mode();
    let (id, authorizer) = functions(&stack)[AUTHORIZER_FUNCTION];
    let role_arn = scalar(&authorizer["Properties"]["Role"]);
    let role = &stack.resource(role_arn.strip_suffix(".Arn").unwrap())["Properties"];
    let writes: Vec<&Value> = role["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|policy| policy["PolicyDocument"]["Statement"].as_array().unwrap())
        .filter(|statement| {
            strings(&statement["Action"])
                .iter()
                .any(|action| action != "dynamodb:GetItem" && action.starts_with("dynamodb:"))
        })
        .collect();
    assert_eq!(writes.len(), 1, "{id}: one write statement");
    let write = writes[0];
    assert_eq!(strings(&write["Action"]), ["dynamodb:UpdateItem"], "{id}");
    let condition = &write["Condition"];
    assert_eq!(
        strings(&condition["ForAllValues:StringEquals"]["dynamodb:Attributes"]),
        ["PK", "SK", "lastUsedAt"],
        "{id}: the write may name these attributes only"
    );
    assert_eq!(
        condition["StringEqualsIfExists"]["dynamodb:ReturnValues"], "NONE",
        "{id}"
    );
    assert_eq!(
        strings(&condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]),
        ["KEYHASH#*", "MERCHANT#*"],
        "{id}: lookup records and key items"
    );
}

/// Whoever serves the secret-scanning keys decides which reports revoke keys: the parameter
/// defaults to GitHub's document, takes `https://` only, and reaches exactly the functions that
/// check report signatures, which start with every value it accepts.
#[test]
fn the_report_function_fetches_githubs_signing_keys_over_https_only() {
    use appkeys::lambda::config::secret_scanning_keys_url;
    use appkeys::lambda::config::KEYS_URL_DEFAULT;
    let parameters = &transformed()["Parameters"];
    let keys_url = &parameters["SecretScanningKeysUrl"];
    assert_eq!(scalar(&keys_url["Default"]), KEYS_URL_DEFAULT);
    let accepted = [
        KEYS_URL_DEFAULT,
        "https://ghe.example.com:8443/api/v3/meta/public_keys/secret_scanning",
        "https://keys.internal.example/secret-scanning.json",
    ];
    for value in accepted {
        check_constraints(keys_url, value)
            .unwrap_or_else(|problem| panic!("{value:?} refused: {problem}"));
    }
    for value in [
        "",
        "http://api.github.com/meta/public_keys/secret_scanning",
        // The functions accept a loopback http URL for a local signer; a deployment never does.
        "http://127.0.0.1:8080/keys",
        "https://",
        "https://api.github.com/meta/public_keys/secret_scanning?x=1",
        "https://api.github.com/meta/public_keys/secret_scanning#keys",
        "api.github.com/meta/public_keys/secret_scanning",
        "https://api.github.com /meta",
    ] {
        assert!(
            check_constraints(keys_url, value).is_err(),
            "{value:?} accepted"
        );
    }
    let signature_functions: BTreeSet<&str> = ROUTES
        .iter()
        .filter(|r| r.guard == Guard::Signature)
        .map(|r| r.function)
        .collect();
    assert!(!signature_functions.is_empty());
    for value in accepted {
        let stack = Stack::deploy(&[("SecretScanningKeysUrl", value)]);
        let mut fetching = BTreeSet::new();
        for (binary, (id, function)) in functions(&stack) {
            let env = environment(function);
            let Some(url) = env.get("SECRET_SCANNING_KEYS_URL") else {
                continue;
            };
            fetching.insert(binary.clone());
            assert_eq!(url, value, "{id}");
            assert_eq!(
                secret_scanning_keys_url(|name| env.get(name).cloned()).as_deref(),
                Ok(value),
                "{id} would not start with it"
            );
            // It hashes reported tokens with the pepper, from the secret.
            assert!(
                appkeys::lambda::config::pepper_source(|name| env.get(name).cloned()).is_ok(),
                "{id}: the pepper"
            );
        }
        let fetching: BTreeSet<&str> = fetching.iter().map(String::as_str).collect();
        assert_eq!(fetching, signature_functions);
    }
}

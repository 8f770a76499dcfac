//! The two routes anyone can call, as deployed (docs/security.md): their 429s and 4xx are
//! alarmed, GitHub's signing keys are fetched with a token only when one is configured and their
//! failed fetches are counted from the report function's real log line, and the optional edge
//! exists only with a web ACL and locks the functions behind it.

use std::collections::BTreeMap;

use appkeys::domain::origin_lock;
use appkeys::lambda::secrets::{GITHUB_TOKEN, ORIGIN_VERIFY};
use appkeys::secret_scanning::public_keys::{PublicKeys, FETCH_FAILED};

use super::operability::{alarm_metrics, select, Captured};
use super::*;

const TOKEN_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:github-token-AbCdEf";
const WEB_ACL_ARN: &str = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/appkeys-edge-waf/0f1e2d3c-4b5a-6978-8091-a2b3c4d5e6f7";

fn route_of(guard: Guard) -> String {
    let routes: Vec<&Route> = ROUTES.iter().filter(|r| r.guard == guard).collect();
    assert_eq!(routes.len(), 1, "one {guard:?} route");
    routes[0].route_key()
}

fn environment(function: &Value) -> BTreeMap<String, String> {
    function["Properties"]["Environment"]["Variables"]
        .as_object()
        .map(|vars| vars.iter().map(|(k, v)| (k.clone(), scalar(v))).collect())
        .unwrap_or_default()
}

/// The resources `function`'s role may read secrets from.
fn secrets_read_by(stack: &Stack, function: &Value) -> Vec<String> {
    let role_arn = scalar(&function["Properties"]["Role"]);
    let role = &stack.resource(role_arn.strip_suffix(".Arn").unwrap())["Properties"];
    let mut found = Vec::new();
    for policy in role["Policies"].as_array().into_iter().flatten() {
        for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
            if statement["Action"] == "secretsmanager:GetSecretValue" {
                found.push(scalar(&statement["Resource"]));
            }
        }
    }
    found.sort();
    found
}

fn report_function(stack: &Stack) -> &Value {
    functions(stack)[report_route_function()].1
}

#[test]
fn the_github_token_is_read_only_when_its_parameter_names_one() {
    let anonymous = echo_mode();
    let report = report_function(&anonymous);
    assert!(!environment(report).contains_key(GITHUB_TOKEN.variable));
    assert_eq!(secrets_read_by(&anonymous, report), ["PepperSecret"]);

    let with_token = Stack::deploy(&[("SecretScanningTokenSecretArn", TOKEN_ARN)]);
    let report = report_function(&with_token);
    assert_eq!(environment(report)[GITHUB_TOKEN.variable], TOKEN_ARN);
    assert_eq!(
        secrets_read_by(&with_token, report),
        ["PepperSecret", TOKEN_ARN]
    );
    // No other function reads it.
    for (binary, (id, function)) in functions(&with_token) {
        if function != report {
            assert!(
                !secrets_read_by(&with_token, function).contains(&TOKEN_ARN.to_owned()),
                "{binary} ({id}) reads the GitHub token"
            );
            assert!(!environment(function).contains_key(GITHUB_TOKEN.variable));
        }
    }
    let parameter = &transformed()["Parameters"]["SecretScanningTokenSecretArn"];
    for refused in [
        "github-token",
        "arn:aws:ssm:us-east-1:123456789012:parameter/github-token",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:*",
    ] {
        assert!(check_constraints(parameter, refused).is_err(), "{refused}");
    }
}

#[test]
fn the_edge_exists_only_with_a_web_acl_and_locks_the_authorizer_and_the_report_function() {
    let locked = [AUTHORIZER_FUNCTION, report_route_function()];
    let without = echo_mode();
    assert!(without.of_type("AWS::CloudFront::Distribution").is_empty());
    assert!(!without.resources.contains_key("OriginVerifySecret"));
    for (binary, (id, function)) in functions(&without) {
        assert!(
            !environment(function).contains_key(ORIGIN_VERIFY.variable),
            "{binary} ({id}) is locked without an edge"
        );
    }

    let with = Stack::deploy(&[("EdgeWebAclArn", WEB_ACL_ARN)]);
    let distributions = with.of_type("AWS::CloudFront::Distribution");
    assert_eq!(distributions.len(), 1);
    let config = &distributions[0].1["Properties"]["DistributionConfig"];
    assert_eq!(config["WebACLId"], WEB_ACL_ARN);
    let origins = config["Origins"].as_array().unwrap();
    assert_eq!(origins.len(), 1);
    let (api_id, _) = api(&with);
    assert_eq!(
        origins[0]["DomainName"],
        format!("{api_id}.execute-api.us-east-1.amazonaws.com")
    );
    assert_eq!(
        origins[0]["CustomOriginConfig"]["OriginProtocolPolicy"],
        "https-only"
    );
    let headers = origins[0]["OriginCustomHeaders"].as_array().unwrap();
    assert_eq!(headers.len(), 1);
    assert!(scalar(&headers[0]["HeaderName"]).eq_ignore_ascii_case(origin_lock::HEADER));
    assert_eq!(
        headers[0]["HeaderValue"],
        "{{resolve:secretsmanager:OriginVerifySecret:SecretString}}"
    );
    let secret = &with.resource("OriginVerifySecret")["Properties"]["GenerateSecretString"];
    assert!(secret["PasswordLength"].as_u64().unwrap() >= 32);
    let behaviour = &config["DefaultCacheBehavior"];
    assert_eq!(behaviour["ViewerProtocolPolicy"], "https-only");
    // Managed policies (CloudFront Developer Guide): CachingDisabled, so that Authorization is
    // forwarded and nothing is cached; AllViewerExceptHostHeader, so that API Gateway gets its own
    // Host.
    assert_eq!(
        behaviour["CachePolicyId"],
        "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    );
    assert_eq!(
        behaviour["OriginRequestPolicyId"],
        "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    );
    let methods: Vec<String> = behaviour["AllowedMethods"]
        .as_array()
        .unwrap()
        .iter()
        .map(scalar)
        .collect();
    for route in ROUTES.iter().filter(|r| r.method != "ANY") {
        assert!(
            methods.iter().any(|m| m == route.method),
            "{}",
            route.method
        );
    }
    for (binary, (id, function)) in functions(&with) {
        let env = environment(function);
        if locked.contains(&binary.as_str()) {
            assert_eq!(
                env.get(ORIGIN_VERIFY.variable).map(String::as_str),
                Some("OriginVerifySecret"),
                "{binary} ({id})"
            );
            assert!(secrets_read_by(&with, function).contains(&"OriginVerifySecret".to_owned()));
        } else {
            assert!(!env.contains_key(ORIGIN_VERIFY.variable), "{binary} ({id})");
            assert!(!secrets_read_by(&with, function).contains(&"OriginVerifySecret".to_owned()));
        }
    }
    let parameter = &transformed()["Parameters"]["EdgeWebAclArn"];
    // A web ACL for CloudFront lives in us-east-1 with scope global.
    for refused in [
        "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/x/0f1e2d3c-4b5a-6978-8091-a2b3c4d5e6f7",
        "webacl",
    ] {
        assert!(check_constraints(parameter, refused).is_err(), "{refused}");
    }
}

fn report_route_function() -> &'static str {
    ROUTES
        .iter()
        .find(|r| r.guard == Guard::Signature)
        .unwrap()
        .function
}

/// The metric filters on `log_group`: (metric name, pattern, dimension → selector).
fn filters_on(stack: &Stack, log_group: &str) -> Vec<(String, String, BTreeMap<String, String>)> {
    stack
        .of_type("AWS::Logs::MetricFilter")
        .into_iter()
        .filter(|(_, f)| scalar(&f["Properties"]["LogGroupName"]) == log_group)
        .map(|(_, f)| {
            let p = &f["Properties"];
            let transformation = &p["MetricTransformations"][0];
            let dimensions = transformation["Dimensions"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .map(|d| (scalar(&d["Key"]), scalar(&d["Value"])))
                        .collect()
                })
                .unwrap_or_default();
            (
                scalar(&transformation["MetricName"]),
                scalar(&p["FilterPattern"]),
                dimensions,
            )
        })
        .collect()
}

/// Whether a JSON log line matches a pattern `{ $.a.b = "literal" }`, the only form used here.
fn matches(pattern: &str, line: &Value) -> bool {
    let inner = pattern
        .trim()
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not a JSON filter pattern: {pattern}"));
    let (selector, literal) = inner
        .split_once('=')
        .unwrap_or_else(|| panic!("unsupported filter {pattern}"));
    let literal = literal.trim();
    let literal = literal
        .strip_prefix('"')
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or_else(|| panic!("unsupported filter value {literal}"));
    select(line, selector.trim()).is_some_and(|value| scalar(value) == literal)
}

#[test]
fn throttled_requests_on_the_public_routes_are_counted_from_the_access_log_and_alarmed() {
    let stack = echo_mode();
    let (api_id, _) = api(&stack);
    let stage = stack.of_type("AWS::ApiGatewayV2::Stage")[0].1;
    let settings = &stage["Properties"]["AccessLogSettings"];
    let access_log = scalar(&settings["DestinationArn"]);
    let access_log = access_log.strip_suffix(".Arn").unwrap();
    let filters = filters_on(&stack, access_log);
    let throttled: Vec<_> = filters
        .iter()
        .filter(|(metric, _, _)| metric == "ThrottledRequests")
        .collect();
    assert_eq!(throttled.len(), 1, "{filters:?}");
    let (_, pattern, dimensions) = throttled[0];
    // A line the stage would write, in its own format: the filter sees the status and the route.
    let format = scalar(&settings["Format"]);
    let line = |status: &str, route: &str| -> Value {
        serde_json::from_str(
            &format
                .replace("$context.status", status)
                .replace("$context.routeKey", route),
        )
        .expect("the access log format is JSON")
    };
    let reports = route_of(Guard::Signature);
    let payments = route_of(Guard::ApiKey);
    assert!(matches(pattern, &line("429", &reports)));
    assert!(!matches(pattern, &line("401", &reports)));
    assert!(!matches(pattern, &line("200", &payments)));
    assert_eq!(
        scalar(select(&line("429", &payments), &dimensions["Route"]).unwrap()),
        payments
    );

    let alarms = stack.of_type("AWS::CloudWatch::Alarm");
    let namespace = format!("AppKeys/{}", api_tests::cloudformation::STACK);
    let watching = |metric: &str, dimensions: &[(&str, &str)]| {
        let wanted: BTreeMap<String, String> = dimensions
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        alarms
            .iter()
            .filter(|(_, alarm)| {
                alarm_metrics(alarm).iter().any(|(n, m, d)| {
                    (n == &namespace || n == "AWS/ApiGateway") && m == metric && *d == wanted
                })
            })
            .map(|(id, alarm)| {
                let p = &alarm["Properties"];
                (*id, scalar(&p["Threshold"]), scalar(&p["Period"]))
            })
            .collect::<Vec<_>>()
    };
    let on_reports = watching("ThrottledRequests", &[("Route", &reports)]);
    assert_eq!(on_reports.len(), 1, "report route 429s");
    assert_eq!(
        on_reports[0].1, "1",
        "the first 429 on the report route fires"
    );
    assert_eq!(
        watching("ThrottledRequests", &[("Route", &payments)]).len(),
        1,
        "payment route 429s"
    );
    let report_4xx = watching(
        "4xx",
        &[
            ("ApiId", api_id),
            ("Stage", "$default"),
            ("Route", &reports),
        ],
    );
    assert_eq!(report_4xx.len(), 1, "report route 4xx");
}

#[test]
fn failed_signing_key_fetches_are_counted_from_the_report_functions_real_log_line_and_alarmed() {
    let stack = echo_mode();
    let report_logs = scalar(&report_function(&stack)["Properties"]["LoggingConfig"]["LogGroup"]);
    let filters = filters_on(&stack, &report_logs);
    assert_eq!(filters.len(), 1, "{filters:?}");
    let (metric, pattern, _) = &filters[0];
    assert!(pattern.contains(FETCH_FAILED), "{pattern}");

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber =
        appkeys::lambda::telemetry::subscriber(move || writer.clone(), Some("info"), None);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            // Nothing listens on port 1: the fetch fails, as when GitHub cannot be reached.
            let keys = PublicKeys::new("http://127.0.0.1:1/keys");
            let answer = keys.verify(Some("k1"), Some("AAAA"), b"[]").await;
            assert!(answer.is_err());
        })
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let counted: Vec<Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).expect("every log line is JSON"))
        .filter(|line| matches(pattern, line))
        .collect();
    assert_eq!(counted.len(), 1, "the filter {pattern:?} over:\n{logs}");
    assert_eq!(
        select(&counted[0], "$.fields.reason")
            .map(scalar)
            .as_deref(),
        Some("unreachable")
    );

    let namespace = format!("AppKeys/{}", api_tests::cloudformation::STACK);
    let alarms: Vec<_> = stack
        .of_type("AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(_, alarm)| {
            alarm_metrics(alarm)
                .iter()
                .any(|(n, m, _)| *n == namespace && m == metric)
        })
        .collect();
    assert_eq!(alarms.len(), 1, "one alarm on {metric}");
}

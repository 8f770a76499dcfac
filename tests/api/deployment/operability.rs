//! What an operator sees: log groups, the access log, alarms, the decision metric filter and the
//! dashboard.

use std::io::Write;
use std::sync::{Arc, Mutex};

use super::*;

#[test]
fn every_function_logs_json_to_its_own_group_kept_as_long_as_the_parameter_says() {
    let stack = Stack::deploy(&[("LogRetentionInDays", "90")]);
    let mut groups = BTreeSet::new();
    for (binary, (id, function)) in functions(&stack) {
        let logging = &function["Properties"]["LoggingConfig"];
        assert_eq!(logging["LogFormat"], "JSON", "{id}");
        let group = logging["LogGroup"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} has no log group of its own"));
        let resource = stack.resource(group);
        assert_eq!(resource["Type"], "AWS::Logs::LogGroup", "{id}");
        assert_eq!(
            scalar(&resource["Properties"]["RetentionInDays"]),
            "90",
            "{id}"
        );
        assert!(
            scalar(&resource["Properties"]["LogGroupName"]).ends_with(&format!("/{binary}")),
            "{id}"
        );
        assert!(groups.insert(group.to_owned()), "{group} is shared");
    }
    assert_eq!(stack.parameters["LogRetentionInDays"], "90");
    assert_eq!(echo_mode().parameters["LogRetentionInDays"], "30");
}

#[test]
fn the_stage_writes_a_json_access_log_without_the_authorization_header() {
    let stack = Stack::deploy(&[("LogRetentionInDays", "90")]);
    let stage = stack.of_type("AWS::ApiGatewayV2::Stage")[0].1;
    let settings = &stage["Properties"]["AccessLogSettings"];
    let group = scalar(&settings["DestinationArn"]);
    let group = stack.resource(group.strip_suffix(".Arn").unwrap());
    assert_eq!(group["Type"], "AWS::Logs::LogGroup");
    assert_eq!(scalar(&group["Properties"]["RetentionInDays"]), "90");
    let format = settings["Format"].as_str().unwrap();
    let line: BTreeMap<String, String> =
        serde_json::from_str(format).expect("one JSON object per request");
    let variables: BTreeSet<&str> = line.values().map(String::as_str).collect();
    for needed in [
        "$context.requestId",
        "$context.routeKey",
        "$context.status",
        "$context.responseLatency",
        "$context.integrationLatency",
        "$context.authorizer.error",
    ] {
        assert!(variables.contains(needed), "the access log lacks {needed}");
    }
    assert!(!format.to_ascii_lowercase().contains("authorization"));
    assert!(
        !format.contains("$request"),
        "no request header or body is logged"
    );
}

/// The DynamoDB operations the store issues, read from its source (`.get_item()`, …), so the
/// alarms cover exactly what the code calls.
fn store_operations() -> BTreeSet<String> {
    let mut sources = Vec::new();
    let shared = workspace().join("shared/src");
    let mut pending = vec![shared];
    while let Some(path) = pending.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push(std::fs::read_to_string(path).unwrap());
            }
        }
    }
    let calls = regex::Regex::new(r"\.(get_item|put_item|update_item|delete_item|query|scan|transact_write_items|transact_get_items|batch_write_item|batch_get_item)\(\)").unwrap();
    sources
        .iter()
        .flat_map(|source| calls.captures_iter(source).map(|c| c[1].to_owned()))
        .map(|snake| {
            snake
                .split('_')
                .map(|w| w[..1].to_uppercase() + &w[1..])
                .collect()
        })
        .collect()
}

/// (namespace, metric, dimensions) of each metric an alarm reads.
pub(super) fn alarm_metrics(alarm: &Value) -> Vec<(String, String, BTreeMap<String, String>)> {
    let p = &alarm["Properties"];
    let dimensions = |list: &Value| -> BTreeMap<String, String> {
        list.as_array()
            .map(|dims| {
                dims.iter()
                    .map(|d| (scalar(&d["Name"]), scalar(&d["Value"])))
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(metrics) = p["Metrics"].as_array() {
        return metrics
            .iter()
            .filter_map(|m| m.get("MetricStat"))
            .map(|stat| {
                let metric = &stat["Metric"];
                (
                    scalar(&metric["Namespace"]),
                    scalar(&metric["MetricName"]),
                    dimensions(&metric["Dimensions"]),
                )
            })
            .collect();
    }
    vec![(
        scalar(&p["Namespace"]),
        scalar(&p["MetricName"]),
        dimensions(&p["Dimensions"]),
    )]
}

#[test]
fn alarms_watch_the_authorizer_the_routes_and_the_table_and_notify_the_topic() {
    let stack = Stack::deploy(&[("AlarmEmail", "oncall@example.com")]);
    let alarms = stack.of_type("AWS::CloudWatch::Alarm");
    let topics = stack.of_type("AWS::SNS::Topic");
    assert_eq!(topics.len(), 1);
    let topic = topics[0].0;
    let subscription = stack.of_type("AWS::SNS::Subscription");
    assert_eq!(subscription.len(), 1);
    assert_eq!(
        subscription[0].1["Properties"]["Endpoint"],
        "oncall@example.com"
    );
    assert_eq!(scalar(&subscription[0].1["Properties"]["TopicArn"]), topic);
    assert!(Stack::deploy(&[])
        .of_type("AWS::SNS::Subscription")
        .is_empty());

    let operations = std::fs::read_to_string(workspace().join("docs/operations.md")).unwrap();
    for (id, alarm) in &alarms {
        let p = &alarm["Properties"];
        // Each alarm names its runbook, a section of the operator's page named after it.
        let runbook = format!("docs/operations.md#{}", id.to_lowercase());
        assert!(
            scalar(&p["AlarmDescription"]).ends_with(&format!("Runbook: {runbook}")),
            "{id}'s description names {runbook}"
        );
        assert!(
            operations.lines().any(|line| line == format!("### {id}")),
            "docs/operations.md has no runbook ### {id}"
        );
        assert_eq!(p["AlarmActions"], json!([topic]), "{id}");
        assert_eq!(p["OKActions"], json!([topic]), "{id}");
        assert_eq!(p["TreatMissingData"], "notBreaching", "{id}");
    }
    let (api_id, _) = api(&stack);
    let authorizer = logical_id_of(&stack, AUTHORIZER_FUNCTION);
    let watching = |namespace: &str, metric: &str, dimensions: &[(&str, &str)]| {
        let wanted: BTreeMap<String, String> = dimensions
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        alarms
            .iter()
            .filter(|(_, alarm)| {
                alarm_metrics(alarm)
                    .iter()
                    .any(|(n, m, d)| n == namespace && m == metric && *d == wanted)
            })
            .map(|(id, alarm)| (*id, *alarm))
            .collect::<Vec<_>>()
    };
    let on_authorizer = [("FunctionName", authorizer.as_str())];
    assert_eq!(
        watching("AWS/Lambda", "Errors", &on_authorizer).len(),
        1,
        "authorizer errors"
    );
    assert_eq!(
        watching("AWS/Lambda", "Throttles", &on_authorizer).len(),
        1,
        "authorizer throttles"
    );
    let duration = watching("AWS/Lambda", "Duration", &on_authorizer);
    assert_eq!(duration.len(), 1, "authorizer duration");
    let threshold: f64 = scalar(&duration[0].1["Properties"]["Threshold"])
        .parse()
        .unwrap();
    let budget = Budget::AUTHORIZER;
    assert!(
        threshold > budget.operation.as_millis() as f64
            && threshold < budget.function_timeout.as_millis() as f64,
        "the duration alarm fires close to the timeout: {threshold} ms"
    );
    // 5xx on the payment routes, and on every other (management) route.
    for route in ROUTES.iter().filter(|r| r.guard == Guard::ApiKey) {
        let key = route.route_key();
        let payment = watching(
            "AWS/ApiGateway",
            "5xx",
            &[("ApiId", api_id), ("Stage", "$default"), ("Route", &key)],
        );
        assert!(!payment.is_empty(), "no 5xx alarm on {key}");
        let management: Vec<_> = payment
            .iter()
            .filter(|(_, alarm)| {
                let metrics = &alarm["Properties"]["Metrics"];
                metrics.as_array().is_some_and(|m| {
                    m.iter()
                        .any(|m| m["Expression"].as_str().is_some_and(|e| e.contains('-')))
                })
            })
            .collect();
        assert_eq!(
            management.len(),
            1,
            "management 5xx = stage 5xx minus {key}"
        );
        let all_routes = watching(
            "AWS/ApiGateway",
            "5xx",
            &[("ApiId", api_id), ("Stage", "$default")],
        );
        assert_eq!(all_routes.len(), 1);
        assert_eq!(all_routes[0].0, management[0].0);
    }
    // DynamoDB: throttled requests and system errors of every operation the store issues.
    let table = stack.of_type("AWS::DynamoDB::Table")[0].0;
    let operations = store_operations();
    assert!(operations.contains("GetItem") && operations.contains("TransactWriteItems"));
    for metric in ["ThrottledRequests", "SystemErrors"] {
        let mut covered = BTreeSet::new();
        for (_, alarm) in &alarms {
            for (namespace, name, dimensions) in alarm_metrics(alarm) {
                if namespace == "AWS/DynamoDB" && name == metric {
                    assert_eq!(dimensions["TableName"], table);
                    covered.insert(dimensions["Operation"].clone());
                }
            }
        }
        assert_eq!(
            covered, operations,
            "{metric} alarms cover the store's operations"
        );
    }
}

/// The metric filter that counts the authorizer's decisions: (namespace, metric, dimension →
/// JSON selector), and the selectors its pattern requires.
fn decisions_filter(stack: &Stack) -> (String, String, BTreeMap<String, String>, Vec<String>) {
    let authorizer_logs =
        scalar(&functions(stack)[AUTHORIZER_FUNCTION].1["Properties"]["LoggingConfig"]["LogGroup"]);
    let filters: Vec<_> = stack
        .of_type("AWS::Logs::MetricFilter")
        .into_iter()
        .filter(|(_, f)| scalar(&f["Properties"]["LogGroupName"]) == authorizer_logs)
        .collect();
    assert_eq!(
        filters.len(),
        1,
        "one metric filter on the authorizer's log group"
    );
    let p = &filters[0].1["Properties"];
    let transformation = &p["MetricTransformations"][0];
    let dimensions = transformation["Dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (scalar(&d["Key"]), scalar(&d["Value"])))
        .collect();
    // The pattern: `{ $.a.b = * && $.c = * }`, the only syntax this check understands.
    let pattern = scalar(&p["FilterPattern"]);
    let inner = pattern
        .trim()
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not a JSON filter pattern: {pattern}"));
    let required = inner
        .split("&&")
        .map(|term| {
            term.trim()
                .strip_suffix("= *")
                .unwrap_or_else(|| panic!("unsupported filter term {term:?}; extend this check"))
                .trim()
                .to_owned()
        })
        .collect();
    (
        scalar(&transformation["MetricNamespace"]),
        scalar(&transformation["MetricName"]),
        dimensions,
        required,
    )
}

/// `$.fields.reason` in a JSON log line.
pub(super) fn select<'a>(line: &'a Value, selector: &str) -> Option<&'a Value> {
    selector
        .strip_prefix("$.")
        .unwrap_or_else(|| panic!("selector {selector}"))
        .split('.')
        .try_fold(line, |value, key| value.get(key))
}

/// A writer the production log format writes into, so the test can read every line.
#[derive(Clone, Default)]
pub(super) struct Captured(pub(super) Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_decision_metric_filter_counts_the_authorizers_real_log_lines() {
    let stack = echo_mode();
    let (_, _, dimensions, required) = decisions_filter(&stack);
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
            let t = TestApi::new().await;
            let app = t.create_application_named(MERCHANT, "Prod").await;
            let full_key = t.create_key(MERCHANT, &app, "k").await.text("fullKey");
            let verifier = t
                .verifier(&devkit::counter::RequestCounter::default())
                .await;
            assert_eq!(TestApi::allows(&verifier, &full_key).await, Some(true));
            let tampered = api_tests::with_wrong_checksum(&full_key);
            assert_eq!(TestApi::allows(&verifier, &tampered).await, Some(false));
            // A table that does not exist: the authorizer fails closed with an error.
            let broken_verifier = appkeys::authorize::KeyVerifier::new(
                appkeys::store::Store::new(
                    t.client.clone(),
                    "appkeys-missing-table",
                    t.state.config.limits,
                ),
                t.pepper.clone(),
                t.state.config.key_mode,
                Default::default(),
            );
            assert_eq!(TestApi::allows(&broken_verifier, &full_key).await, None);
        })
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let mut counted = BTreeSet::new();
    for line in logs.lines() {
        let line: Value = serde_json::from_str(line).expect("every log line is JSON");
        if required
            .iter()
            .all(|selector| select(&line, selector).is_some())
        {
            let values: Vec<String> = dimensions
                .values()
                .map(|selector| scalar(select(&line, selector).expect("a dimension's field")))
                .collect();
            counted.insert(values.join("/"));
        }
    }
    let expected: BTreeSet<String> = [
        "allow/active_key",
        "deny/bad_checksum",
        "error/DynamoDbRequestFailed",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(
        counted, expected,
        "dimensions {dimensions:?}, the decision lines as the metric filter sees them:\n{logs}"
    );
}

#[test]
fn the_dashboard_shows_verifications_decisions_latency_and_errors_per_route() {
    let stack = echo_mode();
    let dashboards = stack.of_type("AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1);
    let body: Value = serde_json::from_str(
        dashboards[0].1["Properties"]["DashboardBody"]
            .as_str()
            .unwrap(),
    )
    .expect("the dashboard body is JSON");
    let widgets = body["widgets"].as_array().unwrap();
    let metric_rows: Vec<&Value> = widgets
        .iter()
        .filter(|w| w["type"] == "metric")
        .flat_map(|w| w["properties"]["metrics"].as_array().unwrap())
        .collect();
    let authorizer = logical_id_of(&stack, AUTHORIZER_FUNCTION);
    let has_row = |namespace: &str, metric: &str, stat: Option<&str>| {
        metric_rows.iter().any(|row| {
            let row = row.as_array().unwrap();
            row.len() >= 4
                && row[0] == namespace
                && row[1] == metric
                && row[2] == "FunctionName"
                && row[3] == authorizer.as_str()
                && stat.is_none_or(|s| row.last().unwrap()["stat"] == s)
        })
    };
    assert!(
        has_row("AWS/Lambda", "Invocations", None),
        "verifications per minute"
    );
    assert!(
        has_row("AWS/Lambda", "Duration", Some("p50")),
        "authorizer p50"
    );
    assert!(
        has_row("AWS/Lambda", "Duration", Some("p99")),
        "authorizer p99"
    );
    let expressions: Vec<&str> = metric_rows
        .iter()
        .filter_map(|row| row[0]["expression"].as_str())
        .collect();
    let (namespace, metric, dimensions, _) = decisions_filter(&stack);
    let dimension_names: Vec<&str> = dimensions.keys().map(String::as_str).collect();
    let decisions = format!(
        "SEARCH('{{{namespace},{}}} MetricName=\"{metric}\"'",
        dimension_names.join(",")
    );
    assert!(
        expressions.iter().any(|e| e.starts_with(&decisions)),
        "allowed vs denied by reason: {decisions} in {expressions:?}"
    );
    let (api_id, _) = api(&stack);
    for status in ["4xx", "5xx"] {
        let per_route = format!(
            "SEARCH('{{AWS/ApiGateway,ApiId,Route,Stage}} MetricName=\"{status}\" ApiId=\"{api_id}\"'"
        );
        assert!(
            expressions.iter().any(|e| e.starts_with(&per_route)),
            "{status} per route"
        );
    }
    // Every alarm's state is on it.
    let shown: BTreeSet<&str> = widgets
        .iter()
        .filter(|w| w["type"] == "alarm")
        .flat_map(|w| w["properties"]["alarms"].as_array().unwrap())
        .map(|a| a.as_str().unwrap())
        .collect();
    let alarms: BTreeSet<String> = stack
        .of_type("AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(id, _)| format!("{id}.Arn"))
        .collect();
    assert_eq!(shown, alarms.iter().map(String::as_str).collect());
}

/// A report that fails (5xx: GitHub's keys unreachable, the table failing) leaves a leaked key
/// working until GitHub's retry gets through: it has an alarm of its own, and is not counted again
/// as a management failure.
#[test]
fn failed_leaked_key_reports_have_an_alarm_of_their_own_outside_the_management_one() {
    let stack = echo_mode();
    let alarms = stack.of_type("AWS::CloudWatch::Alarm");
    let (api_id, _) = api(&stack);
    let route_5xx = |route: Option<&str>| {
        let mut dimensions = BTreeMap::from([
            ("ApiId".to_owned(), api_id.to_owned()),
            ("Stage".to_owned(), "$default".to_owned()),
        ]);
        if let Some(route) = route {
            dimensions.insert("Route".to_owned(), route.to_owned());
        }
        ("AWS/ApiGateway".to_owned(), "5xx".to_owned(), dimensions)
    };
    let stage_wide: Vec<_> = alarms
        .iter()
        .filter(|(_, alarm)| alarm_metrics(alarm).contains(&route_5xx(None)))
        .collect();
    assert_eq!(stage_wide.len(), 1, "one alarm on the stage's 5xx");
    let management = &stage_wide[0].1["Properties"]["Metrics"];
    let signature_routes: Vec<_> = ROUTES
        .iter()
        .filter(|r| r.guard == Guard::Signature)
        .collect();
    assert!(!signature_routes.is_empty());
    for route in signature_routes {
        let key = route.route_key();
        let own: Vec<_> = alarms
            .iter()
            .filter(|(_, alarm)| alarm_metrics(alarm) == [route_5xx(Some(&key))])
            .collect();
        assert_eq!(own.len(), 1, "an alarm on {key}'s 5xx alone");
        let p = &own[0].1["Properties"];
        assert_eq!(scalar(&p["Threshold"]), "1");
        assert_eq!(p["Statistic"], "Sum");
        // The management alarm subtracts it.
        let id = management
            .as_array()
            .unwrap()
            .iter()
            .find(|m| {
                m["MetricStat"]["Metric"]["Dimensions"]
                    .as_array()
                    .is_some_and(|dims| dims.iter().any(|d| scalar(&d["Value"]) == key))
            })
            .unwrap_or_else(|| panic!("the management alarm does not read {key}"))["Id"]
            .as_str()
            .unwrap()
            .to_owned();
        let expression = management
            .as_array()
            .unwrap()
            .iter()
            .find_map(|m| m["Expression"].as_str())
            .unwrap();
        assert!(
            expression.contains(&format!("- FILL({id}, 0)")),
            "{expression} does not subtract {key}"
        );
    }
}

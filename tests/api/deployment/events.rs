//! Lifecycle events: the table's stream, the bus, the publisher's event source mapping (its
//! filter tried on the real stream records every writer produces), its dead-letter queue, its
//! least-privilege grants, its alarms and dashboard widgets, and the example subscriber
//! (`examples/event-subscriber.yaml`).
//!
//! AWS documentation relied on:
//! - The mapping's parameters and their defaults (`MaximumRetryAttempts` and
//!   `MaximumRecordAgeInSeconds` -1: retried until the record expires, 24 hours for DynamoDB):
//!   <https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html>
//! - Discarded records, on-failure destinations, bisection not counting as a retry:
//!   <https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html>
//! - Partial batch responses: <https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html>
//! - Filtering DynamoDB records (on the `dynamodb` key only; `prefix`, `exists`):
//!   <https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html>,
//!   <https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html>
//! - The stream actions a function's role needs, on the table's stream:
//!   <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/iam-policy-example-lamda-process-dynamodb-streams.html>;
//!   what SAM's `DynamoDB` event attaches instead:
//!   <https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaDynamoDBExecutionRole.html>
//! - An SQS target's resource policy: <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html>

use api_tests::permissions::{PublisherResource, EVENT_PUBLISHER_GRANTS};
use appkeys::domain::audit::EventType;
use appkeys::store::items::TTL;
use aws_sdk_dynamodb::types::AttributeValue;
use devkit::routes::EVENT_PUBLISHER_FUNCTION;

use super::operability::alarm_metrics;
use super::*;

/// The longest DynamoDB Streams keeps a record (what a mapping without limits retries until).
const STREAM_RETENTION_SECONDS: u64 = 24 * 60 * 60;
/// SQS's longest retention, 14 days.
const SQS_MAX_RETENTION_SECONDS: u64 = 14 * 24 * 60 * 60;

fn the_one<'a>(stack: &'a Stack, kind: &str) -> (&'a str, &'a Value) {
    let found = stack.of_type(kind);
    assert_eq!(found.len(), 1, "one {kind}: {found:?}");
    found[0]
}

/// The publisher's event source mapping.
fn mapping(stack: &Stack) -> &Value {
    let (id, mapping) = the_one(stack, "AWS::Lambda::EventSourceMapping");
    let publisher = logical_id_of(stack, EVENT_PUBLISHER_FUNCTION);
    assert_eq!(
        scalar(&mapping["Properties"]["FunctionName"]),
        publisher,
        "{id} invokes the publisher"
    );
    &mapping["Properties"]
}

fn dead_letter_queue(stack: &Stack) -> (String, &Value) {
    let destination = scalar(&mapping(stack)["DestinationConfig"]["OnFailure"]["Destination"]);
    let queue = destination
        .strip_suffix(".Arn")
        .unwrap_or_else(|| {
            panic!("the on-failure destination is a queue of the stack: {destination}")
        })
        .to_owned();
    let resource = stack.resource(&queue);
    assert_eq!(resource["Type"], "AWS::SQS::Queue", "{queue}");
    (queue, resource)
}

#[test]
fn the_table_streams_new_images_and_expires_items_by_the_stores_ttl_attribute() {
    let stack = echo_mode();
    let (_, table) = the_one(&stack, "AWS::DynamoDB::Table");
    let p = &table["Properties"];
    // What `appkeys::store::test_util::create_table` creates for the tests and `scripts/dev`,
    // and what the publisher reads: the new image of each record.
    assert_eq!(p["StreamSpecification"]["StreamViewType"], "NEW_IMAGE");
    // Retired keys, idempotency records and audit events end by TTL; without it they would stay
    // (and be paid for) forever.
    assert_eq!(
        p["TimeToLiveSpecification"],
        json!({"AttributeName": TTL, "Enabled": true})
    );
}

#[test]
fn the_stack_creates_its_bus_and_names_it_to_the_publisher_and_the_outputs() {
    let stack = echo_mode();
    let (bus, _) = the_one(&stack, "AWS::Events::EventBus");
    let (_, publisher) = functions(&stack)[EVENT_PUBLISHER_FUNCTION];
    assert_eq!(
        scalar(&publisher["Properties"]["Environment"]["Variables"]["EVENT_BUS_NAME"]),
        bus,
        "the publisher puts on the stack's bus (Ref gives its name)"
    );
    let outputs = &transformed()["Outputs"];
    assert_eq!(outputs["EventBusName"]["Value"], json!({ "Ref": bus }));
    assert_eq!(
        outputs["EventBusArn"]["Value"],
        json!({ "Fn::GetAtt": [bus, "Arn"] })
    );
}

#[test]
fn the_publisher_reads_the_stream_as_the_contract_and_its_handler_need() {
    let stack = echo_mode();
    let (table, _) = the_one(&stack, "AWS::DynamoDB::Table");
    let m = mapping(&stack);
    assert_eq!(scalar(&m["EventSourceArn"]), format!("{table}.StreamArn"));
    // From the oldest record kept, so that nothing written before the mapping ran is skipped.
    assert_eq!(m["StartingPosition"], "TRIM_HORIZON");
    // The handler answers which records failed; without this Lambda ignores the answer and
    // counts the batch a success, losing the refused events.
    assert_eq!(
        m["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    // A record that keeps failing must not hold its shard for the stream's whole retention:
    // both bounds set, and below the retention.
    let retries: i64 = scalar(&m["MaximumRetryAttempts"]).parse().unwrap();
    assert!(
        (1..=100).contains(&retries),
        "MaximumRetryAttempts {retries}: bounded (the default -1 retries until the record expires)"
    );
    let age: i64 = scalar(&m["MaximumRecordAgeInSeconds"]).parse().unwrap();
    assert!(
        (60..STREAM_RETENTION_SECONDS as i64).contains(&age),
        "MaximumRecordAgeInSeconds {age}: bounded, below the stream's retention"
    );
    assert_eq!(m["BisectBatchOnFunctionError"], true);
    // One PutEvents call per invocation at most (10 entries), and little waiting.
    let batch: u32 = scalar(&m["BatchSize"]).parse().unwrap();
    assert!((1..=10).contains(&batch), "BatchSize {batch}");
    let window: u32 = scalar(&m["MaximumBatchingWindowInSeconds"])
        .parse()
        .unwrap();
    assert!(window <= 5, "MaximumBatchingWindowInSeconds {window}");
    // In order per shard: one batch per shard at a time.
    assert!(m
        .get("ParallelizationFactor")
        .is_none_or(|p| scalar(p) == "1"));
}

#[test]
fn records_that_keep_failing_go_to_an_encrypted_queue_kept_14_days() {
    let stack = echo_mode();
    let (_, queue) = dead_letter_queue(&stack);
    let p = &queue["Properties"];
    assert_eq!(
        scalar(&p["MessageRetentionPeriod"]),
        SQS_MAX_RETENTION_SECONDS.to_string()
    );
    assert!(
        p["SqsManagedSseEnabled"] == true || p.get("KmsMasterKeyId").is_some(),
        "encrypted at rest: {p}"
    );
    assert!(
        p.get("FifoQueue").is_none(),
        "on-failure destinations are standard queues"
    );
}

#[test]
fn the_publisher_may_put_on_its_bus_read_its_stream_and_send_to_its_queue_only() {
    let stack = echo_mode();
    let (id, publisher) = functions(&stack)[EVENT_PUBLISHER_FUNCTION];
    let role_arn = scalar(&publisher["Properties"]["Role"]);
    let role = &stack.resource(role_arn.strip_suffix(".Arn").unwrap())["Properties"];
    // A SAM `DynamoDB` event would add AWSLambdaDynamoDBExecutionRole: the stream actions on
    // every stream of the account.
    assert_eq!(
        role["ManagedPolicyArns"],
        json!(["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]),
        "{id}: no managed policy but the logs'"
    );
    let (bus, _) = the_one(&stack, "AWS::Events::EventBus");
    let (table, _) = the_one(&stack, "AWS::DynamoDB::Table");
    let (queue, _) = dead_letter_queue(&stack);
    let resource_of = |what: PublisherResource| match what {
        PublisherResource::EventBus => format!("{bus}.Arn"),
        PublisherResource::TableStream => format!("{table}.StreamArn"),
        PublisherResource::DeadLetterQueue => format!("{queue}.Arn"),
    };
    let mut granted: Vec<(BTreeSet<String>, String)> = Vec::new();
    for policy in role["Policies"].as_array().into_iter().flatten() {
        for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
            assert_eq!(statement["Effect"], "Allow", "{id}");
            assert!(statement.get("Condition").is_none(), "{id}: {statement}");
            let actions = match &statement["Action"] {
                Value::String(one) => BTreeSet::from([one.clone()]),
                many => many.as_array().unwrap().iter().map(scalar).collect(),
            };
            granted.push((actions, scalar(&statement["Resource"])));
        }
    }
    granted.sort();
    let mut expected: Vec<(BTreeSet<String>, String)> = EVENT_PUBLISHER_GRANTS
        .iter()
        .map(|(actions, on)| {
            (
                actions.iter().map(|a| a.to_string()).collect(),
                resource_of(*on),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(granted, expected, "{id}: statements");
}

#[test]
fn alarms_watch_the_publisher_its_lateness_and_its_dead_letter_queue() {
    let stack = echo_mode();
    let alarms = stack.of_type("AWS::CloudWatch::Alarm");
    let publisher = logical_id_of(&stack, EVENT_PUBLISHER_FUNCTION);
    let (queue, _) = dead_letter_queue(&stack);
    let watching = |namespace: &str, metric: &str, dimension: (&str, String)| {
        let wanted = BTreeMap::from([(dimension.0.to_owned(), dimension.1)]);
        alarms
            .iter()
            .filter(|(_, alarm)| {
                alarm_metrics(alarm)
                    .iter()
                    .any(|(n, m, d)| n == namespace && m == metric && *d == wanted)
            })
            .map(|(_, alarm)| &alarm["Properties"])
            .collect::<Vec<_>>()
    };
    let errors = watching("AWS/Lambda", "Errors", ("FunctionName", publisher.clone()));
    assert_eq!(errors.len(), 1, "publisher errors");
    assert_eq!(scalar(&errors[0]["Threshold"]), "1");

    let age = watching("AWS/Lambda", "IteratorAge", ("FunctionName", publisher));
    assert_eq!(age.len(), 1, "publisher iterator age");
    assert_eq!(age[0]["Statistic"], "Maximum");
    let threshold_ms: f64 = scalar(&age[0]["Threshold"]).parse().unwrap();
    let max_age_s: f64 = scalar(&mapping(&stack)["MaximumRecordAgeInSeconds"])
        .parse()
        .unwrap();
    assert!(
        threshold_ms > 0.0 && threshold_ms < max_age_s * 1000.0 / 2.0,
        "the iterator-age alarm ({threshold_ms} ms) fires well before records age out to the queue ({max_age_s} s)"
    );

    let dead_letters = watching(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        ("QueueName", format!("{queue}.QueueName")),
    );
    assert_eq!(dead_letters.len(), 1, "dead-letter queue");
    assert_eq!(
        scalar(&dead_letters[0]["Threshold"]),
        "1",
        "a single failed batch"
    );
    assert_eq!(
        dead_letters[0]["ComparisonOperator"],
        "GreaterThanOrEqualToThreshold"
    );
}

#[test]
fn the_dashboard_shows_the_publisher_its_lateness_and_its_dead_letter_queue() {
    let stack = echo_mode();
    let (_, dashboard) = the_one(&stack, "AWS::CloudWatch::Dashboard");
    let body: Value =
        serde_json::from_str(dashboard["Properties"]["DashboardBody"].as_str().unwrap()).unwrap();
    let rows: Vec<Vec<String>> = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["type"] == "metric")
        .flat_map(|w| w["properties"]["metrics"].as_array().unwrap())
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .collect();
    let publisher = logical_id_of(&stack, EVENT_PUBLISHER_FUNCTION);
    let (queue, _) = dead_letter_queue(&stack);
    for wanted in [
        [
            "AWS/Lambda",
            "Invocations",
            "FunctionName",
            publisher.as_str(),
        ],
        ["AWS/Lambda", "Errors", "FunctionName", publisher.as_str()],
        [
            "AWS/Lambda",
            "IteratorAge",
            "FunctionName",
            publisher.as_str(),
        ],
        [
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            &format!("{queue}.QueueName"),
        ],
    ] {
        assert!(
            rows.iter().any(|row| row == &wanted),
            "no dashboard row {wanted:?}"
        );
    }
}

/// Whether `event` matches a Lambda event filter `pattern` ("Filter rule syntax": every key of
/// the pattern present, objects matched member by member, a list of rules of which one matches).
/// Only the rules the template uses are understood: literal values, `prefix`, `exists`.
fn matches(pattern: &Value, event: Option<&Value>) -> bool {
    match pattern {
        Value::Object(members) => members.iter().all(|(key, inner)| {
            let field = event.and_then(|e| e.as_object()).and_then(|e| e.get(key));
            match inner {
                Value::Object(_) => field.is_some_and(|f| matches(inner, Some(f))),
                _ => matches(inner, field),
            }
        }),
        Value::Array(rules) => rules.iter().any(|rule| match rule {
            Value::Object(operator) => match operator.iter().next() {
                Some((name, value)) if name == "prefix" => event
                    .and_then(Value::as_str)
                    .is_some_and(|text| text.starts_with(value.as_str().unwrap())),
                Some((name, value)) if name == "exists" => {
                    event.is_some() == value.as_bool().unwrap()
                }
                other => panic!("filter rule {other:?}: extend this matcher"),
            },
            literal => event == Some(literal),
        }),
        other => panic!("not a filter pattern: {other}"),
    }
}

#[test]
fn the_filter_matcher_reads_the_rules_it_knows() {
    let pattern = json!({"dynamodb": {"NewImage": {"SK": {"S": [{"prefix": "EVENT#"}]}}}});
    let record = |sk: &str| json!({"dynamodb": {"NewImage": {"SK": {"S": sk}}}});
    assert!(matches(&pattern, Some(&record("EVENT#a#b"))));
    assert!(!matches(&pattern, Some(&record("APP#a"))));
    assert!(!matches(
        &pattern,
        Some(&json!({"dynamodb": {"NewImage": {}}}))
    ));
    assert!(!matches(
        &pattern,
        Some(&json!({"dynamodb": {"Keys": {"SK": {"S": "EVENT#a"}}}}))
    ));
    let named = json!({"eventName": ["INSERT"], "dynamodb": {"Keys": {"PK": [{"exists": true}]}}});
    assert!(matches(
        &named,
        Some(&json!({"eventName": "INSERT", "dynamodb": {"Keys": {"PK": 1}}}))
    ));
    assert!(!matches(
        &named,
        Some(&json!({"eventName": "MODIFY", "dynamodb": {"Keys": {"PK": 1}}}))
    ));
    assert!(!matches(
        &named,
        Some(&json!({"eventName": "INSERT", "dynamodb": {"Keys": {}}}))
    ));
}

/// Every record of the table's stream so far, as the Lambda event carries it.
async fn stream_records(stream: &mut local_gateway::stream::LocalStream) -> Vec<Value> {
    let mut records = Vec::new();
    loop {
        let batches = stream.poll().await.expect("a poll of the stream");
        if batches.is_empty() {
            return records;
        }
        for (shard, event) in batches {
            let last = event
                .records
                .last()
                .and_then(|r| r.change.sequence_number.clone());
            records.extend(
                serde_json::to_value(&event).unwrap()["Records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .cloned(),
            );
            stream.handled(shard, last);
        }
    }
}

/// The mapping's filter, tried on the real stream records of every kind of write (applications,
/// names, counters, keys, lookup records, keyrings, idempotency records, kept refusals, status
/// changes, an event deleted as TTL would delete it): exactly the new audit events pass, one per
/// listed event. (Needs the local endpoint, like `tests/api/events.rs`'s stream tests.)
#[tokio::test]
async fn the_mappings_filter_lets_through_exactly_the_new_audit_events() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1") || endpoint.starts_with("http://localhost"),
        "reads the local endpoint's stream (AWS_ENDPOINT_URL={endpoint:?})"
    );
    let stack = echo_mode();
    let filters = mapping(&stack)["FilterCriteria"]["Filters"]
        .as_array()
        .expect("the mapping filters its records");
    assert_eq!(filters.len(), 1, "one pattern");
    let pattern: Value = serde_json::from_str(filters[0]["Pattern"].as_str().unwrap()).unwrap();
    assert!(
        pattern.as_object().unwrap().keys().all(|k| k == "dynamodb"),
        "DynamoDB mappings filter on the `dynamodb` key only (Lambda guide, with-ddb-filtering)"
    );

    let t = TestApi::with_limits(Limits {
        max_keys_per_application: 2,
        ..Limits::default()
    })
    .await;
    let mut stream = local_gateway::stream::LocalStream::new(&endpoint, &t.table_name());
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let with_key = |call: api_tests::Call, key: &str| call.idempotency_key(key).merchant(MERCHANT);
    let created = t
        .send(
            with_key(
                api_tests::Call::create_key(&app, json!({"description": "one"})),
                "k-1",
            )
            .into(),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let taken = t
        .send(
            with_key(
                api_tests::Call::post(
                    "/api/v1/applications",
                    "/api/v1/applications",
                    json!({"name": "prod"}),
                ),
                "k-2",
            )
            .into(),
        )
        .await;
    taken.assert_problem(409, "name_taken");
    let key = t.create_key(MERCHANT, &app, "two").await;
    let rolled = t.roll_key(MERCHANT, &app, &key.text("id"), 3600).await;
    assert_eq!(rolled.status, 201, "{}", rolled.body);
    assert_eq!(
        t.revoke_key(MERCHANT, &app, &created.text("id"))
            .await
            .status,
        204
    );
    assert_eq!(t.set_enabled(MERCHANT, &app, false).await.status, 200);
    assert_eq!(t.set_enabled(MERCHANT, &app, true).await.status, 200);
    let listed = t.events(MERCHANT, &app, "limit=100").await;
    let events = listed.json["items"].as_array().unwrap().clone();
    assert_eq!(events.len(), 7, "{}", listed.body);
    // The oldest event, deleted as TTL deletes it 400 days on.
    let oldest = events.last().unwrap()["id"].as_str().unwrap();
    t.client
        .delete_item()
        .table_name(t.table_name())
        .key("PK", AttributeValue::S(format!("MERCHANT#{MERCHANT}")))
        .key("SK", AttributeValue::S(format!("EVENT#{app}#{oldest}")))
        .condition_expression("attribute_exists(PK)")
        .send()
        .await
        .expect("the oldest event's item is where the store keeps it");

    let records = stream_records(&mut stream).await;
    let sort_key = |record: &Value| {
        record["dynamodb"]["Keys"]["SK"]["S"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let passed: Vec<&Value> = records
        .iter()
        .filter(|record| matches(&pattern, Some(record)))
        .collect();
    let wanted: Vec<&Value> = records
        .iter()
        .filter(|record| record["eventName"] == "INSERT" && sort_key(record).starts_with("EVENT#"))
        .collect();
    assert_eq!(passed, wanted);
    assert_eq!(passed.len(), events.len(), "one record per event");
    // What was kept out: every other kind of record.
    let kept_out: BTreeSet<String> = records
        .iter()
        .filter(|record| !matches(&pattern, Some(record)))
        .map(|record| {
            let sk = sort_key(record);
            let kind = sk.split('#').next().unwrap_or_default().to_owned();
            format!("{} {kind}", record["eventName"].as_str().unwrap())
        })
        .collect();
    for kind in [
        "INSERT IDEMPOTENCY",
        "REMOVE EVENT",
        "MODIFY APP",
        "INSERT KEY",
    ] {
        assert!(
            kept_out.contains(kind),
            "no {kind} record was tried: {kept_out:?}"
        );
    }
}

/// The example subscriber (`examples/event-subscriber.yaml`), as CloudFormation would read it:
/// parsed by the translator's YAML reader (which knows the short intrinsic tags).
fn example_subscriber() -> (String, Value) {
    let yaml = std::fs::read_to_string(workspace().join("examples/event-subscriber.yaml")).unwrap();
    let path = workspace().join("target/sam/subscriber-example.yaml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, yaml).unwrap();
    let parsed = std::process::Command::new(workspace().join(".venv/bin/python"))
        .args([
            "-c",
            "import json, sys; from samtranslator.yaml_helper import yaml_parse; \
             print(json.dumps(yaml_parse(open(sys.argv[1]).read())))",
        ])
        .arg(&path)
        .output()
        .expect("the template tools (scripts/aws-local.sh install_template_tools)");
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    (
        path.to_string_lossy().into_owned(),
        serde_json::from_slice(&parsed.stdout).unwrap(),
    )
}

#[test]
fn the_example_subscriber_is_valid_cloudformation_that_asks_for_what_it_says() {
    let (path, template) = example_subscriber();
    let lint = std::process::Command::new(workspace().join(".venv/bin/cfn-lint"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "cfn-lint {path}:\n{}",
        String::from_utf8_lossy(&lint.stdout)
    );
    let resources = template["Resources"].as_object().unwrap();
    let of_type = |kind: &str| -> Vec<(&String, &Value)> {
        resources
            .iter()
            .filter(|(_, r)| r["Type"] == kind)
            .collect()
    };
    let rules = of_type("AWS::Events::Rule");
    assert_eq!(rules.len(), 1);
    let (rule_id, rule) = rules[0];
    let rule = &rule["Properties"];
    // On the stack's bus (its EventBusName output, given as a parameter), for our events.
    let bus_parameter = rule["EventBusName"]["Ref"]
        .as_str()
        .expect("the bus by parameter");
    assert!(template["Parameters"][bus_parameter]["Description"]
        .as_str()
        .unwrap()
        .contains("EventBusName output"));
    let pattern = &rule["EventPattern"];
    assert_eq!(pattern["source"], json!([event_publisher::SOURCE]));
    let types: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    for detail_type in pattern["detail-type"].as_array().unwrap() {
        assert!(
            types.contains(&detail_type.as_str().unwrap()),
            "{detail_type}"
        );
    }
    // Its target is the queue, which lets EventBridge send for this rule only.
    let target = &rule["Targets"][0]["Arn"]["Fn::GetAtt"];
    let queue = target[0].as_str().unwrap();
    assert_eq!(resources[queue]["Type"], "AWS::SQS::Queue");
    let policies = of_type("AWS::SQS::QueuePolicy");
    assert_eq!(policies.len(), 1);
    let policy = &policies[0].1["Properties"];
    assert_eq!(policy["Queues"], json!([{ "Ref": queue }]));
    let statements = policy["PolicyDocument"]["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    let statement = &statements[0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(
        statement["Principal"],
        json!({"Service": "events.amazonaws.com"})
    );
    assert_eq!(statement["Action"], "sqs:SendMessage");
    assert_eq!(statement["Resource"], json!({"Fn::GetAtt": [queue, "Arn"]}));
    assert_eq!(
        statement["Condition"],
        json!({"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}})
    );
}

/// The example's pattern, on a bus of the local endpoint (moto's EventBridge and SQS): of the
/// events a key's creation, its revocation and a disable publish, the queue receives the
/// revocation, once.
#[tokio::test]
async fn the_example_rule_delivers_what_it_asks_for_and_nothing_else() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        endpoint.starts_with("http://127.0.0.1") || endpoint.starts_with("http://localhost"),
        "reads the local endpoint's stream (AWS_ENDPOINT_URL={endpoint:?})"
    );
    let (_, template) = example_subscriber();
    let pattern = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .find(|r| r["Type"] == "AWS::Events::Rule")
        .unwrap()["Properties"]["EventPattern"]
        .to_string();
    let sdk = devkit::guard::sdk(appkeys::lambda::sdk::Budget::MANAGEMENT).await;
    let name = format!("appkeys-subscriber-{}", uuid::Uuid::new_v4());
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    events.create_event_bus().name(&name).send().await.unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    events
        .put_rule()
        .name(&name)
        .event_bus_name(&name)
        .event_pattern(&pattern)
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&name)
        .event_bus_name(&name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("revoked-keys")
                .arn(queue_arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let t = TestApi::new().await;
    let mut stream = local_gateway::stream::LocalStream::new(&endpoint, &t.table_name());
    let app = t.create_application_named(MERCHANT, "Prod").await;
    let key = t.create_key(MERCHANT, &app, "checkout").await;
    assert_eq!(
        t.revoke_key(MERCHANT, &app, &key.text("id")).await.status,
        204
    );
    assert_eq!(t.set_enabled(MERCHANT, &app, false).await.status, 200);
    let publisher = event_publisher::Publisher {
        events,
        bus: name.clone(),
    };
    let mut published = 0;
    loop {
        match local_gateway::stream::publish_once(&mut stream, &publisher)
            .await
            .unwrap()
        {
            0 => break,
            handled => published += handled,
        }
    }
    assert!(published >= 4, "{published} records handled");

    let mut delivered = Vec::new();
    loop {
        let messages = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            delivered.push(serde_json::from_str::<Value>(message.body().unwrap()).unwrap());
            sqs.delete_message()
                .queue_url(&queue_url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0]["detail-type"], "api_key.revoked");
    assert_eq!(delivered[0]["detail"]["keyId"], key.json["id"]);
}

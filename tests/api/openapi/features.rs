use std::collections::BTreeSet;

use api_tests::openapi::{description, openapi_path};
use appkeys::domain::audit::{AuditEvent, Change, EventActor, EventType, KeyRef, LeakReport};
use appkeys::domain::limits::{EVENTS_LIMIT_DEFAULT, EVENTS_LIMIT_MAX, RECORD_LIFETIME_SECONDS};
use appkeys::domain::permissions::Permissions;
use appkeys::domain::text::Description;
use appkeys::domain::time::Timestamp;
use appkeys::domain::{ApplicationId, EventId, KeyId, MerchantId};
use devkit::routes::{Guard, ROUTES};
use lambda_http::http::HeaderValue;
use proptest::prelude::*;
use serde_json::{json, Value};

/// The `POST` routes of the management API: each takes an `Idempotency-Key`.
fn idempotent_routes() -> Vec<&'static devkit::routes::Route> {
    ROUTES
        .iter()
        .filter(|r| r.guard == Guard::Jwt && r.method == "POST")
        .collect()
}

/// The audit trail's and idempotency's parts of the description are the code's: the events page's bounds, the event
/// types, the event's members, the idempotency headers' names, where they are documented, and
/// the kept-response lifetime the prose promises.
#[test]
fn events_and_idempotency_are_described_as_the_code_has_them() {
    let doc = description();
    // GET .../events: `limit` and `startingAfter`, with the handler's bounds.
    let events = doc
        .operation("GET", "/api/v1/applications/{id}/events")
        .expect("listEvents");
    let query: Vec<&Value> = events["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| doc.resolve(p))
        .filter(|p| p["in"] == "query")
        .collect();
    let named = |name: &str| *query.iter().find(|p| p["name"] == name).unwrap();
    assert_eq!(query.len(), 2, "limit and startingAfter only");
    let limit = &named("limit")["schema"];
    assert_eq!(limit["minimum"], 1);
    assert_eq!(limit["maximum"], EVENTS_LIMIT_MAX);
    assert_eq!(limit["default"], EVENTS_LIMIT_DEFAULT);
    assert!(doc
        .violations(
            &named("startingAfter")["schema"],
            &json!(uuid::Uuid::now_v7().to_string())
        )
        .is_empty());
    let page = &doc.document["components"]["schemas"]["EventPage"];
    assert_eq!(page["properties"]["items"]["maxItems"], EVENTS_LIMIT_MAX);

    // The types are EventType::ALL, in order.
    let types: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(
        doc.document["components"]["schemas"]["EventType"]["enum"],
        json!(types)
    );

    // The members: every one the handler can render, and required exactly those it always does.
    let key = |id: &str| KeyRef {
        id: KeyId::parse(id).unwrap(),
        key_prefix: "ks_live_abc1".into(),
    };
    let full = AuditEvent {
        id: EventId::parse("0192f3c0-8e1f-7a2b-9c3d-4e5f6a7b8c9e").unwrap(),
        kind: EventType::ApiKeyRolled,
        created_at: Timestamp::from_epoch_seconds(1_800_000_000),
        application_id: ApplicationId::parse("0192f3a4-5b6c-7d8e-9f01-23456789abcd").unwrap(),
        key_id: KeyId::parse("0192f3a9-1c2d-7e3f-8a4b-5c6d7e8f9a0b"),
        key_prefix: Some("ks_live_abc1".into()),
        actor: EventActor {
            sub: "user-1".into(),
            merchant_id: MerchantId::from_claim("m_123").unwrap(),
        },
        request_id: "Yx2k3hXJoAMEb2w=".into(),
        source_ip: Some("203.0.113.7".into()),
        user_agent: Some("curl/8.5.0".into()),
        new_key: Some(key("0192f3c0-8e1f-7a2b-9c3d-4e5f6a7b8c9d")),
        report: Some(LeakReport {
            url: "https://github.com/o/r/blob/abc/.env".into(),
            source: "content".into(),
        }),
        permissions: Some(Change {
            old: Permissions::Unrestricted,
            new: Permissions::Restricted(vec!["charges:read".into()]),
        }),
        description: Some(Change {
            old: Description::from_stored("checkout".into()),
            new: Description::from_stored("reporting".into()),
        }),
    };
    let bare = AuditEvent {
        kind: EventType::ApplicationCreated,
        key_id: None,
        key_prefix: None,
        source_ip: None,
        user_agent: None,
        new_key: None,
        report: None,
        permissions: None,
        description: None,
        request_id: String::new(),
        ..full.clone()
    };
    let members = |event: &AuditEvent| -> BTreeSet<String> {
        serde_json::to_value(event)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let schema = &doc.document["components"]["schemas"]["Event"];
    let documented: BTreeSet<String> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let required: BTreeSet<String> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        documented,
        members(&full),
        "every member the handler renders"
    );
    assert_eq!(required, members(&bare), "required: those always rendered");
    for event in [&full, &bare] {
        let rendered = serde_json::to_value(event).unwrap();
        let problems = doc.violations(&doc.schema("Event"), &rendered);
        assert!(problems.is_empty(), "{rendered}: {problems:?}");
    }

    // Idempotency-Key on every POST, named as the code reads it; Idempotent-Replayed on the
    // responses a replay can give, named as the code writes it; 422 for a reused key.
    let parameter = &doc.document["components"]["parameters"]["IdempotencyKey"];
    assert!(parameter["name"]
        .as_str()
        .unwrap()
        .eq_ignore_ascii_case(appkeys::http::idempotent::HEADER));
    assert_eq!(parameter["in"], "header");
    assert_eq!(parameter["required"], false);
    assert!(
        parameter["description"]
            .as_str()
            .unwrap()
            .contains("24 hours")
            && RECORD_LIFETIME_SECONDS == 24 * 60 * 60,
        "the description promises the records' lifetime"
    );
    assert_eq!(idempotent_routes().len(), 3);
    for (method, path) in doc.operations() {
        let operation = doc.operation(&method, &path).unwrap();
        let takes_key = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["$ref"] == "#/components/parameters/IdempotencyKey");
        let idempotent = idempotent_routes()
            .iter()
            .any(|r| r.method == method && openapi_path(r.path) == path);
        assert_eq!(takes_key, idempotent, "{method} {path}: Idempotency-Key");
        let responses = operation["responses"].as_object().unwrap();
        let replayable: BTreeSet<&str> = responses
            .iter()
            .filter(|(_, response)| {
                doc.resolve(response)["headers"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .any(|(name, _)| {
                        name.eq_ignore_ascii_case(appkeys::http::idempotent::REPLAYED_HEADER)
                    })
            })
            .map(|(status, _)| status.as_str())
            .collect();
        let kept: BTreeSet<&str> = ["201", "400", "404", "409"]
            .into_iter()
            .filter(|status| responses.contains_key(*status))
            .collect();
        if idempotent {
            assert_eq!(replayable, kept, "{method} {path}: Idempotent-Replayed");
            let reused = doc.resolve(&responses["422"]);
            assert_eq!(
                reused["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/IdempotencyKeyReusedProblem",
                "{method} {path}"
            );
        } else {
            assert!(replayable.is_empty(), "{method} {path}");
            assert!(!responses.contains_key("422"), "{method} {path}");
        }
    }
}

/// Header values as a client may send them: around the limits, quoted or not, with white space
/// around them (which HTTP drops) and characters the header may not hold.
fn idempotency_key_value() -> impl Strategy<Value = String> {
    let char = prop_oneof![
        4 => proptest::sample::select(&['a', 'Z', '0', '-', '~', '!', '#'][..]),
        2 => Just('"'),
        2 => Just(' '),
        1 => proptest::sample::select(&['\t', 'é', '\u{a0}'][..]),
    ];
    (
        proptest::collection::vec(prop_oneof![Just(' '), Just('\t')], 0..2),
        any::<bool>(),
        prop_oneof![0..=3usize, 250..=258usize],
        proptest::collection::vec(char, 0..8),
        any::<bool>(),
        proptest::collection::vec(prop_oneof![Just(' '), Just('\t')], 0..2),
    )
        .prop_map(|(before, open, len, mixed, close, after)| {
            let mut middle: Vec<char> = std::iter::repeat_n('k', len).collect();
            for (at, c) in mixed.into_iter().enumerate() {
                let at = at * 37 % (middle.len() + 1);
                middle.insert(at, c);
            }
            let mut value: String = before.into_iter().collect();
            if open {
                value.push('"');
            }
            value.extend(middle);
            if close {
                value.push('"');
            }
            value.extend(after);
            value
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The header's schema accepts exactly the values the server accepts, as they arrive: a
    /// client generated from the description (or a fuzzer) never sends a key the server refuses,
    /// nor has one refused that the description allows.
    #[test]
    fn the_idempotency_key_schema_accepts_exactly_what_the_server_accepts(
        value in idempotency_key_value(),
    ) {
        // Values a header cannot carry never arrive.
        prop_assume!(HeaderValue::from_bytes(value.as_bytes()).is_ok());
        // HTTP drops space and tab around a field value (RFC 9110, 5.5).
        let arrived = value.trim_matches(|c| c == ' ' || c == '\t');
        let mut request = lambda_http::Request::new(lambda_http::Body::Empty);
        request.headers_mut().insert(
            appkeys::http::idempotent::HEADER,
            HeaderValue::from_bytes(arrived.as_bytes()).unwrap(),
        );
        let accepted = matches!(appkeys::http::idempotent::key(&request), Ok(Some(_)));
        let schema = &description().document["components"]["parameters"]["IdempotencyKey"]["schema"];
        let valid = description().violations(schema, &json!(value)).is_empty();
        prop_assert_eq!(valid, accepted, "{:?} (arrives as {:?})", value, arrived);
    }
}

/// The leaked-key report operation against the code: its bounds, labels, headers and challenge
/// are the function's, so the description cannot promise what the code refuses.
#[test]
fn the_leaked_key_report_is_described_as_the_code_handles_it() {
    use appkeys::http::error::WWW_AUTHENTICATE_SIGNATURE;
    use appkeys::secret_scanning::{Label, REPORT_BODY_MAX_BYTES, REPORT_TOKENS_MAX};
    let doc = description();
    let route = ROUTES
        .iter()
        .find(|r| r.guard == Guard::Signature)
        .expect("the report route");
    let path = openapi_path(route.path);
    let operation = doc.operation(route.method, &path).unwrap();

    // Body: 1 to REPORT_TOKENS_MAX entries with a string token; type, url and source strings,
    // null or absent (as the parser takes them); others allowed.
    let report = doc
        .resolve(&doc.resolve(&operation["requestBody"])["content"]["application/json"]["schema"]);
    assert_eq!(report["minItems"], 1);
    assert_eq!(report["maxItems"], REPORT_TOKENS_MAX);
    let entry = &report["items"];
    assert_eq!(entry["required"], json!(["token"]));
    for lenient in [
        json!([{"token": "t", "url": null, "source": null, "type": null}]),
        json!([{"token": "t"}]),
    ] {
        assert!(doc.violations(report, &lenient).is_empty(), "{lenient}");
        assert!(appkeys::secret_scanning::parse_report(lenient.to_string().as_bytes()).is_ok());
    }
    for strict in [json!([{"url": "u"}]), json!([{"token": "t", "url": 7}])] {
        assert!(!doc.violations(report, &strict).is_empty(), "{strict}");
        assert!(appkeys::secret_scanning::parse_report(strict.to_string().as_bytes()).is_err());
    }
    assert!(
        entry.get("additionalProperties").is_none(),
        "members GitHub adds later are accepted"
    );
    let with_extra =
        json!([{"token": "t", "type": "x", "url": "u", "source": "content", "found_at": "now"}]);
    assert!(doc.violations(report, &with_extra).is_empty());
    let too_many = Value::Array(vec![with_extra[0].clone(); REPORT_TOKENS_MAX + 1]);
    assert!(!doc.violations(report, &too_many).is_empty());

    // The answer: every label the code emits, and nothing else.
    let verdicts = doc.resolve(
        &doc.resolve(&operation["responses"]["200"])["content"]["application/json"]["schema"],
    );
    assert_eq!(verdicts["maxItems"], REPORT_TOKENS_MAX);
    let verdict = doc.resolve(&verdicts["items"]);
    let labels: Vec<Value> = [Label::TruePositive, Label::FalsePositive]
        .iter()
        .map(|label| serde_json::to_value(label).unwrap())
        .collect();
    assert_eq!(verdict["properties"]["label"]["enum"], json!(labels));

    // The headers the function reads, by the names it reads them (HTTP names are case-blind).
    let scheme = &doc.document["components"]["securitySchemes"]["githubSignature"];
    assert_eq!(
        (scheme["type"].as_str(), scheme["in"].as_str()),
        (Some("apiKey"), Some("header"))
    );
    let mut names = vec![scheme["name"].as_str().unwrap().to_ascii_lowercase()];
    for parameter in operation["parameters"].as_array().unwrap() {
        let parameter = doc.resolve(parameter);
        assert_eq!(parameter["in"], "header");
        assert_eq!(parameter["required"], true);
        names.push(parameter["name"].as_str().unwrap().to_ascii_lowercase());
    }
    let handler = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../functions")
            .join(route.function)
            .join("src/lib.rs"),
    )
    .unwrap();
    for name in &names {
        assert!(
            handler.contains(&format!("header(\"{name}\")")),
            "{} does not read {name}",
            route.function
        );
    }
    assert_eq!(
        names,
        [
            "github-public-key-signature",
            "github-public-key-identifier"
        ]
    );

    // The 401's challenge is the function's; the 413 names the function's bound.
    let unauthorized = doc.resolve(&operation["responses"]["401"]);
    let challenge = doc.resolve(&unauthorized["headers"]["WWW-Authenticate"]);
    assert_eq!(challenge["schema"]["const"], WWW_AUTHENTICATE_SIGNATURE);
    assert_eq!(challenge["required"], true);
    let too_large = doc.resolve(&operation["responses"]["413"]);
    assert!(too_large["description"]
        .as_str()
        .unwrap()
        .contains(&REPORT_BODY_MAX_BYTES.to_string()));
}

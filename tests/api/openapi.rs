//! `docs/openapi.yaml` against the code: the same operations as the route table, the same
//! security as the guards, request schemas that accept exactly what the domain rules accept,
//! examples that are valid, and a response checker that catches what it should. (Every response
//! the other tests produce goes through that checker; see `api_tests::openapi`.)

use std::collections::BTreeSet;

use api_tests::openapi::{description, openapi_path, ANY_METHODS};
use api_tests::TestResponse;
use appkeys::domain::audit::{AuditEvent, EventActor, EventType, KeyRef, LeakReport};
use appkeys::domain::key_format::{check_format, KeyMode};
use appkeys::domain::limits::{
    APPLICATION_DESCRIPTION_MAX, APPLICATION_NAME_MAX, KEY_DESCRIPTION_MAX,
};
use appkeys::domain::limits::{
    EVENTS_LIMIT_DEFAULT, EVENTS_LIMIT_MAX, MAX_GRACE_SECONDS, RECORD_LIFETIME_SECONDS,
};
use appkeys::domain::text;
use appkeys::domain::time::Timestamp;
use appkeys::domain::{ApplicationId, ApplicationName, Description, EventId, KeyId, MerchantId};
use devkit::routes::{Guard, ROUTES};
use lambda_http::http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use serde_json::{json, Value};

#[test]
fn the_description_documents_exactly_the_route_table() {
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .flat_map(|route| {
            let methods: Vec<&str> = if route.method == "ANY" {
                ANY_METHODS.to_vec()
            } else {
                vec![route.method]
            };
            methods
                .into_iter()
                .map(|method| (method.to_owned(), openapi_path(route.path)))
        })
        .collect();
    assert_eq!(description().operations(), expected);
}

#[test]
fn each_operation_names_the_security_of_its_guard_and_its_path_parameters() {
    let doc = description();
    let mut operation_ids = BTreeSet::new();
    for (method, path) in doc.operations() {
        let route = devkit::routes::ROUTES
            .iter()
            .find(|r| openapi_path(r.path) == path)
            .unwrap();
        let operation = doc.operation(&method, &path).unwrap();
        let scheme = match route.guard {
            Guard::Jwt => "merchantJwt",
            Guard::ApiKey => "apiKey",
            Guard::Signature => "githubSignature",
        };
        assert_eq!(
            operation["security"],
            json!([{ scheme: [] }]),
            "{method} {path}"
        );
        assert!(
            operation_ids.insert(operation["operationId"].as_str().unwrap().to_owned()),
            "operationId of {method} {path} is not unique"
        );

        // Every `{name}` of the path is a documented path parameter, and nothing else is.
        let mut documented: BTreeSet<String> = BTreeSet::new();
        for parameters in [
            &doc.document["paths"][&path]["parameters"],
            &operation["parameters"],
        ] {
            for parameter in parameters.as_array().into_iter().flatten() {
                let parameter = doc.resolve(parameter);
                if parameter["in"] == "path" {
                    assert_eq!(parameter["required"], true, "{method} {path}");
                    documented.insert(parameter["name"].as_str().unwrap().to_owned());
                }
            }
        }
        let in_path: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        assert_eq!(documented, in_path, "{method} {path}");

        // Management routes document the function's and the gateway's failures.
        if route.guard == Guard::Jwt {
            for status in ["401", "500"] {
                assert!(
                    operation["responses"].get(status).is_some(),
                    "{method} {path} lacks {status}"
                );
            }
        }
    }
}

/// Every example in the description is valid against the schema it illustrates.
#[test]
fn examples_are_valid() {
    let doc = description();
    let mut checked = 0;
    let mut check = |schema: &Value, example: &Value, what: &str| {
        let problems = doc.violations(schema, example);
        assert!(problems.is_empty(), "{what}: {problems:?}");
        checked += 1;
    };
    for (method, path) in doc.operations() {
        let operation = doc.operation(&method, &path).unwrap();
        let mut media_types = Vec::new();
        if let Some(body) = operation.get("requestBody") {
            media_types.extend(doc.resolve(body)["content"].as_object().unwrap().values());
        }
        for response in operation["responses"].as_object().unwrap().values() {
            if let Some(content) = doc.resolve(response).get("content") {
                media_types.extend(content.as_object().unwrap().values());
            }
        }
        for media in media_types {
            if let Some(example) = media.get("example") {
                check(&media["schema"], example, &format!("{method} {path}"));
            }
            for example in media
                .get("examples")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let example = &doc.resolve(example.1)["value"];
                check(&media["schema"], example, &format!("{method} {path}"));
            }
        }
    }
    assert!(checked >= 10, "only {checked} examples");

    // The example keys are real ones: they pass the checks the authorizer makes before any read.
    for example in ["CreatedApiKey", "RolledApiKey"] {
        let key = &doc.document["components"]["examples"][example]["value"]["fullKey"];
        assert!(
            check_format(key.as_str().unwrap(), KeyMode::Live).is_ok(),
            "{example}"
        );
    }
}

fn valid(schema: &str, body: Value) -> bool {
    description()
        .violations(&description().schema(schema), &body)
        .is_empty()
}

/// The regular expression that says, over text already in NFKC form, exactly what the rules of
/// `appkeys::domain::text` accept: optional white space (trimmed), then 1..=`max` characters that are not
/// `forbidden` and neither start nor end with white space, then optional white space. Code points
/// of the Basic Multilingual Plane are `\uXXXX` escapes; the few above it are the characters
/// themselves (ECMA-262 spells them `\u{...}` only with the `u` flag, Python's `re` not at all).
fn text_pattern(forbidden: fn(char) -> bool, max: usize) -> String {
    let white_space = class(char::is_whitespace);
    let edge = class(|c| forbidden(c) || c.is_whitespace());
    let inside = class(forbidden);
    format!(
        "^[{white_space}]*[^{edge}](?:[^{inside}]{{0,{}}}[^{edge}])?[{white_space}]*$",
        max - 2
    )
}

/// The body of a character class holding exactly the characters where `member` is true.
fn class(member: impl Fn(char) -> bool) -> String {
    let one = |c: char| {
        if (c as u32) < 0x10000 {
            format!("\\u{:04X}", c as u32)
        } else {
            c.to_string()
        }
    };
    let mut out = String::new();
    let mut run: Option<(char, char)> = None;
    let flush = |run: (char, char), out: &mut String| match run {
        (a, b) if a == b => out.push_str(&one(a)),
        (a, b) => out.push_str(&format!("{}-{}", one(a), one(b))),
    };
    for c in (0..=0x10FFFF).filter_map(char::from_u32) {
        match (member(c), run) {
            (true, Some((start, end))) if end as u32 + 1 == c as u32 => run = Some((start, c)),
            (true, Some(previous)) => {
                flush(previous, &mut out);
                run = Some((c, c));
            }
            (true, None) => run = Some((c, c)),
            (false, Some(previous)) => {
                flush(previous, &mut out);
                run = None;
            }
            (false, None) => {}
        }
    }
    if let Some(previous) = run {
        flush(previous, &mut out);
    }
    out
}

/// `pattern` as a YAML double-quoted scalar, to paste into docs/openapi.yaml.
fn yaml_scalar(pattern: &str) -> String {
    let mut out = String::from("\"");
    for c in pattern.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if (c as u32) >= 0x10000 => out.push_str(&format!("\\U{:08X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The request patterns are the code's rules, generated from the same Unicode data: a character
/// added to a category in a new Unicode version shows up here as a difference to paste.
#[test]
fn the_text_patterns_are_the_rules_of_the_code() {
    let schemas = &description().document["components"]["schemas"];
    let mut differences = Vec::new();
    for (schema, forbidden, max) in [
        (
            "ApplicationNameInput",
            text::is_forbidden_in_name as fn(char) -> bool,
            APPLICATION_NAME_MAX,
        ),
        (
            "ApplicationDescriptionInput",
            text::is_forbidden_in_description,
            APPLICATION_DESCRIPTION_MAX,
        ),
        (
            "KeyDescriptionInput",
            text::is_forbidden_in_description,
            KEY_DESCRIPTION_MAX,
        ),
    ] {
        let expected = text_pattern(forbidden, max);
        if schemas[schema]["pattern"] != expected.as_str() {
            differences.push(format!(
                "{schema}:\n      pattern: {}",
                yaml_scalar(&expected)
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "patterns that are not the code's rules; they should be:\n{}",
        differences.join("\n")
    );
}

/// Characters where the rules are easy to get wrong: white space by any definition (Unicode
/// White_Space, which trimming removes; ECMAScript's `\s`; Python's `str.isspace`), controls,
/// format characters (zero-width, joiners, bidi controls, the BOM, tags), other default-ignorable
/// code points (variation selectors, Hangul fillers, the combining grapheme joiner), and
/// compatibility forms that NFKC rewrites (full-width, ligatures, circled digits, a decomposed
/// accent, a character that NFKC expands to 18).
const TRICKY: &[char] = &[
    ' ',
    '\t',
    '\n',
    '\r',
    '\u{b}',
    '\u{c}',
    '\u{1c}',
    '\u{0}',
    '\u{1f}',
    '\u{7f}',
    '\u{85}',
    '\u{9f}',
    '\u{a0}',
    '\u{1680}',
    '\u{180e}',
    '\u{2000}',
    '\u{200a}',
    '\u{2028}',
    '\u{2029}',
    '\u{202f}',
    '\u{205f}',
    '\u{3000}', // white space and controls
    '\u{ad}',
    '\u{61c}',
    '\u{200b}',
    '\u{200c}',
    '\u{200d}',
    '\u{200e}',
    '\u{202a}',
    '\u{202e}',
    '\u{2060}',
    '\u{2064}',
    '\u{2066}',
    '\u{2069}',
    '\u{feff}',
    '\u{fff9}',
    '\u{110bd}',
    '\u{1d173}',
    '\u{e0001}',
    '\u{e0041}', // format
    '\u{34f}',
    '\u{fe0f}',
    '\u{3164}',
    '\u{ffa0}',
    '\u{115f}',
    '\u{e0100}',
    '\u{2065}', // default-ignorable
    'Ａ',
    'ｐ',
    '０',
    'ﬁ',
    '①',
    '²',
    '㍿',
    '\u{fdfa}',
    '\u{301}',
    '\u{a8}',
    'Å',
    'Ω',
    'ｶ',
    '\u{ff9e}',
    '\u{1e9b}', // compatibility forms
    'a',
    'Z',
    '0',
    '-',
    'é',
    '日',
    '😀',
];

fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => proptest::sample::select(TRICKY),
        1 => any::<char>(),
    ]
}

/// Mostly white space (trimmed), sometimes anything tricky.
fn edge_char() -> impl Strategy<Value = char> {
    prop_oneof![
        2 => proptest::sample::select(&[' ', '\t', '\n', '\u{85}', '\u{a0}', '\u{3000}', '\u{feff}', '\u{2028}'][..]),
        1 => tricky_char(),
    ]
}

/// Strings around a limit: a few characters on each side of `len` plain ones, `len` often
/// right at the boundary, with a few characters swapped for tricky ones.
fn near_limit(max: usize) -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(edge_char(), 0..3),
        prop_oneof![0..=max + 2, max - 1..=max + 1],
        proptest::collection::vec(edge_char(), 0..3),
        proptest::collection::vec((0..=max + 2, tricky_char()), 0..3),
    )
        .prop_map(|(before, len, after, swaps)| {
            let mut middle: Vec<char> = std::iter::repeat_n('x', len).collect();
            for (at, c) in swaps {
                if at < middle.len() {
                    middle[at] = c;
                }
            }
            before.into_iter().chain(middle).chain(after).collect()
        })
}

fn short_tricky() -> impl Strategy<Value = String> {
    proptest::collection::vec(tricky_char(), 0..8).prop_map(|chars| chars.into_iter().collect())
}

/// A few tricky characters among plain ones, often framed by letters, so that each lands inside
/// a name as well as at its edges.
fn framed_tricky() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        proptest::collection::vec(prop_oneof![2 => tricky_char(), 1 => Just('x')], 1..6),
        any::<bool>(),
    )
        .prop_map(|(open, chars, close)| {
            let inner: String = chars.into_iter().collect();
            format!(
                "{}{inner}{}",
                if open { "a" } else { "" },
                if close { "z" } else { "" }
            )
        })
}

/// What the description promises about a request string: it is accepted exactly when its NFKC
/// form matches the schema (JSON Schema cannot normalise; the server does, then applies the
/// rules the pattern spells out), and so for text already in NFKC form, exactly when it matches.
fn agrees(
    schema: &str,
    body: impl Fn(&str) -> Value,
    raw: &str,
    accepted: bool,
) -> Result<(), TestCaseError> {
    let normal = text::nfkc(raw);
    prop_assert_eq!(
        valid(schema, body(&normal)),
        accepted,
        "NFKC form {:?} of {:?}",
        normal,
        raw
    );
    if normal == raw {
        prop_assert_eq!(valid(schema, body(raw)), accepted, "{:?}", raw);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// The request schemas' patterns accept what the domain rules accept, so generated clients
    /// and fuzzers (schemathesis) agree with the functions on every name and description.
    #[test]
    fn name_schema_accepts_exactly_what_the_rule_accepts(
        name in prop_oneof![near_limit(100), short_tricky(), framed_tricky()],
    ) {
        agrees("NewApplication", |n| json!({ "name": n }), &name, ApplicationName::parse(&name).is_ok())?;
    }

    #[test]
    fn application_description_schema_accepts_exactly_what_the_rule_accepts(
        text in prop_oneof![near_limit(APPLICATION_DESCRIPTION_MAX), short_tricky(), framed_tricky()],
    ) {
        agrees(
            "NewApplication",
            |d| json!({ "name": "n", "description": d }),
            &text,
            Description::parse("description", &text, APPLICATION_DESCRIPTION_MAX).is_ok(),
        )?;
    }

    #[test]
    fn key_description_schema_accepts_exactly_what_the_rule_accepts(
        text in prop_oneof![near_limit(KEY_DESCRIPTION_MAX), short_tricky(), framed_tricky()],
    ) {
        agrees(
            "NewApiKey",
            |d| json!({ "description": d }),
            &text,
            Description::parse("description", &text, KEY_DESCRIPTION_MAX).is_ok(),
        )?;
    }
}

#[test]
fn request_schemas_hold_the_contract_limits() {
    let name = |n: usize| "n".repeat(n);
    assert!(valid("NewApplication", json!({ "name": name(100) })));
    assert!(valid(
        "NewApplication",
        json!({ "name": format!("  {}\t", name(100)) })
    ));
    assert!(!valid("NewApplication", json!({ "name": name(101) })));
    assert!(!valid("NewApplication", json!({ "name": "   " })));
    assert!(!valid("NewApplication", json!({ "name": "a\u{7}b" })));
    assert!(!valid("NewApplication", json!({})));
    assert!(!valid("NewApplication", json!({ "name": "a", "extra": 1 })));
    assert!(valid(
        "NewApplication",
        json!({ "name": "a", "description": null })
    ));
    assert!(valid(
        "NewApplication",
        json!({ "name": "a", "description": "x".repeat(500) })
    ));
    assert!(!valid(
        "NewApplication",
        json!({ "name": "a", "description": "x".repeat(501) })
    ));
    assert!(valid("NewApiKey", json!({ "description": "line\none" })));
    assert!(!valid(
        "NewApiKey",
        json!({ "description": "x".repeat(201) })
    ));
    assert!(!valid("NewApiKey", json!({ "description": null })));
    assert!(valid(
        "NewApiKey",
        json!({ "description": "d", "expiresAt": "2027-01-31T00:00:00Z" })
    ));
    assert!(valid(
        "NewApiKey",
        json!({ "description": "d", "expiresAt": "2027-01-31T01:00:00.5+01:00" })
    ));
    assert!(valid(
        "NewApiKey",
        json!({ "description": "d", "expiresAt": null })
    ));
    for not_rfc3339 in [
        json!("2027-01-31T00:00:00"),
        json!("2027-01-31"),
        json!("2027-01-31 00:00:00Z"),
        json!(1800000000),
    ] {
        assert!(
            !valid(
                "NewApiKey",
                json!({ "description": "d", "expiresAt": not_rfc3339 })
            ),
            "{not_rfc3339}"
        );
    }
    assert!(valid("RollRequest", json!({ "expiresInSeconds": 0 })));
    assert!(valid(
        "RollRequest",
        json!({ "expiresInSeconds": MAX_GRACE_SECONDS })
    ));
    for refused in [
        json!({ "expiresInSeconds": MAX_GRACE_SECONDS + 1 }),
        json!({ "expiresInSeconds": -1 }),
        json!({ "expiresInSeconds": 1.5 }),
        json!({ "expiresInSeconds": "3600" }),
        json!({ "expiresInSeconds": null }),
        json!({}),
        json!({ "expiresInSeconds": 60, "description": "x" }),
    ] {
        assert!(!valid("RollRequest", refused.clone()), "{refused}");
    }
    assert!(valid("StatusChange", json!({ "isEnabled": false })));
    assert!(!valid("StatusChange", json!({ "isEnabled": "false" })));
    assert!(!valid(
        "StatusChange",
        json!({ "isEnabled": true, "name": "x" })
    ));
}

fn response(status: u16, headers: &[(&'static str, &str)], body: Value) -> TestResponse {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    TestResponse {
        status,
        headers: map,
        json: serde_json::from_str(&body).unwrap_or(Value::Null),
        body,
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");
const PROBLEM: (&str, &str) = ("content-type", "application/problem+json");
const APP_ID: &str = "0192f3a4-5b6c-7d8e-9f01-23456789abcd";

fn application() -> Value {
    json!({
        "id": APP_ID,
        "name": "Production Web Store",
        "description": null,
        "isEnabled": true,
        "createdAt": "2026-02-23T12:00:00Z"
    })
}

/// The checker the harness runs on every response passes what the description documents and
/// catches what it does not: the drift it exists to find.
#[test]
fn the_response_checker_catches_drift() {
    let doc = description();
    let create = |status, headers: &[(&'static str, &str)], body| {
        doc.check_response(
            "POST",
            "/api/v1/applications",
            &response(status, headers, body),
        )
    };
    let location = format!("/api/v1/applications/{APP_ID}");
    let created = [JSON, ("location", location.as_str())];
    create(201, &created, application()).unwrap();

    let mut leaked = application();
    leaked["keyHash"] = json!("ab12");
    assert!(
        create(201, &created, leaked).is_err(),
        "an undocumented field"
    );
    let mut no_description = application();
    no_description
        .as_object_mut()
        .unwrap()
        .remove("description");
    assert!(
        create(201, &created, no_description).is_err(),
        "a missing field"
    );
    assert!(create(201, &[JSON], application()).is_err(), "no Location");
    assert!(
        create(201, &[JSON, ("location", "/elsewhere")], application()).is_err(),
        "a wrong Location"
    );
    assert!(
        create(
            201,
            &[PROBLEM, ("location", location.as_str())],
            application()
        )
        .is_err(),
        "a wrong content type"
    );
    assert!(
        create(418, &[JSON], json!({})).is_err(),
        "an undocumented status"
    );

    let problem = |code: &str, status: u16| json!({"type": format!("/errors/{code}"), "title": "T", "status": status, "detail": "D"});
    create(409, &[PROBLEM], problem("name_taken", 409)).unwrap();
    assert!(
        create(409, &[PROBLEM], problem("validation_failed", 409)).is_err(),
        "a 409 with another code"
    );
    assert!(
        create(400, &[PROBLEM], problem("validation_failed", 400)).is_err(),
        "validation_failed without its errors"
    );
    create(401, &[JSON], json!({"message": "Unauthorized"})).unwrap();
    assert!(
        create(500, &[PROBLEM], problem("internal", 500)).is_err(),
        "a 500 with internal detail"
    );

    // A key summary never carries the full key.
    let mut listed = application();
    listed["apiKeys"] = json!([{
        "id": APP_ID, "keyPrefix": "ks_live_abc1", "description": "d", "status": "active",
        "createdAt": "2026-02-23T12:00:00Z", "fullKey": "ks_live_..."
    }]);
    let page = json!({"items": [listed], "page": 1, "limit": 10, "totalItems": 1,
        "totalPages": 1, "hasPreviousPage": false, "hasNextPage": false});
    assert!(doc
        .check_response("GET", "/api/v1/applications", &response(200, &[JSON], page))
        .is_err());

    // 204 has no body; the key's 201 must not be cached.
    let revoke = "/api/v1/applications/{id}/api-keys/{keyId}";
    doc.check_response("DELETE", revoke, &response(204, &[], Value::Null))
        .unwrap();
    assert!(doc
        .check_response("DELETE", revoke, &response(204, &[JSON], json!({})))
        .is_err());
    let key = json!({
        "id": APP_ID, "applicationId": APP_ID, "keyPrefix": "ks_live_abc1", "description": "d",
        "createdAt": "2026-02-23T12:00:00Z", "expiresAt": null,
        "fullKey": doc.document["components"]["examples"]["CreatedApiKey"]["value"]["fullKey"],
    });
    let create_key = "/api/v1/applications/{id}/api-keys";
    let no_store = [JSON, ("cache-control", "no-store")];
    doc.check_response("POST", create_key, &response(201, &no_store, key.clone()))
        .unwrap();
    assert!(doc
        .check_response("POST", create_key, &response(201, &[JSON], key.clone()))
        .is_err());
    let mut no_expiry = key.clone();
    no_expiry.as_object_mut().unwrap().remove("expiresAt");
    assert!(
        doc.check_response("POST", create_key, &response(201, &no_store, no_expiry))
            .is_err(),
        "expiresAt is always present (null when the key never expires)"
    );

    // A roll answers the new key and the old one's end, uncached; the old one always has an end.
    let roll = "/api/v1/applications/{id}/api-keys/{keyId}/roll";
    let mut rolled = key.clone();
    rolled["rolledKey"] = json!({"id": APP_ID, "expiresAt": "2026-02-23T13:00:00Z"});
    doc.check_response("POST", roll, &response(201, &no_store, rolled.clone()))
        .unwrap();
    assert!(doc
        .check_response("POST", roll, &response(201, &[JSON], rolled.clone()))
        .is_err());
    assert!(
        doc.check_response("POST", roll, &response(201, &no_store, key.clone()))
            .is_err(),
        "a roll without rolledKey"
    );
    let mut endless = rolled.clone();
    endless["rolledKey"]["expiresAt"] = Value::Null;
    assert!(doc
        .check_response("POST", roll, &response(201, &no_store, endless))
        .is_err());
    doc.check_response(
        "POST",
        roll,
        &response(400, &[PROBLEM], problem("key_already_rolled", 400)),
    )
    .unwrap();
    assert!(doc
        .check_response(
            "POST",
            roll,
            &response(400, &[PROBLEM], problem("name_taken", 400))
        )
        .is_err());

    // One application always carries its keys, each with its three nullable times.
    let one = "/api/v1/applications/{id}";
    let summary = json!({
        "id": APP_ID, "keyPrefix": "ks_live_abc1", "description": "d", "status": "expired",
        "createdAt": "2026-02-23T12:00:00Z", "expiresAt": "2026-02-24T12:00:00Z",
        "lastUsedAt": null, "revokedAt": null
    });
    let mut with_keys = application();
    with_keys["apiKeys"] = json!([summary]);
    doc.check_response("GET", one, &response(200, &[JSON], with_keys.clone()))
        .unwrap();
    assert!(
        doc.check_response("GET", one, &response(200, &[JSON], application()))
            .is_err(),
        "an application without apiKeys"
    );
    let mut unknown_status = with_keys.clone();
    unknown_status["apiKeys"][0]["status"] = json!("rolled");
    assert!(doc
        .check_response("GET", one, &response(200, &[JSON], unknown_status))
        .is_err());
    // An event page: an event carries no secret and every member; a reused key is 422 only
    // with its own code.
    let events = "/api/v1/applications/{id}/events";
    let page = &doc.document["components"]["examples"]["EventPage"]["value"];
    doc.check_response("GET", events, &response(200, &[JSON], page.clone()))
        .unwrap();
    let mut leaked = page.clone();
    leaked["items"][0]["fullKey"] = json!("ks_live_...");
    assert!(doc
        .check_response("GET", events, &response(200, &[JSON], leaked))
        .is_err());
    let mut anonymous = page.clone();
    anonymous["items"][0]
        .as_object_mut()
        .unwrap()
        .remove("actor");
    assert!(doc
        .check_response("GET", events, &response(200, &[JSON], anonymous))
        .is_err());
    let mut unknown_type = page.clone();
    unknown_type["items"][0]["type"] = json!("api_key.deleted");
    assert!(doc
        .check_response("GET", events, &response(200, &[JSON], unknown_type))
        .is_err());
    create(422, &[PROBLEM], problem("idempotency_key_reused", 422)).unwrap();
    assert!(create(422, &[PROBLEM], problem("validation_failed", 422)).is_err());
    assert!(
        create(
            201,
            &[
                JSON,
                ("location", location.as_str()),
                ("idempotent-replayed", "yes")
            ],
            application()
        )
        .is_err(),
        "Idempotent-Replayed is `true` or absent"
    );
    create(
        201,
        &[
            JSON,
            ("location", location.as_str()),
            ("idempotent-replayed", "true"),
        ],
        application(),
    )
    .unwrap();

    let mut no_last_use = with_keys;
    no_last_use["apiKeys"][0]
        .as_object_mut()
        .unwrap()
        .remove("lastUsedAt");
    assert!(
        doc.check_response("GET", one, &response(200, &[JSON], no_last_use))
            .is_err(),
        "lastUsedAt is always present"
    );
}

/// The `POST` routes of the management API: each takes an `Idempotency-Key`.
fn idempotent_routes() -> Vec<&'static devkit::routes::Route> {
    ROUTES
        .iter()
        .filter(|r| r.guard == Guard::Jwt && r.method == "POST")
        .collect()
}

/// Issue 15's parts of the description are the code's: the events page's bounds, the event
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
    };
    let bare = AuditEvent {
        kind: EventType::ApplicationCreated,
        key_id: None,
        key_prefix: None,
        source_ip: None,
        user_agent: None,
        new_key: None,
        report: None,
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

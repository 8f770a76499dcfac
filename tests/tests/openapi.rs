//! `docs/openapi.yaml` against the code: the same operations as the route table, the same
//! security as the guards, request schemas that accept exactly what the domain rules accept,
//! examples that are valid, and a response checker that catches what it should. (Every response
//! the other tests produce goes through that checker; see `api_tests::openapi`.)

use std::collections::BTreeSet;

use api_tests::openapi::{description, openapi_path, ANY_METHODS};
use api_tests::TestResponse;
use appkeys::api_key::{check_format, KeyMode};
use appkeys::domain::{
    ApplicationName, Description, APPLICATION_DESCRIPTION_MAX, APPLICATION_NAME_MAX,
    KEY_DESCRIPTION_MAX,
};
use appkeys::routes::{Guard, ROUTES};
use appkeys::store::MAX_GRACE_SECONDS;
use appkeys::text;
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
        let route = appkeys::routes::ROUTES
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
/// `appkeys::text` accept: optional white space (trimmed), then 1..=`max` characters that are not
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

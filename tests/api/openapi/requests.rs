use api_tests::openapi::description;
use appkeys::domain::limits::MAX_GRACE_SECONDS;
use appkeys::domain::limits::{
    APPLICATION_DESCRIPTION_MAX, APPLICATION_NAME_MAX, KEY_DESCRIPTION_MAX,
};
use appkeys::domain::permissions::{PaymentResources, Permissions};
use appkeys::domain::text;
use appkeys::domain::{ApplicationName, Description};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::valid;

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

/// A name's rules hold over its normal form; a character that NFKC rewrites (U+3000 to U+0020)
/// is refused by the pattern exactly when what it becomes is.
fn forbidden_in_name_once_normalised(c: char) -> bool {
    text::nfkc(c.encode_utf8(&mut [0; 4]))
        .chars()
        .any(text::is_forbidden_in_name)
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
            forbidden_in_name_once_normalised as fn(char) -> bool,
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

#[test]
fn the_permission_schema_lists_the_default_resources_permissions() {
    let resources = PaymentResources::default();
    let mut expected: Vec<String> = resources
        .names()
        .iter()
        .flat_map(|name| [format!("{name}:read"), format!("{name}:write")])
        .collect();
    expected.sort();
    let schema = description().schema("Permission");
    let listed: Vec<String> = description().resolve(&schema)["enum"]
        .as_array()
        .expect("Permission is an enum")
        .iter()
        .map(|value| value.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, expected);
    for permission in &expected {
        let list = [permission.as_str()];
        assert!(
            Permissions::parse(&list, &resources).is_ok(),
            "{permission}"
        );
        assert!(valid("KeyChange", json!({ "permissions": list })));
    }
    for refused in [json!(["payouts:read"]), json!(["charges:admin"]), json!([])] {
        assert!(
            !valid("KeyChange", json!({ "permissions": refused })),
            "{refused}"
        );
    }
    assert!(valid("KeyChange", json!({ "permissions": null })));
    assert!(!valid("KeyChange", json!({ "description": null })));
    assert!(!valid("KeyChange", json!({})));
}

//! Properties over generated input: name normalisation, the key format, and request parsing.

use appkeys::domain::key_format::{check_format, FullKey, KeyFormatError, KeyMode};
use appkeys::domain::text;
use appkeys::domain::Timestamp;
use appkeys::domain::{ApplicationName, Description};
use appkeys::http::body::{self, Body};
use icu_normalizer::DecomposingNormalizerBorrowed;
use proptest::prelude::*;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const NFD: DecomposingNormalizerBorrowed<'static> = DecomposingNormalizerBorrowed::new_nfd();

/// Characters that render as nothing or change the direction of what follows: format characters
/// (Cf), line and paragraph separators, and other default-ignorable code points.
const INVISIBLE: &[char] = &[
    '\u{ad}',
    '\u{61c}',
    '\u{180e}',
    '\u{200b}',
    '\u{200c}',
    '\u{200d}',
    '\u{200e}',
    '\u{200f}',
    '\u{202a}',
    '\u{202e}',
    '\u{2060}',
    '\u{2063}',
    '\u{2066}',
    '\u{2069}',
    '\u{feff}',
    '\u{fff9}',
    '\u{e0001}',
    '\u{e0041}',
    '\u{1d173}',
    '\u{2028}',
    '\u{2029}',
    '\u{34f}',
    '\u{fe0f}',
    '\u{e0100}',
    '\u{3164}',
    '\u{ffa0}',
    '\u{115f}',
    '\u{17b4}',
    '\u{2065}',
];

/// Compatibility forms NFKC rewrites: full-width letters, ligatures, circled and superscript
/// digits, a decomposed accent, a character NFKC expands to 18, half-width katakana.
const COMPATIBLE: &[char] = &[
    'Ａ', 'ｚ', '０', 'ﬁ', 'ﬀ', '①', '²', '㍿', '\u{fdfa}', '\u{301}', '\u{a8}', 'Å', 'Ω', 'ｶ',
    '\u{ff9e}', '\u{1e9b}', 'ẞ', 'ß', 'İ',
];

/// Text mixing plain letters, white space, invisible characters and compatibility forms.
fn tricky_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            3 => proptest::char::range('a', 'z'),
            1 => proptest::sample::select(&[' ', '\t', '\n', '\r', '\u{a0}', '\u{3000}'][..]),
            1 => proptest::sample::select(INVISIBLE),
            2 => proptest::sample::select(COMPATIBLE),
        ],
        0..40,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// The full-width form of a printable ASCII character (U+FF01..U+FF5E), else the character.
fn full_width(c: char) -> char {
    match c {
        '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap(),
        other => other,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Normalising a name twice changes nothing: what is stored as the name, parsed again, has
    /// the same display form and the same folded form. Over any printable text, and over text
    /// full of format characters, default-ignorables and compatibility forms.
    #[test]
    fn name_normalisation_is_idempotent(raw in prop_oneof!["\\PC{0,120}", tricky_text()]) {
        if let Ok(name) = ApplicationName::parse(&raw) {
            let again = ApplicationName::parse(name.as_str()).expect("a normalised name stays valid");
            prop_assert_eq!(again.as_str(), name.as_str());
            prop_assert_eq!(again.folded(), name.folded());
            prop_assert_eq!(text::nfkc(name.as_str()), name.as_str(), "stored in NFKC");
            let folded_again = ApplicationName::parse(name.folded()).map(|n| n.folded().to_owned());
            if let Ok(folded_again) = folded_again {
                prop_assert_eq!(folded_again, name.folded(), "folding is a fixpoint");
            }
        }
        if let Ok(description) = Description::parse("description", &raw, 500) {
            let again = Description::parse("description", description.as_str(), 500).unwrap();
            prop_assert_eq!(again.as_str(), description.as_str());
        }
    }

    /// No accepted name or description holds an invisible or direction-changing character.
    #[test]
    fn accepted_text_holds_no_invisible_character(raw in prop_oneof!["\\PC{0,60}", tricky_text()]) {
        if let Ok(name) = ApplicationName::parse(&raw) {
            prop_assert!(!name.as_str().chars().any(text::is_forbidden_in_name), "{:?}", name);
        }
        if let Ok(description) = Description::parse("description", &raw, 500) {
            prop_assert!(!description.as_str().chars().any(text::is_forbidden_in_description));
        }
    }

    /// One invisible character anywhere inside a name makes it 400, never a second name.
    #[test]
    fn an_invisible_character_inside_a_name_is_refused(
        base in "[A-Za-z0-9]{2,40}",
        invisible in proptest::sample::select(INVISIBLE),
        at in any::<proptest::sample::Index>(),
    ) {
        let mut chars: Vec<char> = base.chars().collect();
        let at = 1 + at.index(chars.len() - 1);
        chars.insert(at, invisible);
        let name: String = chars.into_iter().collect();
        prop_assert!(ApplicationName::parse(&name).is_err(), "{:?}", name);
    }

    /// Two names collide exactly when their normal forms are equal; padding, case, full-width
    /// forms and decomposed accents never matter.
    #[test]
    fn names_collide_iff_their_normal_forms_are_equal(
        base in "[\\p{L}\\p{N} ]{1,40}",
        left_pad in "[ \\t\u{3000}]{0,3}",
        right_pad in "[ \\t\u{2028}]{0,3}",
        upper in any::<bool>(),
        wide in any::<bool>(),
        decomposed in any::<bool>(),
    ) {
        if let Ok(name) = ApplicationName::parse(&base) {
            let mut variant = if upper { base.to_uppercase() } else { base.to_lowercase() };
            if wide {
                variant = variant.chars().map(full_width).collect();
            }
            if decomposed {
                variant = NFD.normalize(&variant).into_owned();
            }
            if let Ok(variant) = ApplicationName::parse(&format!("{left_pad}{variant}{right_pad}")) {
                prop_assert_eq!(variant.folded(), name.folded());
            }
        }
    }

    #[test]
    fn every_generated_key_passes_its_own_checks(live in any::<bool>()) {
        let mode = if live { KeyMode::Live } else { KeyMode::Test };
        let key = FullKey::generate(mode);
        prop_assert!(check_format(key.expose_secret(), mode).is_ok());
    }

    /// Any single-character change after the prefix is caught by the checksum.
    #[test]
    fn any_single_character_mutation_fails_the_checksum(position in 8usize..57, replacement in 0usize..62) {
        let key = FullKey::generate(KeyMode::Live).expose_secret().to_owned();
        let mut mutated = key.into_bytes();
        prop_assume!(mutated[position] != BASE62[replacement]);
        mutated[position] = BASE62[replacement];
        let mutated = String::from_utf8(mutated).unwrap();
        prop_assert_eq!(check_format(&mutated, KeyMode::Live), Err(KeyFormatError::BadChecksum));
    }

    /// Request parsing answers every body, of any bytes, without panicking.
    #[test]
    fn request_parsing_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        parse_every_way(body.as_ref());
    }

    /// Also for bodies that are JSON objects, with fields of any JSON type.
    #[test]
    fn json_object_parsing_never_panics(
        name in proptest::option::of(json_value()),
        description in proptest::option::of(json_value()),
        enabled in proptest::option::of(json_value()),
        extra in proptest::option::of(json_value()),
    ) {
        let mut object = serde_json::Map::new();
        for (field, value) in [("name", name), ("description", description), ("isEnabled", enabled), ("extra", extra)] {
            if let Some(value) = value {
                object.insert(field.to_owned(), value);
            }
        }
        let body = serde_json::Value::Object(object).to_string();
        parse_every_way(body.as_ref());
    }
}

/// Every body parser of the API over `raw`.
fn parse_every_way(raw: &[u8]) {
    let now = Timestamp::from_epoch_seconds(1_700_000_000);
    let _ = Body::new(raw).object().map(body::new_application);
    let resources = appkeys::domain::permissions::PaymentResources::default();
    let _ = Body::new(raw)
        .object()
        .map(|f| body::new_api_key(f, now, &resources));
    let _ = Body::new(raw)
        .object()
        .map(|f| body::roll_request(f, &resources));
    let _ = Body::new(raw)
        .object()
        .map(|f| body::key_change(f, &resources));
    let _ = Body::new(raw).object().map(body::status_change);
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "\\PC{0,120}".prop_map(serde_json::Value::from),
        "[ \\t]{0,5}".prop_map(serde_json::Value::from),
        Just(serde_json::json!([1, "a"])),
        Just(serde_json::json!({"nested": true})),
    ]
}

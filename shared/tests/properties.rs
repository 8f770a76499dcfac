//! Properties over generated input: name normalisation, the key format, and request parsing.

use appkeys::api_key::{check_format, FullKey, KeyFormatError, KeyMode};
use appkeys::domain::ApplicationName;
use appkeys::http;
use lambda_http::{Body, Request};
use proptest::prelude::*;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Normalising a name twice changes nothing: what is stored as the name, parsed again, has
    /// the same display form and the same folded form.
    #[test]
    fn name_normalisation_is_idempotent(raw in "\\PC{0,120}") {
        if let Ok(name) = ApplicationName::parse(&raw) {
            let again = ApplicationName::parse(name.as_str()).expect("a normalised name stays valid");
            prop_assert_eq!(again.as_str(), name.as_str());
            prop_assert_eq!(again.folded(), name.folded());
            let folded_again = ApplicationName::parse(name.folded()).map(|n| n.folded().to_owned());
            if let Ok(folded_again) = folded_again {
                prop_assert_eq!(folded_again, name.folded(), "folding is a fixpoint");
            }
        }
    }

    /// Two names collide exactly when their normal forms are equal; padding and case never matter.
    #[test]
    fn names_collide_iff_their_normal_forms_are_equal(
        base in "[\\p{L}\\p{N} ]{1,40}",
        left_pad in "[ \\t]{0,3}",
        right_pad in "[ \\t]{0,3}",
        upper in any::<bool>(),
    ) {
        if let Ok(name) = ApplicationName::parse(&base) {
            let cased = if upper { base.to_uppercase() } else { base.to_lowercase() };
            if let Ok(variant) = ApplicationName::parse(&format!("{left_pad}{cased}{right_pad}")) {
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
        let request = || Request::new(Body::from(body.clone()));
        let _ = http::new_application(&request());
        let _ = http::new_api_key(&request());
        let _ = http::status_change(&request());
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
        let request = || Request::new(Body::from(body.clone()));
        let _ = http::new_application(&request());
        let _ = http::new_api_key(&request());
        let _ = http::status_change(&request());
    }
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

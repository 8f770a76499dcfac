//! User text as the contract fixes it, so that what looks the same is the same:
//! 1. NFKC normalisation ("Ｐｒｏｄ" is "Prod", "e" + combining acute is "é");
//! 2. trimming of leading and trailing white space (Unicode `White_Space`);
//! 3. the character rules: names refuse every character of the categories Cc (controls),
//!    Cf (format: zero-width space, joiners, bidi overrides, the BOM), Zl and Zp (line and
//!    paragraph separators) and every other `Default_Ignorable_Code_Point` (variation selectors,
//!    Hangul fillers, the combining grapheme joiner…), which render as nothing or change the
//!    direction of what follows; descriptions refuse the same except tab and line feed;
//! 4. the length limits, in Unicode scalar values of what is stored (the normalised text);
//! 5. for names, comparison by case folding the normal form ([`fold`]).
//!
//! Both tables (normalisation and properties) come from ICU4X's compiled data, one Unicode
//! version for both, so the rules cannot disagree with each other about a new character.

use std::borrow::Cow;

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};

const NFKC: ComposingNormalizerBorrowed<'static> = ComposingNormalizerBorrowed::new_nfkc();

/// Normalisation Form KC.
pub fn nfkc(text: &str) -> Cow<'_, str> {
    NFKC.normalize(text)
}

/// Refused anywhere in a name: Cc, Cf, Zl, Zp and the other default-ignorable code points.
pub fn is_forbidden_in_name(c: char) -> bool {
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    matches!(
        category,
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

/// Refused anywhere in a description: as in names, but tab and line feed are text there. A
/// carriage return is not: line breaks are `\n`.
pub fn is_forbidden_in_description(c: char) -> bool {
    !matches!(c, '\t' | '\n') && is_forbidden_in_name(c)
}

/// The form names are compared in: the NFKC form, case folded (lower-, upper-, then lower-casing,
/// which approximates Unicode full case folding with the standard library: "Straße", "STRASSE"
/// and "STRAẞE" fold alike), normalised again because case mapping can leave text that is not in
/// NFKC.
pub fn fold(normalised: &str) -> String {
    nfkc(&normalised.to_lowercase().to_uppercase().to_lowercase()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_forms_normalise() {
        assert_eq!(nfkc("Ｐｒｏｄ"), "Prod");
        assert_eq!(nfkc("e\u{301}"), "é");
        assert_eq!(nfkc("ﬁle"), "file");
        assert_eq!(nfkc("①"), "1");
        assert_eq!(nfkc("Prod"), "Prod");
        assert!(matches!(nfkc("already normal"), Cow::Borrowed(_)));
    }

    #[test]
    fn invisible_and_direction_changing_characters_are_forbidden() {
        for c in [
            '\u{0}',
            '\u{7}',
            '\r',
            '\u{85}', // Cc
            '\u{ad}',
            '\u{200b}',
            '\u{200d}',
            '\u{2060}',
            '\u{202e}',
            '\u{2066}',
            '\u{feff}', // Cf
            '\u{2028}', // Zl
            '\u{2029}', // Zp
            '\u{34f}',
            '\u{fe0f}',
            '\u{3164}',
            '\u{115f}',
            '\u{e0100}', // other default-ignorables
        ] {
            assert!(is_forbidden_in_name(c), "{:04X}", c as u32);
            assert!(is_forbidden_in_description(c), "{:04X}", c as u32);
        }
        for c in ['\t', '\n'] {
            assert!(is_forbidden_in_name(c));
            assert!(!is_forbidden_in_description(c));
        }
        for c in [
            'a', 'Z', ' ', '\u{a0}', '\u{3000}', 'é', '日', '😀', '-', '\u{301}',
        ] {
            assert!(!is_forbidden_in_name(c), "{:04X}", c as u32);
        }
    }

    /// What makes the OpenAPI patterns (over the normal form) say the same as the rules: NFKC never
    /// turns an allowed character into a forbidden one, nor a forbidden one into allowed text.
    #[test]
    fn normalisation_never_crosses_the_character_rules() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let normal = nfkc(c.encode_utf8(&mut [0; 4])).into_owned();
            let forbidden_after = normal.chars().any(is_forbidden_in_name);
            assert_eq!(
                is_forbidden_in_name(c),
                forbidden_after,
                "U+{:04X} → {normal:?}",
                c as u32
            );
        }
    }

    #[test]
    fn folding_compares_case_insensitively_and_is_a_fixpoint() {
        assert_eq!(fold("Prod"), fold("PROD"));
        assert_eq!(fold("Straße"), fold("STRASSE"));
        assert_eq!(fold("ẞ"), fold("ß"));
        for s in ["Prod", "İstanbul", "ΣΑΣ", "ǅ", "ﬀ"] {
            assert_eq!(fold(&fold(s)), fold(s), "{s}");
        }
    }
}

//! User text as the contract fixes it, so that what looks the same is the same, and the two kinds
//! of it the API takes ([`ApplicationName`], [`Description`]):
//! 1. NFKC normalisation ("Ｐｒｏｄ" is "Prod", "e" + combining acute is "é");
//! 2. trimming of leading and trailing white space (Unicode `White_Space`);
//! 3. the character rules: names refuse every character of the categories Cc (controls),
//!    Cf (format: zero-width space, joiners, bidi overrides, the BOM), Zl and Zp (line and
//!    paragraph separators) and every other `Default_Ignorable_Code_Point` (variation selectors,
//!    Hangul fillers, the combining grapheme joiner…), which render as nothing or change the
//!    direction of what follows; descriptions refuse the same except tab and line feed. Names
//!    also refuse what still looks blank after NFKC or is not text: white space other than
//!    U+0020 (U+1680), the Braille blank U+2800, the Hangul fillers, and unassigned or
//!    private-use code points, whose rendering nobody can predict;
//! 4. the length limits, in Unicode scalar values of what is stored (the normalised text);
//! 5. for names, comparison by case folding the normal form ([`fold`]).
//!
//! Both tables (normalisation and properties) come from ICU4X's compiled data, one Unicode
//! version for both, so the rules cannot disagree with each other about a new character.

use std::borrow::Cow;

use serde::Serialize;

use super::error::FieldError;
use super::limits::APPLICATION_NAME_MAX;

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory, WhiteSpace};
use icu_properties::{CodePointMapData, CodePointSetData};

const NFKC: ComposingNormalizerBorrowed<'static> = ComposingNormalizerBorrowed::new_nfkc();

/// Normalisation Form KC.
pub fn nfkc(text: &str) -> Cow<'_, str> {
    NFKC.normalize(text)
}

/// Invisible or direction-changing: Cc, Cf, Zl, Zp and the other default-ignorable code points.
pub fn is_invisible(c: char) -> bool {
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    matches!(
        category,
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

/// Renders blank although it is not U+0020, or is not text at all: a name made of it looks like
/// another name, or like none.
pub fn looks_blank_or_is_not_text(c: char) -> bool {
    let category = CodePointMapData::<GeneralCategory>::new().get(c);
    (c != ' ' && CodePointSetData::new::<WhiteSpace>().contains(c))
        || matches!(
            c,
            '\u{2800}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'
        )
        || matches!(
            category,
            GeneralCategory::Unassigned | GeneralCategory::PrivateUse | GeneralCategory::Surrogate
        )
}

/// Refused anywhere in a name, once normalised: the invisible characters and those that look
/// blank or are not text.
pub fn is_forbidden_in_name(c: char) -> bool {
    is_invisible(c) || looks_blank_or_is_not_text(c)
}

/// Refused anywhere in a description: the invisible characters except tab and line feed. A
/// carriage return is not text here either: line breaks are `\n`.
pub fn is_forbidden_in_description(c: char) -> bool {
    !matches!(c, '\t' | '\n') && is_invisible(c)
}

/// The form names are compared in: the NFKC form, case folded (lower-, upper-, then lower-casing,
/// which approximates Unicode full case folding with the standard library: "Straße", "STRASSE"
/// and "STRAẞE" fold alike), normalised again because case mapping can leave text that is not in
/// NFKC.
pub fn fold(normalised: &str) -> String {
    nfkc(&normalised.to_lowercase().to_uppercase().to_lowercase()).into_owned()
}

/// An application name: NFKC-normalised, trimmed, 1..=100 Unicode scalar values, none of them
/// invisible, direction-changing, blank-looking, unassigned or private-use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationName {
    display: String,
    folded: String,
}

impl ApplicationName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let normal = nfkc(raw);
        let display = normal.trim();
        let length = display.chars().count();
        if length == 0 {
            return Err(FieldError::new("name", "must not be blank"));
        }
        if length > APPLICATION_NAME_MAX {
            return Err(FieldError::new(
                "name",
                format!("must be at most {APPLICATION_NAME_MAX} characters (got {length})"),
            ));
        }
        if let Some(c) = display.chars().find(|&c| is_invisible(c)) {
            return Err(FieldError::new(
                "name",
                format!(
                    "must not contain control, format or other invisible characters (found U+{:04X})",
                    c as u32
                ),
            ));
        }
        if let Some(c) = display.chars().find(|&c| looks_blank_or_is_not_text(c)) {
            return Err(FieldError::new(
                "name",
                format!(
                    "must not contain characters that look blank (white space other than a plain space, U+2800) or are unassigned or private-use (found U+{:04X})",
                    c as u32
                ),
            ));
        }
        Ok(Self {
            display: display.to_owned(),
            folded: fold(display),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The form names are compared in: "Prod", " prod ", "PROD" and "Ｐｒｏｄ" are one name.
    pub fn folded(&self) -> &str {
        &self.folded
    }
}

/// A description of 1..=`max` characters: NFKC-normalised and trimmed like a name; tabs and line
/// feeds are allowed (descriptions are free text), other invisible characters are not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Description(String);

impl Description {
    pub fn parse(field: &'static str, raw: &str, max: usize) -> Result<Self, FieldError> {
        let normal = nfkc(raw);
        let value = normal.trim();
        let length = value.chars().count();
        if length == 0 {
            return Err(FieldError::new(field, "must not be blank"));
        }
        if length > max {
            return Err(FieldError::new(
                field,
                format!("must be at most {max} characters (got {length})"),
            ));
        }
        if let Some(c) = value.chars().find(|&c| is_forbidden_in_description(c)) {
            let message = if c == '\r' {
                "must not contain carriage returns: line breaks are \\n (line feed) only".to_owned()
            } else {
                format!(
                    "must not contain control, format or other invisible characters other than tab and line feed (found U+{:04X})",
                    c as u32
                )
            };
            return Err(FieldError::new(field, message));
        }
        Ok(Self(value.to_owned()))
    }

    /// For values read back from the table, which were validated when written.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_folded() {
        let name = ApplicationName::parse("  Production Web Store \t").unwrap();
        assert_eq!(name.as_str(), "Production Web Store");
        assert_eq!(
            ApplicationName::parse("Prod").unwrap().folded(),
            ApplicationName::parse(" prod ").unwrap().folded()
        );
        for same in ["STRASSE", "STRAẞE", "strasse", "Strasse"] {
            assert_eq!(
                ApplicationName::parse("Straße").unwrap().folded(),
                ApplicationName::parse(same).unwrap().folded(),
                "{same}"
            );
        }
        // The capital sharp s and its lower case collide (a proptest finding: "ẞ" vs "ß").
        assert_eq!(
            ApplicationName::parse("ẞ").unwrap().folded(),
            ApplicationName::parse("ß").unwrap().folded()
        );
    }

    #[test]
    fn name_length_counts_characters_not_bytes() {
        assert!(ApplicationName::parse(&"é".repeat(100)).is_ok());
        assert!(ApplicationName::parse(&"é".repeat(101)).is_err());
        assert_eq!(ApplicationName::parse(" a ").unwrap().as_str(), "a");
    }

    #[test]
    fn bad_names_are_rejected() {
        for bad in ["", "   ", "a\u{0007}b", "line\nbreak", "\u{0000}"] {
            assert!(ApplicationName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn descriptions() {
        assert_eq!(Description::parse("d", " x ", 5).unwrap().as_str(), "x");
        assert!(Description::parse("d", "  ", 5).is_err());
        assert!(Description::parse("d", "123456", 5).is_err());
        assert!(Description::parse("d", "a\nb", 5).is_ok());
        assert!(Description::parse("d", "a\u{1b}b", 5).is_err());
        assert!(Description::parse("d", "a\tb", 5).is_ok());
        // Line breaks are line feeds; a carriage return inside is refused, naming itself.
        let crlf = Description::parse("d", "a\r\nb", 5).unwrap_err();
        assert!(crlf.message.contains("carriage return"), "{crlf:?}");
        assert_eq!(
            Description::parse("d", "\r\nab\r\n", 5).unwrap().as_str(),
            "ab"
        );
        for invisible in ["Pay\u{200B}ments", "a\u{2028}b", "a\u{202E}b", "a\u{FE0F}b"] {
            assert!(
                Description::parse("d", invisible, 50).is_err(),
                "{invisible:?}"
            );
        }
        // Normalised before the limit applies: what is stored is what is counted.
        assert_eq!(
            Description::parse("d", "ｆｕｌｌ", 5).unwrap().as_str(),
            "full"
        );
        assert!(
            Description::parse("d", "\u{FDFA}", 17).is_err(),
            "one character, 18 once normalised"
        );
    }

    #[test]
    fn look_alike_names_are_one_name_or_refused() {
        let folded = |s: &str| ApplicationName::parse(s).unwrap().folded().to_owned();
        assert_eq!(folded("Ｐｒｏｄ"), folded("Prod"));
        assert_eq!(ApplicationName::parse("Ｐｒｏｄ").unwrap().as_str(), "Prod");
        assert_eq!(folded("Cafe\u{301}"), folded("CAFÉ"));
        assert_eq!(folded("ﬁnance"), folded("FINANCE"));
        for invisible in [
            "Prod\u{200B}",
            "Pay\u{200B}ments",
            "\u{FEFF}Prod",
            "Prod\u{2060}x",
            "\u{202E}dorP",
            "a\u{2028}b",
            "a\u{3164}b",
            "Prod\u{FE0F}",
        ] {
            let err = ApplicationName::parse(invisible).unwrap_err();
            assert!(err.message.contains("invisible"), "{invisible:?}: {err:?}");
        }
        // White space that trimming removes is not a character of the name.
        assert_eq!(
            ApplicationName::parse("\u{2028}Prod\u{3000}")
                .unwrap()
                .as_str(),
            "Prod"
        );
    }

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
        for c in ['a', 'Z', ' ', 'é', '日', '😀', '-', '\u{301}'] {
            assert!(!is_forbidden_in_name(c), "{:04X}", c as u32);
        }
        // Visible, but not in a name's normal form: NFKC makes them U+0020.
        for c in ['\u{a0}', '\u{3000}'] {
            assert!(!is_invisible(c), "{:04X}", c as u32);
            assert_eq!(nfkc(c.encode_utf8(&mut [0; 4])), " ");
        }
    }

    /// What makes the OpenAPI patterns (over the normal form) say the same as the rules: NFKC never
    /// turns a visible character into an invisible one, nor an invisible one into visible text.
    #[test]
    fn normalisation_never_crosses_the_invisible_rule() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let normal = nfkc(c.encode_utf8(&mut [0; 4])).into_owned();
            let invisible_after = normal.chars().any(is_invisible);
            assert_eq!(
                is_invisible(c),
                invisible_after,
                "U+{:04X} → {normal:?}",
                c as u32
            );
        }
    }

    #[test]
    fn names_that_look_blank_or_hold_no_text_are_refused() {
        for bad in [
            "Prod\u{2800}",
            "\u{2800}",
            "Pay\u{1680}ments",
            "a\u{115F}b",
            "a\u{1160}b",
            "a\u{FFA0}b",
            "Prod\u{E000}",
            "\u{F0000}",
            "Prod\u{0378}",
            "a\u{10FFFF}",
        ] {
            assert!(ApplicationName::parse(bad).is_err(), "{bad:?}");
        }
        let braille = ApplicationName::parse("Prod\u{2800}").unwrap_err();
        assert!(braille.message.contains("U+2800"), "{braille:?}");
        let unassigned = ApplicationName::parse("Prod\u{0378}").unwrap_err();
        assert!(unassigned.message.contains("unassigned"), "{unassigned:?}");
        // Space characters that NFKC turns into U+0020 are one plain space, and trimmed at the ends.
        assert_eq!(
            ApplicationName::parse("Pay\u{3000}ments").unwrap().as_str(),
            "Pay ments"
        );
        assert_eq!(
            ApplicationName::parse("Prod\u{1680}").unwrap().as_str(),
            "Prod"
        );
        // Descriptions are free text: these rules are the names' only.
        assert!(Description::parse("d", "Pay\u{1680}ments \u{2800}", 50).is_ok());
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

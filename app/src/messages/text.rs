//! What a message's text may contain, beyond its length: the checks that stop one message from
//! impersonating another or defacing the page (it is never HTML: the page sets text, so this is
//! not about XSS).
//!
//! - **Bidi controls** (U+202A-U+202E embeddings and overrides, U+2066-U+2069 isolates) are
//!   refused in both fields: an override in an author name reverses how the rest of the line
//!   reads ("Ada" that displays as another name, a date that displays backwards).
//! - **Line and paragraph separators** (U+2028, U+2029) are refused in `author`, which is one
//!   line (control characters, `\n` included, are refused there already).
//! - **More than [`MAX_COMBINING_RUN`] combining marks in a row** are refused ("Zalgo" text whose
//!   marks spill over the neighbouring messages). Real scripts stack few: Vietnamese uses two,
//!   Tibetan and Indic clusters rarely more than three or four.
//! - Everything is normalised to **NFC** first, so that two spellings of the same name (`é` as one
//!   code point or as `e` + U+0301) are stored, compared and counted alike.
//!
//! The page isolates each message's direction as well (`unicode-bidi: isolate` in
//! guestbook.css), so a right-to-left message cannot reorder the text around it.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Combining marks allowed in a row.
pub const MAX_COMBINING_RUN: usize = 4;

/// Why a field's text is refused (the caller names the field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A bidi embedding, override or isolate.
    BidiControl(char),
    /// U+2028 or U+2029 where only one line is allowed.
    LineSeparator(char),
    /// A run of combining marks longer than allowed.
    CombiningRun(usize),
}

impl Refused {
    /// The 422 message for field `name`.
    pub fn describe(&self, name: &str) -> String {
        match self {
            Self::BidiControl(c) => {
                format!("{name} must not contain bidirectional control characters (found U+{:04X})", u32::from(*c))
            }
            Self::LineSeparator(c) => {
                format!("{name} must be one line (found the separator U+{:04X})", u32::from(*c))
            }
            Self::CombiningRun(n) => {
                format!("{name} has {n} combining marks in a row; at most {MAX_COMBINING_RUN} are allowed")
            }
        }
    }
}

/// Whether `c` is one of the bidi formatting controls that can reorder the text around them.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `value` in NFC.
pub fn nfc(value: &str) -> String {
    value.nfc().collect()
}

/// Check `value` (already NFC): `one_line` refuses the line and paragraph separators too.
pub fn check(value: &str, one_line: bool) -> Result<(), Refused> {
    let mut run = 0;
    for (at, c) in value.char_indices() {
        if is_bidi_control(c) {
            return Err(Refused::BidiControl(c));
        }
        if one_line && matches!(c, '\u{2028}' | '\u{2029}') {
            return Err(Refused::LineSeparator(c));
        }
        if is_combining_mark(c) {
            run += 1;
            if run > MAX_COMBINING_RUN {
                // Report the whole run, as the caller sees it.
                let rest = &value[at + c.len_utf8()..];
                let total = run + rest.chars().take_while(|x| is_combining_mark(*x)).count();
                return Err(Refused::CombiningRun(total));
            }
        } else {
            run = 0;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bidi_control_is_refused_and_its_neighbours_are_not() {
        for c in ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}') {
            assert_eq!(check(&format!("Ada{c}x"), false), Err(Refused::BidiControl(c)), "U+{:04X}", u32::from(c));
        }
        // U+2029 (just below) and U+202F (narrow no-break space, just above) are not bidi controls,
        // nor is U+206A; right-to-left TEXT is fine.
        for ok in ["a\u{202F}b", "a\u{206A}b", "שלום", "مرحبا"] {
            assert_eq!(check(ok, false), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn separators_are_refused_only_where_one_line_is_required() {
        for c in ['\u{2028}', '\u{2029}'] {
            assert_eq!(check(&format!("a{c}b"), true), Err(Refused::LineSeparator(c)));
            assert_eq!(check(&format!("a{c}b"), false), Ok(()));
        }
    }

    #[test]
    fn combining_runs_up_to_the_limit_pass_and_longer_ones_are_refused() {
        let marks = |n: usize| format!("a{}b", "\u{0301}".repeat(n));
        assert_eq!(check(&marks(MAX_COMBINING_RUN), false), Ok(()));
        assert_eq!(check(&marks(MAX_COMBINING_RUN + 1), false), Err(Refused::CombiningRun(MAX_COMBINING_RUN + 1)));
        assert_eq!(check(&marks(40), false), Err(Refused::CombiningRun(40)));
        // The run reported is the one refused, not an earlier run of the same mark.
        let later = format!("a\u{0301}b{}c", "\u{0301}".repeat(7));
        assert_eq!(check(&later, false), Err(Refused::CombiningRun(7)));
        // Separate runs are counted separately.
        let two_runs = format!("a{m}b{m}c", m = "\u{0300}".repeat(MAX_COMBINING_RUN));
        assert_eq!(check(&two_runs, false), Ok(()));
        // Vietnamese: two marks on one letter.
        assert_eq!(check(&nfc("Nguye\u{0302}\u{0303}n"), false), Ok(()));
    }

    #[test]
    fn nfc_joins_decomposed_letters() {
        assert_eq!(nfc("e\u{0301}"), "\u{e9}");
        assert_eq!(nfc("\u{e9}"), "\u{e9}");
        assert_eq!(nfc("A\u{030A}ngstro\u{0308}m"), "Ångström");
    }

    #[test]
    fn the_message_names_the_field_and_the_code_point() {
        assert!(Refused::BidiControl('\u{202E}').describe("author").starts_with("author "));
        assert!(Refused::BidiControl('\u{202E}').describe("author").contains("U+202E"));
        assert!(Refused::LineSeparator('\u{2028}').describe("author").contains("U+2028"));
        assert!(Refused::CombiningRun(9).describe("text").starts_with("text has 9"));
    }
}

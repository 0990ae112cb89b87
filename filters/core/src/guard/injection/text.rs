//! The text the injection heuristics read: look-alikes folded to ASCII, case folded,
//! invisible characters dropped and counted.
//!
//! Unlike the span detectors' views ([`crate::guard`]'s `normalize`), nothing here maps
//! back to the original: a verdict is about the whole text, so characters may be removed.

use crate::guard::normalize::fold_width_and_case;

/// Invisible characters found in a text.
#[derive(Debug, Default)]
pub(super) struct Hidden {
    /// Zero-width spaces and joiners inside words, word joiners, invisible operators.
    pub zero_width: usize,
    /// Bidirectional embeddings, overrides and isolates (the "Trojan Source" characters).
    pub bidi: usize,
    /// Unicode tag characters outside emoji flag sequences: invisible ASCII.
    pub tags: usize,
    /// The ASCII those tag characters spell.
    pub tag_text: String,
}

/// Counts the invisible characters of `text`.
pub(super) fn hidden_chars(text: &str) -> Hidden {
    let mut hidden = Hidden::default();
    let mut previous = '\0';
    // Inside a subdivision flag (🏴 followed by tag letters), where tags are legitimate.
    let mut in_flag = false;
    for c in text.chars() {
        match c {
            '\u{E0000}'..='\u{E007F}' => {
                if !in_flag {
                    hidden.tags += 1;
                    if let Some(ascii) = char::from_u32(u32::from(c) - 0xE0000) {
                        hidden.tag_text.push(ascii);
                    }
                }
                if c == '\u{E007F}' {
                    in_flag = false;
                }
            }
            // A joiner between emoji is how emoji sequences are written.
            '\u{200D}' if !previous.is_ascii_alphanumeric() => {}
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{180E}' => {
                hidden.zero_width += 1
            }
            // A byte-order mark is only suspicious past the start.
            '\u{FEFF}' if previous != '\0' => hidden.zero_width += 1,
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => hidden.bidi += 1,
            _ => {}
        }
        if c == '\u{1F3F4}' {
            in_flag = true;
        } else if !('\u{E0000}'..='\u{E007F}').contains(&c) {
            in_flag = false;
        }
        previous = c;
    }
    hidden
}

/// `text` lower-cased, with full-width, mathematical and common Cyrillic and Greek
/// look-alikes read as ASCII and invisible characters (zero-width, bidi controls, tags,
/// soft hyphens) removed.
pub(super) fn normalise(text: &str) -> String {
    text.chars()
        .filter(|c| !is_invisible(*c))
        .map(|c| confusable(fold_width_and_case(fold_math(c))))
        .collect()
}

fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{E0000}'..='\u{E007F}')
}

/// Mathematical alphanumeric symbols (𝐢𝐠𝐧𝐨𝐫𝐞, 𝚒𝚐𝚗𝚘𝚛𝚎, …) as ASCII letters and digits.
fn fold_math(c: char) -> char {
    let code = u32::from(c);
    let ascii = match code {
        // Thirteen styles of A–Z a–z, 52 code points each.
        0x1D400..=0x1D6A3 => {
            let i = (code - 0x1D400) % 52;
            if i < 26 {
                u32::from(b'a') + i
            } else {
                u32::from(b'a') + i - 26
            }
        }
        // Five styles of 0–9.
        0x1D7CE..=0x1D7FF => u32::from(b'0') + (code - 0x1D7CE) % 10,
        _ => return c,
    };
    char::from_u32(ascii).unwrap_or(c)
}

/// Lower-case Cyrillic and Greek letters that look like Latin ones.
fn confusable(c: char) -> char {
    match c {
        'а' | 'α' => 'a',
        'в' | 'β' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ё' | 'ε' => 'e',
        'һ' => 'h',
        'і' | 'ї' | 'ι' | 'ı' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'п' | 'η' => 'n',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'г' => 'r',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' | 'ս' => 'u',
        'ν' | 'ѵ' => 'v',
        'ԝ' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        _ => c,
    }
}

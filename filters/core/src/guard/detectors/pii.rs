//! Built-in detectors of personal data. Patterns only propose candidates; the validators
//! below decide, and document the heuristics that keep ordinary numbers out.

use std::net::Ipv6Addr;
use std::ops::Range;

use super::boundary::{standalone, ID_JOINERS};
use super::Builtin;
use crate::guard::checksums::{iban_length, iban_mod97, luhn};

/// `local@domain.tld`. Reported once `local@d` is visible, so the hold-back does not have to
/// cover a whole domain; the domain is a greedy run that settles when something else follows.
pub(crate) const EMAIL: Builtin = Builtin {
    lead: r"[A-Za-z0-9_%+\-][A-Za-z0-9._%+\-]{0,63}@[A-Za-z0-9]",
    tail: r"[A-Za-z0-9.\-]{0,252}",
    settle: Some(1),
    validate: email,
};

/// Digit groups with optional `+`, parentheses and single `space . -` separators.
pub(crate) const PHONE: Builtin = Builtin {
    lead: r"\+?(?:\([0-9]{1,5}\)|[0-9]{1,5})(?:[ .\-]?(?:\([0-9]{1,5}\)|[0-9]{1,5})){0,6}",
    tail: "",
    settle: None,
    validate: phone,
};

/// 13–19 digits, optionally grouped by spaces or dashes.
pub(crate) const CREDIT_CARD: Builtin = Builtin {
    lead: r"[0-9](?:[ \-]?[0-9]){12,18}",
    tail: "",
    settle: None,
    validate: credit_card,
};

/// `AAA-GG-SSSS` or `AAA GG SSSS`. Nine bare digits are not matched: too many order and
/// account numbers look like that.
pub(crate) const US_SSN: Builtin = Builtin {
    lead: r"[0-9]{3}(?:-[0-9]{2}-|[ ][0-9]{2}[ ])[0-9]{4}",
    tail: "",
    settle: None,
    validate: us_ssn,
};

/// Country code, check digits, then 11–30 letters or digits, optionally in space-separated
/// groups; the validator trims to the country's length.
pub(crate) const IBAN: Builtin = Builtin {
    lead: r"[A-Za-z]{2}[0-9]{2}(?:[ ]?[A-Za-z0-9]){11,30}",
    tail: "",
    settle: None,
    validate: iban,
};

pub(crate) const IPV4: Builtin = Builtin {
    lead: r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}",
    tail: "",
    settle: None,
    validate: ipv4,
};

/// Hex groups and colons (with an optional dotted IPv4 tail); the validator parses it.
pub(crate) const IPV6: Builtin = Builtin {
    lead: r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:]{1,38}(?:\.[0-9]{1,3}){0,3}",
    tail: "",
    settle: None,
    validate: ipv6,
};

/// Trims trailing `.`/`-` after the domain (punctuation) and requires a plausible domain: at
/// least two labels of 1–63 characters without edge hyphens and an alphabetic top-level
/// domain. A local part longer than 64 characters (the match then starts inside a longer run)
/// is not an address.
fn email(hay: &str, raw: Range<usize>) -> Option<usize> {
    let s = hay.get(raw.clone())?;
    let at = s.find('@')?;
    let (local, domain) = (&s[..at], s[at + 1..].trim_end_matches(['.', '-']));
    if local.ends_with('.') || local.contains("..") {
        return None;
    }
    let glued =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || "_%+-".contains(c));
    let mut before = hay.get(..raw.start)?.chars().rev();
    let (prev, prev2) = (before.next(), before.next());
    if glued(prev) || (prev == Some('.') && glued(prev2)) {
        return None;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let tld = labels.last()?;
    let plausible = labels.len() >= 2
        && labels
            .iter()
            .all(|l| (1..=63).contains(&l.len()) && !l.starts_with('-') && !l.ends_with('-'))
        && (2..=24).contains(&tld.len())
        && tld.bytes().all(|b| b.is_ascii_alphabetic());
    plausible.then_some(raw.start + at + 1 + domain.len())
}

/// Phone numbers, told apart from other numbers by their shape:
///
/// - international (`+` first): 8–15 digits (E.164), any grouping, no leading 0 after `+`;
/// - national: 10–12 digits in at least three groups (`415-555-0132`, `(415) 555 0132`,
///   `06 12 34 56 78`), or two groups after a trunk `0` or an area code in parentheses
///   (`07700 900123`); groups after the first have 2–8 digits;
/// - space-only groupings need a leading trunk `0` (`020 7946 0958`), because lists of
///   numbers and years (`2019 2020 2021`) look the same; US-style numbers therefore need
///   dashes, dots or parentheses;
/// - never glued to a longer identifier (`ORD-555-0132`), never a date prefix
///   (`2024-01-15 10`), never a dotted quad (`192.168.100.200`).
fn phone(hay: &str, raw: Range<usize>) -> Option<usize> {
    let s = hay.get(raw.clone())?;
    if !standalone(hay, &raw, ID_JOINERS) {
        return None;
    }
    let mut groups = [0u8; 8];
    let mut count = 0;
    let mut current = 0u8;
    let (mut parens, mut only_dots, mut only_spaces) = (false, true, true);
    // `None` marks the end, which closes the last group.
    for c in s.chars().map(Some).chain([None]) {
        if c.is_some_and(|c| c.is_ascii_digit()) {
            current = current.saturating_add(1);
            continue;
        }
        if current > 0 {
            *groups.get_mut(count)? = current;
            count += 1;
            current = 0;
        }
        if let Some(c) = c {
            parens |= c == '(' || c == ')';
            only_dots &= matches!(c, '.' | '+');
            only_spaces &= matches!(c, ' ' | '+');
        }
    }
    let groups = &groups[..count];
    let digits: usize = groups.iter().map(|&g| usize::from(g)).sum();
    let plausible = if let Some(rest) = s.strip_prefix('+') {
        (8..=15).contains(&digits) && !rest.starts_with('0')
    } else {
        let trunk = s.starts_with('0');
        let dated = groups.starts_with(&[4, 2, 2]) || groups.starts_with(&[2, 2, 4]);
        let dotted_quad = only_dots && count == 4 && groups.iter().all(|&g| g <= 3);
        (10..=12).contains(&digits)
            && groups.iter().skip(1).all(|&g| (2..=8).contains(&g))
            && (count >= 3 || (count == 2 && (trunk || parens)))
            && (!only_spaces || trunk)
            && !dated
            && !dotted_quad
    };
    plausible.then_some(raw.end)
}

/// Luhn-valid; one kind of separator, with every group but the last of 4–6 digits, as cards
/// are printed (4-4-4-4, 4-6-5, 4-4-4-4-3); a first digit of a real card network (2–6:
/// Mastercard, Amex/Diners/JCB, Visa, Mastercard/Maestro, Discover/UnionPay); not one digit
/// repeated (`0000 0000 0000 0000` passes Luhn).
fn credit_card(hay: &str, raw: Range<usize>) -> Option<usize> {
    let s = hay.get(raw.clone())?;
    if !standalone(hay, &raw, ID_JOINERS) {
        return None;
    }
    let digits: Vec<u8> = s
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    let mut separators = s.bytes().filter(|b| !b.is_ascii_digit());
    let consistent = separators
        .next()
        .is_none_or(|first| separators.all(|b| b == first));
    let mut groups: Vec<usize> = s.split([' ', '-']).map(str::len).collect();
    groups.pop();
    let grouped = groups.iter().all(|len| (4..=6).contains(len));
    let first = *digits.first()?;
    let repeated = digits.iter().all(|&d| d == first);
    let valid = consistent && grouped && (2..=6).contains(&first) && !repeated && luhn(&digits);
    valid.then_some(raw.end)
}

/// Area 001–899 except 666, group 01–99, serial 0001–9999 (SSA rules since 2011).
fn us_ssn(hay: &str, raw: Range<usize>) -> Option<usize> {
    let s = hay.get(raw.clone())?;
    if !standalone(hay, &raw, ID_JOINERS) {
        return None;
    }
    let number = |r: Range<usize>| s.get(r)?.parse::<u16>().ok();
    let (area, group, serial) = (number(0..3)?, number(4..6)?, number(7..11)?);
    let valid = area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
    valid.then_some(raw.end)
}

/// Known country, exactly that country's length (the candidate is trimmed to it, spaces
/// allowed between characters), not glued to more letters or digits, and mod-97 valid.
fn iban(hay: &str, raw: Range<usize>) -> Option<usize> {
    let s = hay.get(raw.clone())?;
    let country = s.get(..2)?.to_ascii_uppercase();
    let length = iban_length(&country)?;
    let mut compact = Vec::with_capacity(length);
    let mut end = None;
    for (i, c) in s.char_indices().filter(|(_, c)| *c != ' ') {
        compact.push(c.to_ascii_uppercase() as u8);
        if compact.len() == length {
            end = Some(raw.start + i + c.len_utf8());
            break;
        }
    }
    let span = raw.start..end?;
    (standalone(hay, &span, &[]) && iban_mod97(&compact)).then_some(span.end)
}

/// Four decimal octets up to 255 without leading zeros, not part of a longer dotted run
/// (`1.2.3.4.5`) or identifier. A version written `1.2.3.4` is indistinguishable and matches.
fn ipv4(hay: &str, raw: Range<usize>) -> Option<usize> {
    let s = hay.get(raw.clone())?;
    let octet_ok = |o: &str| o.parse::<u8>().is_ok() && (o == "0" || !o.starts_with('0'));
    (standalone(hay, &raw, &['.', '_']) && s.split('.').all(octet_ok)).then_some(raw.end)
}

/// Parses as an IPv6 address, has at least two colons and four hex digits (so `a::b` and
/// `::1` in code stay untouched), and is not glued to more address characters.
fn ipv6(hay: &str, raw: Range<usize>) -> Option<usize> {
    let s = hay.get(raw.clone())?;
    let colons = s.bytes().filter(|&b| b == b':').count();
    let hex = s.bytes().filter(u8::is_ascii_hexdigit).count();
    let valid = colons >= 2
        && hex >= 4
        && standalone(hay, &raw, &[':', '.', '_', '-'])
        && s.parse::<Ipv6Addr>().is_ok();
    valid.then_some(raw.end)
}

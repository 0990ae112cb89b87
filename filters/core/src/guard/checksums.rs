//! Check digits that tell real identifiers from look-alike numbers.

/// Luhn (mod 10) over digit values 0–9, as printed on payment cards.
#[allow(clippy::manual_is_multiple_of)] // `is_multiple_of` needs Rust 1.87; the MSRV is 1.85.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// ISO 13616 check: the IBAN (upper-case ASCII letters and digits, no spaces) with its first
/// four characters moved to the end and letters read as 10–35 is 1 modulo 97.
pub(crate) fn iban_mod97(iban: &[u8]) -> bool {
    if iban.len() < 5 {
        return false;
    }
    let (head, rest) = iban.split_at(4);
    let mut remainder: u32 = 0;
    for &b in rest.iter().chain(head) {
        let value = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        let scale = if value < 10 { 10 } else { 100 };
        remainder = (remainder * scale + value) % 97;
    }
    remainder == 1
}

/// IBAN length per country (SWIFT IBAN registry), by upper-case country code.
pub(crate) fn iban_length(country: &str) -> Option<usize> {
    let len = match country {
        "NO" => 15,
        "BE" => 16,
        "DK" | "FI" | "FK" | "FO" | "GL" | "NL" | "SD" => 18,
        "MK" | "SI" => 19,
        "AT" | "BA" | "EE" | "KZ" | "LT" | "LU" | "MN" | "XK" => 20,
        "CH" | "HR" | "LI" | "LV" => 21,
        "BG" | "BH" | "CR" | "DE" | "GB" | "GE" | "IE" | "ME" | "RS" | "VA" => 22,
        "AE" | "GI" | "IL" | "IQ" | "OM" | "SO" | "TL" => 23,
        "AD" | "CZ" | "ES" | "MD" | "PK" | "RO" | "SA" | "SE" | "SK" | "TN" | "VG" => 24,
        "LY" | "PT" | "ST" => 25,
        "IS" | "TR" => 26,
        "BI" | "DJ" | "EG" | "FR" | "GR" | "IT" | "MC" | "MR" | "SM" => 27,
        "AL" | "AZ" | "BY" | "CY" | "DO" | "GT" | "HU" | "LB" | "NI" | "PL" | "SV" => 28,
        "BR" | "PS" | "QA" | "UA" => 29,
        "JO" | "KW" | "MU" | "YE" => 30,
        "MT" | "SC" => 31,
        "LC" => 32,
        "RU" => 33,
        _ => return None,
    };
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> Vec<u8> {
        s.bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect()
    }

    #[test]
    fn luhn_accepts_card_test_numbers_and_rejects_one_digit_off() {
        for good in [
            "4111111111111111",
            "5555555555554444",
            "378282246310005",
            "6011111111111117",
        ] {
            assert!(luhn(&digits(good)), "{good}");
        }
        for bad in [
            "4111111111111112",
            "5555555555554445",
            "378282246310006",
            "1234567812345678",
        ] {
            assert!(!luhn(&digits(bad)), "{bad}");
        }
    }

    #[test]
    fn iban_check_accepts_registry_examples_and_rejects_typos() {
        for good in [
            "DE89370400440532013000",
            "GB82WEST12345698765432",
            "NO9386011117947",
            "FR1420041010050500013M02606",
            "MT84MALT011000012345MTLCAST001S",
        ] {
            assert!(iban_mod97(good.as_bytes()), "{good}");
            assert_eq!(iban_length(&good[..2]), Some(good.len()), "{good}");
        }
        for bad in [
            "DE89370400440532013001",
            "GB82WEST12345698765423",
            "DE8937",
            "de89370400440532013000",
        ] {
            assert!(!iban_mod97(bad.as_bytes()), "{bad}");
        }
        assert_eq!(iban_length("US"), None);
    }
}

//! Shared by the guard tests: configurations and sample values. Credentials are assembled at
//! run time so that no credential-shaped literal sits in the source for scanners to flag.

use serde_json::{json, Value};

use super::{Category, CompiledGuardrails, GuardrailsConfig};

pub(crate) fn compile(config: Value) -> CompiledGuardrails {
    let config: GuardrailsConfig = serde_json::from_value(config).expect("valid config");
    CompiledGuardrails::try_from(&config).expect("compiles")
}

/// Every built-in entity, redacted.
pub(crate) fn redact_everything() -> CompiledGuardrails {
    compile(json!({ "guardrails": [{
        "name": "pii",
        "action": "redact",
        "rules": [{ "type": "pii", "entities":
            ["email", "phone", "creditCard", "usSsn", "iban", "ipv4", "ipv6", "secret"] }]
    }]}))
}

/// Deterministic pseudo-random strings (xorshift64).
pub(crate) struct Rng(pub u64);

impl Rng {
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    pub(crate) fn from(&mut self, alphabet: &str, len: usize) -> String {
        let chars: Vec<char> = alphabet.chars().collect();
        (0..len).map(|_| chars[self.below(chars.len())]).collect()
    }

    pub(crate) fn base62(&mut self, len: usize) -> String {
        self.from(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            len,
        )
    }
}

/// One credential per supported provider format, plus a JWT and a PEM private key.
pub(crate) fn secrets() -> Vec<String> {
    let mut rng = Rng(0x5eed);
    let upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let pem_body: Vec<String> = (0..6)
        .map(|_| {
            rng.from(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                64,
            )
        })
        .collect();
    vec![
        format!("sk-{}-{}", "proj", rng.base62(48)),
        format!("sk-{}-api03-{}", "ant", rng.base62(93)),
        format!("{}{}", "AKIA", rng.from(upper, 16)),
        format!("{}_{}", "ghp", rng.base62(36)),
        format!("{}_pat_{}_{}", "github", rng.base62(22), rng.base62(59)),
        format!(
            "{}-{}-{}-{}",
            "xoxb",
            rng.from("0123456789", 12),
            rng.from("0123456789", 13),
            rng.base62(24)
        ),
        format!("{}{}", "AIza", rng.base62(35)),
        format!("sk_{}_{}", "live", rng.base62(24)),
        format!(
            "eyJ{}.eyJ{}.{}",
            rng.base62(33),
            rng.base62(60),
            rng.base62(43)
        ),
        format!(
            "-----BEGIN {kind} PRIVATE KEY-----\n{}\n-----END {kind} PRIVATE KEY-----",
            pem_body.join("\n"),
            kind = "RSA"
        ),
    ]
}

/// Values each built-in PII detector must find, written as people write them.
pub(crate) const PII: &[(Category, &str)] = &[
    (Category::Email, "ann.lee+work@example.co.uk"),
    (Category::Email, "JOHN.DOE@EXAMPLE.COM"),
    (Category::Phone, "+1 (415) 555-0132"),
    (Category::Phone, "+44 20 7946 0958"),
    (Category::Phone, "+14155550132"),
    (Category::Phone, "415-555-0132"),
    (Category::Phone, "(415) 555 0132"),
    (Category::Phone, "020 7946 0958"),
    (Category::Phone, "06 12 34 56 78"),
    (Category::Phone, "07700 900123"),
    (Category::CreditCard, "4111 1111 1111 1111"),
    (Category::CreditCard, "5555-5555-5555-4444"),
    (Category::CreditCard, "378282246310005"),
    (Category::CreditCard, "3782 822463 10005"),
    (Category::UsSsn, "123-45-6789"),
    (Category::UsSsn, "536 22 1234"),
    (Category::Iban, "DE89 3704 0044 0532 0130 00"),
    (Category::Iban, "GB82WEST12345698765432"),
    (Category::Iban, "fr14 2004 1010 0505 0001 3m02 606"),
    (Category::Ipv4, "192.168.1.20"),
    (Category::Ipv6, "2001:db8::8a2e:370:7334"),
    (Category::Ipv6, "fe80::1ff:fe23:4567:890a"),
];

/// Look-alikes each detector must leave alone: failed checksums, impossible values, and the
/// numbers ordinary text is full of.
pub(crate) const LOOK_ALIKES: &[&str] = &[
    "card 4111 1111 1111 1112 fails Luhn",
    "card 0000 0000 0000 0000 is a placeholder",
    "card 1234 5678 9012 3452 passes Luhn but has no network",
    "ssn 000-12-3456, 666-12-3456, 912-34-5678, 123-00-4567, 123-45-0000",
    "iban DE89 3704 0044 0532 0130 01 has a bad check, XX89370400440532013000 no country",
    "ip 256.1.1.1, 1.2.3.4.5, 01.02.03.04, v1.2.3.4",
    "not ipv6: 12:30:45, a::b, ::1, std::io::Result, 00:1A:2B:3C:4D:5E",
    "mail: @example.com, ann@, ann@localhost, ann@x.c0m, ann@-x.com",
    "sk-this-is-a-long-hyphenated-phrase-ok and task-force-planning-2024-review",
    "phone-like: ORD-415-555-0132, #4155550132, 555-0132, 4155550132",
];

/// Ordinary text: dates, versions, prices, order and reference numbers, hashes.
pub(crate) const BENIGN: &[&str] = &[
    "Release v1.2.3 shipped on 2024-01-15 at 10:30:45 UTC.",
    "Order #20240115-001234 totals $1,299.99 (qty 3), ref ORD-2024-555-0132.",
    "Windows 10.0.19045.3693, build 22631, port :8080, ratio 16:9.",
    "Tracking 1Z999AA10123456784; ISBN 978-3-16-148410-0; page 123-456.",
    "Years 2019 2020 2021; scores 100 200 300 400; values 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16.",
    "From 2024-01-15 12:30 to 2024-02-01 08:00; 15.01.2024; 01/15/2024.",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b, uuid 123e4567-e89b-12d3-a456-426614174000",
    "Coordinates 48.8566, 2.3522; temperature -12.5; 3.14159265358979",
    "Invoice INC0012345678 and account 1234567890123456789 and 123456789",
    "Prices: 4111 EUR, 1111.11 USD, 5555 5555 items; phone-ish 12 34 56.",
];

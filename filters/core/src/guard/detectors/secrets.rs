//! Credentials of common providers, JWTs and PEM private keys. All are reported as the one
//! category `secret`.
//!
//! Variable-length tokens are written as a fixed-length lead plus a bounded greedy tail, so a
//! token is reported (and held back in a stream) as soon as its lead is visible, and settles as
//! soon as a character outside its alphabet follows. Provider formats are documented by the
//! providers; lengths are bounded generously above today's formats.

use std::ops::Range;

use super::boundary::standalone;
use super::Builtin;

/// Characters that continue a token; a key glued to more of them is part of something else.
const TOKEN_JOINERS: &[char] = &['-', '_'];

pub(crate) const SECRETS: &[Builtin] = &[
    // Anthropic: sk-ant-api03-…, sk-ant-admin01-…
    Builtin {
        lead: r"sk-ant-[a-z0-9]{2,12}-[A-Za-z0-9_\-]{16}",
        tail: r"[A-Za-z0-9_\-]{0,200}",
        settle: Some(1),
        validate: token,
    },
    // OpenAI: sk-…, sk-proj-…, sk-svcacct-…, sk-admin-…
    Builtin {
        lead: r"sk-[A-Za-z0-9_\-]{20}",
        tail: r"[A-Za-z0-9_\-]{0,236}",
        settle: Some(1),
        validate: openai,
    },
    // AWS access key ids (long-term, temporary, …).
    Builtin {
        lead: r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",
        tail: "",
        settle: None,
        validate: token,
    },
    // GitHub classic tokens (ghp_, gho_, ghu_, ghs_, ghr_) and fine-grained github_pat_.
    Builtin {
        lead: r"gh[pousr]_[A-Za-z0-9]{36}",
        tail: r"[A-Za-z0-9]{0,219}",
        settle: Some(1),
        validate: token,
    },
    Builtin {
        lead: r"github_pat_[A-Za-z0-9_]{22}",
        tail: r"[A-Za-z0-9_]{0,233}",
        settle: Some(1),
        validate: token,
    },
    // Slack bot, user, app and refresh tokens.
    Builtin {
        lead: r"xox[abeoprs]-[A-Za-z0-9\-]{10}",
        tail: r"[A-Za-z0-9\-]{0,240}",
        settle: Some(1),
        validate: slack,
    },
    // Google API keys.
    Builtin {
        lead: r"AIza[A-Za-z0-9_\-]{35}",
        tail: "",
        settle: None,
        validate: token,
    },
    // Stripe secret and restricted keys, live and test.
    Builtin {
        lead: r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16}",
        tail: r"[A-Za-z0-9]{0,231}",
        settle: Some(1),
        validate: token,
    },
    // JWT: base64url JSON header (`eyJ` is `{"`), payload, signature. Settles once four
    // characters follow, enough to rule out a `.eyJ` continuing it.
    Builtin {
        lead: r"eyJ[A-Za-z0-9_\-]{8}",
        tail: r"[A-Za-z0-9_\-]{0,1024}(?:\.eyJ[A-Za-z0-9_\-]{0,8192}(?:\.[A-Za-z0-9_\-]{0,2048})?)?",
        settle: Some(4),
        validate: jwt,
    },
    // PEM private key blocks, from the header through the END line (or as far as base64
    // runs, for a truncated key). Keys with a body over 8 KiB are only partly covered.
    // Settles once the longest END line could have been seen.
    Builtin {
        lead: r"-----BEGIN[ A-Z0-9]{1,24}PRIVATE KEY(?: BLOCK)?-----",
        tail: r"(?:[A-Za-z0-9+/=,.\r\n]|-[A-Za-z0-9]|: ){0,8192}(?:-----END[ A-Z0-9]{1,24}PRIVATE KEY(?: BLOCK)?-----)?",
        settle: Some(56),
        validate: |_, raw| Some(raw.end),
    },
];

fn token(hay: &str, raw: Range<usize>) -> Option<usize> {
    standalone(hay, &raw, TOKEN_JOINERS).then_some(raw.end)
}

/// Leaves Anthropic keys to their own detector and requires the mix of digits, upper and
/// lower case that random keys have, so prose like `sk-this-is-a-long-phrase` passes.
fn openai(hay: &str, raw: Range<usize>) -> Option<usize> {
    let body = hay.get(raw.clone())?.get(3..)?;
    let random = body.bytes().any(|b| b.is_ascii_digit())
        && body.bytes().any(|b| b.is_ascii_uppercase())
        && body.bytes().any(|b| b.is_ascii_lowercase());
    (!body.starts_with("ant-") && random)
        .then(|| token(hay, raw))
        .flatten()
}

fn slack(hay: &str, raw: Range<usize>) -> Option<usize> {
    let digits = hay.get(raw.clone())?.bytes().any(|b| b.is_ascii_digit());
    digits.then(|| token(hay, raw)).flatten()
}

/// Header, payload and signature (which may be empty, as with `alg: none`).
fn jwt(hay: &str, raw: Range<usize>) -> Option<usize> {
    let segments = hay.get(raw.clone())?.split('.').count();
    (segments == 3 && standalone(hay, &raw, &['-', '_', '.'])).then_some(raw.end)
}

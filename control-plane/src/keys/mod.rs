//! Virtual keys: generation and hashing, and the lifecycle of keys managed at runtime.
//! A plaintext key exists only on its way to the operator (the terminal, or an API
//! answer once); configuration and storage hold its SHA-256.
//!
//! - [`lifecycle`]: pure transitions of a stored key (create, update, rotate, revoke).
//! - [`store`]: the backend-neutral [`store::KeyStore`], in SQLite ([`store_sqlite`]) or
//!   PostgreSQL ([`store_postgres`]).
//! - [`registry`]: transitions with storage, audit and change notification.
//! - [`effective`]: config-file keys + stored keys → the filter's key table.
//! - [`api`]: the admin REST API; [`client`]: the CLI's side of it.

pub mod api;
pub mod client;
pub mod effective;
pub mod lifecycle;
pub mod registry;
pub mod store;
pub mod store_postgres;
pub mod store_sqlite;

pub use effective::{effective_keys, EffectiveKeys};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::TryRngCore;

/// Marks Tollgate keys, so a leaked one is recognisable (and the validator can spot a
/// plaintext pasted where a hash belongs).
pub const PREFIX: &str = "tg-";
/// 256 bits from the OS generator.
const RANDOM_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the operating system's random number generator failed: {0}")]
    Rng(#[from] rand::rand_core::OsError),
    #[error("no key on standard input")]
    Empty,
    #[error("key id {0:?} is not valid: use letters, digits, '-' and '_'")]
    Id(String),
    #[error("model alias {0:?} is not valid: use printable characters without spaces")]
    Alias(String),
}

/// A fresh key: `tg-` followed by 32 random bytes in unpadded base64url.
pub fn generate() -> Result<String, KeyError> {
    let mut bytes = [0u8; RANDOM_BYTES];
    OsRng.try_fill_bytes(&mut bytes)?;
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The key in `input` (standard input): one line, its line ending removed.
pub fn plaintext(input: &str) -> Result<&str, KeyError> {
    let key = input.strip_suffix('\n').unwrap_or(input);
    let key = key.strip_suffix('\r').unwrap_or(key);
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(key)
}

/// What to add under `keys:` for a key.
pub struct Entry<'a> {
    pub id: &'a str,
    pub sha256: &'a str,
    pub models: &'a [String],
    pub team: Option<&'a str>,
}

impl Entry<'_> {
    /// Checks the entry with the config file's rules, before a key is handed out for it.
    pub fn check(&self) -> Result<(), KeyError> {
        if !crate::config::is_identifier(self.id) {
            return Err(KeyError::Id(self.id.to_string()));
        }
        match self.models.iter().find(|m| !crate::config::is_token(m)) {
            Some(bad) => Err(KeyError::Alias(bad.clone())),
            None => Ok(()),
        }
    }

    /// The YAML list item. Values are JSON-quoted, which YAML reads as double-quoted
    /// scalars, so no value can change the snippet's structure.
    pub fn yaml(&self) -> String {
        let quote = |s: &str| serde_json::Value::from(s).to_string();
        let models: Vec<String> = self.models.iter().map(|m| quote(m)).collect();
        let mut yaml = format!(
            "  - id: {}\n    sha256: {}\n    models: [{}]\n",
            quote(self.id),
            self.sha256,
            models.join(", ")
        );
        if let Some(team) = self.team {
            yaml.push_str(&format!("    team: {}\n", quote(team)));
        }
        yaml
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load;

    #[test]
    fn generated_keys_are_prefixed_random_and_distinct() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert!(a.starts_with(PREFIX));
        assert_eq!(a.len(), PREFIX.len() + 43);
        assert!(a[PREFIX.len()..]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
    }

    #[test]
    fn plaintext_strips_one_line_ending() {
        assert_eq!(plaintext("tg-x\n").unwrap(), "tg-x");
        assert_eq!(plaintext("tg-x\r\n").unwrap(), "tg-x");
        assert_eq!(plaintext("tg-x").unwrap(), "tg-x");
        assert!(matches!(plaintext("\n"), Err(KeyError::Empty)));
    }

    #[test]
    fn snippet_is_a_valid_key_entry() {
        let models = ["gpt".to_string(), "*".to_string()];
        let entry = Entry {
            id: "ci",
            sha256: &tollgate_core::keys::hash_hex("tg-x"),
            models: &models,
            team: Some("data: science"),
        };
        entry.check().unwrap();
        let text = format!(
            "version: 1\nproviders: [{{name: p, kind: openai, base_url: 'http://h'}}]\n\
             models: [{{alias: gpt, provider: p, model: m}}]\nkeys:\n{}",
            entry.yaml()
        );
        let key = &load(&text, None).unwrap().config.keys[0];
        assert_eq!(key.id, "ci");
        assert_eq!(key.models, models);
        assert_eq!(key.team.as_deref(), Some("data: science"));
    }

    #[test]
    fn rejects_bad_ids_and_aliases() {
        let models = ["has space".to_string()];
        let entry = |id| Entry {
            id,
            sha256: "",
            models: &models,
            team: None,
        };
        assert!(matches!(entry("a b").check(), Err(KeyError::Id(_))));
        assert!(matches!(entry("ok").check(), Err(KeyError::Alias(_))));
    }
}

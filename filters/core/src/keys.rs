//! Virtual keys: verification against stored SHA-256 hashes.
//!
//! Only hashes are ever configured. A presented key is hashed once and compared with
//! the candidates in constant time; candidates are bucketed by the first 8 bytes of
//! their digest so lookup cost does not grow with the number of keys.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::VirtualKeyConfig;

/// A configured key was malformed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("sha256 must be 64 lower-case hex digits")]
    BadHash,
    #[error("the key id is used twice")]
    DuplicateId,
    #[error("the same key hash is configured twice")]
    DuplicateHash,
}

/// SHA-256 digest of a key's plaintext.
pub type KeyDigest = [u8; 32];

/// Hashes a plaintext key the way the configuration stores it.
pub fn digest(plaintext: &str) -> KeyDigest {
    Sha256::digest(plaintext.as_bytes()).into()
}

/// Lower-case hex SHA-256 of a plaintext key, as written in configuration files.
pub fn hash_hex(plaintext: &str) -> String {
    to_hex(&digest(plaintext))
}

/// Lower-case hex of any bytes (digests, random ids).
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// Parses 64 lower-case hex digits.
pub fn parse_hex_digest(hex: &str) -> Result<KeyDigest, KeyError> {
    fn nibble(c: u8) -> Result<u8, KeyError> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(KeyError::BadHash),
        }
    }
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return Err(KeyError::BadHash);
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Ok(out)
}

/// A key ready for lookups.
#[derive(Debug)]
pub struct VirtualKey {
    pub config: VirtualKeyConfig,
}

impl VirtualKey {
    /// Whether this key may use the given model alias.
    pub fn allows_model(&self, alias: &str) -> bool {
        self.config.models.iter().any(|m| m == "*" || m == alias)
    }
}

/// Why a presented key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No configured key has this secret.
    Unknown,
    /// The key (or this secret of it, after a rotation) has expired.
    Expired,
}

/// One accepted secret: a key's current one or a rotated-out one in its grace period.
#[derive(Debug)]
struct Secret {
    digest: KeyDigest,
    key: usize,
    /// The earlier of the key's expiry and the secret's own.
    expires_unix_ms: Option<u64>,
}

/// All configured keys, indexed for verification.
#[derive(Debug, Default)]
pub struct KeyTable {
    keys: Vec<VirtualKey>,
    secrets: Vec<Secret>,
    by_prefix: HashMap<u64, Vec<usize>>,
    by_id: HashMap<String, usize>,
}

fn prefix(d: &KeyDigest) -> u64 {
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

fn earlier(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl KeyTable {
    pub fn new(configs: Vec<VirtualKeyConfig>) -> Result<Self, crate::config::ConfigError> {
        let mut table = KeyTable::default();
        for config in configs {
            let err = |source| crate::config::ConfigError::Key {
                id: config.id.clone(),
                source,
            };
            if table.by_id.contains_key(&config.id) {
                return Err(err(KeyError::DuplicateId));
            }
            let index = table.keys.len();
            let current = (config.sha256.as_str(), config.expires_unix_ms);
            let previous = config.previous_secrets.iter().map(|p| {
                let expiry = earlier(config.expires_unix_ms, Some(p.expires_unix_ms));
                (p.sha256.as_str(), expiry)
            });
            for (hex, expires_unix_ms) in std::iter::once(current).chain(previous) {
                let digest = parse_hex_digest(hex).map_err(err)?;
                table
                    .add_secret(digest, index, expires_unix_ms)
                    .map_err(err)?;
            }
            table.by_id.insert(config.id.clone(), index);
            table.keys.push(VirtualKey { config });
        }
        Ok(table)
    }

    fn add_secret(
        &mut self,
        digest: KeyDigest,
        key: usize,
        expires_unix_ms: Option<u64>,
    ) -> Result<(), KeyError> {
        if self.find(&digest).is_some() {
            return Err(KeyError::DuplicateHash);
        }
        self.by_prefix
            .entry(prefix(&digest))
            .or_default()
            .push(self.secrets.len());
        self.secrets.push(Secret {
            digest,
            key,
            expires_unix_ms,
        });
        Ok(())
    }

    /// The key whose hash matches the presented plaintext, if it has not expired by
    /// `now_unix_ms`.
    pub fn verify(&self, presented: &str, now_unix_ms: u64) -> Result<&VirtualKey, Refusal> {
        let secret = self.find(&digest(presented)).ok_or(Refusal::Unknown)?;
        match secret.expires_unix_ms {
            Some(expiry) if now_unix_ms >= expiry => Err(Refusal::Expired),
            _ => Ok(&self.keys[secret.key]),
        }
    }

    /// A key by its non-secret id.
    pub fn by_id(&self, id: &str) -> Option<&VirtualKey> {
        self.by_id.get(id).map(|&i| &self.keys[i])
    }

    fn find(&self, digest: &KeyDigest) -> Option<&Secret> {
        let candidates = self.by_prefix.get(&prefix(digest))?;
        candidates
            .iter()
            .map(|&i| &self.secrets[i])
            .find(|s| bool::from(s.digest.ct_eq(digest)))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Extracts the presented key from `Authorization: Bearer …` or `x-api-key`.
pub fn presented_key<'a>(
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
) -> Option<&'a str> {
    let bearer = authorization.and_then(|v| {
        let (scheme, rest) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    bearer
        .or(x_api_key.map(str::trim))
        .filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PreviousSecret;

    fn key(id: &str, plaintext: &str, models: &[&str]) -> VirtualKeyConfig {
        VirtualKeyConfig {
            id: id.into(),
            sha256: hash_hex(plaintext),
            models: models.iter().map(|m| m.to_string()).collect(),
            team: None,
            owner: None,
            metadata: Default::default(),
            rate_limits: None,
            expires_unix_ms: None,
            previous_secrets: vec![],
            payload_capture: None,
        }
    }

    const NOW: u64 = 1_000_000;

    #[test]
    fn hash_matches_known_vector() {
        // SHA-256("abc") from FIPS 180-2.
        assert_eq!(
            hash_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn verifies_known_keys_only() {
        let table = KeyTable::new(vec![
            key("a", "tg-alpha", &["*"]),
            key("b", "tg-beta", &["m"]),
        ])
        .unwrap();
        assert_eq!(table.verify("tg-alpha", NOW).unwrap().config.id, "a");
        assert_eq!(table.verify("tg-beta", NOW).unwrap().config.id, "b");
        assert_eq!(table.verify("tg-gamma", NOW).unwrap_err(), Refusal::Unknown);
        assert_eq!(table.verify("", NOW).unwrap_err(), Refusal::Unknown);
        assert_eq!(table.by_id("b").unwrap().config.id, "b");
        assert!(table.by_id("c").is_none());
    }

    #[test]
    fn model_scope() {
        let table = KeyTable::new(vec![key("a", "x", &["*"]), key("b", "y", &["m1"])]).unwrap();
        assert!(table.verify("x", NOW).unwrap().allows_model("anything"));
        let b = table.verify("y", NOW).unwrap();
        assert!(b.allows_model("m1"));
        assert!(!b.allows_model("m2"));
    }

    #[test]
    fn rejects_bad_and_duplicate_hashes() {
        let mut bad = key("a", "x", &[]);
        bad.sha256 = "ABC".into();
        assert!(KeyTable::new(vec![bad]).is_err());
        let mut upper = key("a", "x", &[]);
        upper.sha256 = upper.sha256.to_uppercase();
        assert!(KeyTable::new(vec![upper]).is_err());
        assert!(KeyTable::new(vec![key("a", "x", &[]), key("b", "x", &[])]).is_err());
        assert!(KeyTable::new(vec![key("a", "x", &[]), key("a", "y", &[])]).is_err());
    }

    #[test]
    fn an_expired_key_is_refused_from_its_expiry_on() {
        let mut expiring = key("a", "tg-a", &["*"]);
        expiring.expires_unix_ms = Some(NOW);
        let table = KeyTable::new(vec![expiring]).unwrap();
        assert_eq!(table.verify("tg-a", NOW - 1).unwrap().config.id, "a");
        assert_eq!(table.verify("tg-a", NOW).unwrap_err(), Refusal::Expired);
        assert_eq!(table.verify("tg-a", NOW + 1).unwrap_err(), Refusal::Expired);
    }

    #[test]
    fn a_rotated_out_secret_works_as_its_key_until_its_grace_ends() {
        let mut rotated = key("a", "tg-new", &["*"]);
        rotated.previous_secrets = vec![PreviousSecret {
            sha256: hash_hex("tg-old"),
            expires_unix_ms: NOW,
        }];
        let table = KeyTable::new(vec![rotated.clone()]).unwrap();
        assert_eq!(table.verify("tg-old", NOW - 1).unwrap().config.id, "a");
        assert_eq!(table.verify("tg-old", NOW).unwrap_err(), Refusal::Expired);
        assert_eq!(table.verify("tg-new", NOW + 1).unwrap().config.id, "a");
        // The key's own expiry ends a longer grace too.
        rotated.expires_unix_ms = Some(NOW - 10);
        let table = KeyTable::new(vec![rotated]).unwrap();
        assert_eq!(
            table.verify("tg-old", NOW - 5).unwrap_err(),
            Refusal::Expired
        );
    }

    #[test]
    fn a_previous_secret_may_not_be_another_keys_secret() {
        let mut rotated = key("a", "tg-new", &["*"]);
        rotated.previous_secrets = vec![PreviousSecret {
            sha256: hash_hex("tg-b"),
            expires_unix_ms: NOW,
        }];
        assert!(KeyTable::new(vec![key("b", "tg-b", &["*"]), rotated]).is_err());
    }

    #[test]
    fn presented_key_sources() {
        assert_eq!(presented_key(Some("Bearer tg-1"), None), Some("tg-1"));
        assert_eq!(presented_key(Some("bearer  tg-1 "), None), Some("tg-1"));
        assert_eq!(presented_key(None, Some("tg-2")), Some("tg-2"));
        assert_eq!(presented_key(Some("Basic abc"), Some("tg-2")), Some("tg-2"));
        assert_eq!(presented_key(Some("Bearer "), None), None);
        assert_eq!(presented_key(None, None), None);
    }
}

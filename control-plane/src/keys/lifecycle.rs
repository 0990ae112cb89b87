//! A stored key's lifecycle as pure transitions: create, update scope or expiry, rotate,
//! revoke. Each takes the key as it is plus the time, and returns the key as it becomes;
//! storage, audit and change notification happen around them (see [`super::registry`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tollgate_core::config::PreviousSecret;
use tollgate_core::ratelimit::{KeyRateLimits, MAX_PER_MINUTE};

use crate::config::{is_identifier, is_label, is_token};

/// What a key may do and whom it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyScope {
    /// Model aliases the key may use; `*` for all.
    pub models: Vec<String>,
    /// Providers the key's requests may reach; empty for any. An alias that can reach
    /// another provider (a fallback, a pool) is then out of scope.
    pub providers: Vec<String>,
    pub team: Option<String>,
    /// The agent (or person) the key is issued to.
    pub agent: Option<String>,
    pub rate_limits: Option<KeyRateLimits>,
    pub metadata: BTreeMap<String, String>,
}

/// A key as stored: its scope, its secret's hash (never the secret) and its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    pub id: String,
    /// Lower-case hex SHA-256 of the current secret.
    pub sha256: String,
    pub scope: KeyScope,
    pub created_unix_ms: u64,
    pub updated_unix_ms: u64,
    pub expires_unix_ms: Option<u64>,
    pub revoked_unix_ms: Option<u64>,
    /// Secrets replaced by rotations whose grace period has not ended at the last change.
    pub previous_secrets: Vec<PreviousSecret>,
    /// Incremented by every change, so concurrent writers (several control planes on one
    /// database) detect that they raced instead of overwriting each other.
    pub version: u64,
}

/// Where a key stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Expired,
    Revoked,
}

/// A change that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("key id {0:?} is not valid: use letters, digits, '-' and '_'")]
    Id(String),
    #[error("model alias {0:?} is not valid: use printable characters without spaces")]
    Alias(String),
    #[error("a key needs at least one model alias (or \"*\")")]
    NoModels,
    #[error("provider name {0:?} is not valid: use letters, digits, '-' and '_'")]
    Provider(String),
    #[error("{field} must be printable text")]
    Label { field: &'static str },
    #[error("rate_limits.{0} must be 1 to {MAX_PER_MINUTE}")]
    RateLimit(&'static str),
    #[error("the expiry lies in the past")]
    ExpiryInPast,
    #[error("key {0:?} is revoked; a revoked key cannot change")]
    Revoked(String),
    #[error("key {0:?} has expired; set a later expiry before rotating it")]
    Expired(String),
}

/// Fields of a new key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewKey {
    pub id: String,
    pub scope: KeyScope,
    pub expires_unix_ms: Option<u64>,
}

/// A change of scope or expiry; `None` leaves the field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPatch {
    pub models: Option<Vec<String>>,
    pub providers: Option<Vec<String>>,
    pub team: Option<Option<String>>,
    pub agent: Option<Option<String>>,
    pub rate_limits: Option<Option<KeyRateLimits>>,
    pub metadata: Option<BTreeMap<String, String>>,
    /// `Some(None)` removes the expiry.
    pub expires_unix_ms: Option<Option<u64>>,
}

impl StoredKey {
    pub fn status(&self, now_unix_ms: u64) -> Status {
        if self.revoked_unix_ms.is_some() {
            Status::Revoked
        } else if self.expires_unix_ms.is_some_and(|at| now_unix_ms >= at) {
            Status::Expired
        } else {
            Status::Active
        }
    }

    /// The rotated-out secrets still in their grace period at `now_unix_ms`.
    pub fn live_previous_secrets(&self, now_unix_ms: u64) -> Vec<PreviousSecret> {
        self.previous_secrets
            .iter()
            .filter(|p| p.expires_unix_ms > now_unix_ms)
            .cloned()
            .collect()
    }

    fn changed(&self, now_unix_ms: u64) -> StoredKey {
        StoredKey {
            updated_unix_ms: now_unix_ms,
            version: self.version + 1,
            previous_secrets: self.live_previous_secrets(now_unix_ms),
            ..self.clone()
        }
    }

    fn ensure_not_revoked(&self) -> Result<(), LifecycleError> {
        match self.revoked_unix_ms {
            Some(_) => Err(LifecycleError::Revoked(self.id.clone())),
            None => Ok(()),
        }
    }
}

fn check_scope(scope: &KeyScope) -> Result<(), LifecycleError> {
    if scope.models.is_empty() {
        return Err(LifecycleError::NoModels);
    }
    if let Some(bad) = scope.models.iter().find(|m| !is_token(m)) {
        return Err(LifecycleError::Alias(bad.clone()));
    }
    if let Some(bad) = scope.providers.iter().find(|p| !is_identifier(p)) {
        return Err(LifecycleError::Provider(bad.clone()));
    }
    let labels = [("team", &scope.team), ("agent", &scope.agent)];
    for (field, value) in labels {
        if value.as_deref().is_some_and(|v| !is_label(v)) {
            return Err(LifecycleError::Label { field });
        }
    }
    if let Some(limits) = &scope.rate_limits {
        let agent = limits.per_agent.unwrap_or_default();
        let all = [
            ("requests_per_minute", limits.requests_per_minute),
            ("tokens_per_minute", limits.tokens_per_minute),
            ("per_agent.requests_per_minute", agent.requests_per_minute),
            ("per_agent.tokens_per_minute", agent.tokens_per_minute),
        ];
        let out_of_range = |v: &Option<u64>| v.is_some_and(|v| v == 0 || v > MAX_PER_MINUTE);
        if let Some((field, _)) = all.iter().find(|(_, v)| out_of_range(v)) {
            return Err(LifecycleError::RateLimit(field));
        }
    }
    let metadata = scope.metadata.iter();
    if metadata.flat_map(|(k, v)| [k, v]).any(|s| !is_label(s)) {
        return Err(LifecycleError::Label { field: "metadata" });
    }
    Ok(())
}

fn check_expiry(expires_unix_ms: Option<u64>, now_unix_ms: u64) -> Result<(), LifecycleError> {
    match expires_unix_ms {
        Some(at) if at <= now_unix_ms => Err(LifecycleError::ExpiryInPast),
        _ => Ok(()),
    }
}

/// A new key with the secret whose hash is `sha256`.
pub fn create(new: NewKey, sha256: String, now_unix_ms: u64) -> Result<StoredKey, LifecycleError> {
    if !is_identifier(&new.id) {
        return Err(LifecycleError::Id(new.id));
    }
    check_scope(&new.scope)?;
    check_expiry(new.expires_unix_ms, now_unix_ms)?;
    Ok(StoredKey {
        id: new.id,
        sha256,
        scope: new.scope,
        created_unix_ms: now_unix_ms,
        updated_unix_ms: now_unix_ms,
        expires_unix_ms: new.expires_unix_ms,
        revoked_unix_ms: None,
        previous_secrets: Vec::new(),
        version: 1,
    })
}

/// The key with `patch` applied. An expired key may get a later expiry (or none) and so
/// work again; a revoked one never changes.
pub fn update(
    key: &StoredKey,
    patch: KeyPatch,
    now_unix_ms: u64,
) -> Result<StoredKey, LifecycleError> {
    key.ensure_not_revoked()?;
    let mut next = key.changed(now_unix_ms);
    let scope = &mut next.scope;
    let KeyPatch {
        models,
        providers,
        team,
        agent,
        rate_limits,
        metadata,
        expires_unix_ms,
    } = patch;
    if let Some(models) = models {
        scope.models = models;
    }
    if let Some(providers) = providers {
        scope.providers = providers;
    }
    if let Some(team) = team {
        scope.team = team;
    }
    if let Some(agent) = agent {
        scope.agent = agent;
    }
    if let Some(rate_limits) = rate_limits {
        scope.rate_limits = rate_limits;
    }
    if let Some(metadata) = metadata {
        scope.metadata = metadata;
    }
    check_scope(&next.scope)?;
    if let Some(expires_unix_ms) = expires_unix_ms {
        check_expiry(expires_unix_ms, now_unix_ms)?;
        next.expires_unix_ms = expires_unix_ms;
    }
    Ok(next)
}

/// The key with a new secret (hash `sha256`). The old secret keeps working for `grace_ms`
/// (not at all when zero); earlier rotated-out secrets keep their own grace.
pub fn rotate(
    key: &StoredKey,
    sha256: String,
    grace_ms: u64,
    now_unix_ms: u64,
) -> Result<StoredKey, LifecycleError> {
    key.ensure_not_revoked()?;
    if key.status(now_unix_ms) == Status::Expired {
        return Err(LifecycleError::Expired(key.id.clone()));
    }
    let mut next = key.changed(now_unix_ms);
    if grace_ms > 0 {
        next.previous_secrets.push(PreviousSecret {
            sha256: key.sha256.clone(),
            expires_unix_ms: now_unix_ms.saturating_add(grace_ms),
        });
    }
    next.sha256 = sha256;
    Ok(next)
}

/// The key revoked: refused from the next configuration push on, with every secret.
pub fn revoke(key: &StoredKey, now_unix_ms: u64) -> Result<StoredKey, LifecycleError> {
    key.ensure_not_revoked()?;
    let mut next = key.changed(now_unix_ms);
    next.revoked_unix_ms = Some(now_unix_ms);
    next.previous_secrets.clear();
    Ok(next)
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;

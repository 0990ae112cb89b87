//! The key lifecycle with its side effects: every change is computed by a pure transition
//! ([`super::lifecycle`]), stored, audited, and announced on a revision channel that the
//! configuration publisher watches.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use tokio::sync::watch;

use super::lifecycle::{self, KeyPatch, LifecycleError, NewKey, StoredKey};
use super::store::{KeyStore, KeyStoreError};
use super::{generate, KeyError};
use crate::audit::{AuditError, AuditEvent, AuditSink};

/// Milliseconds since the Unix epoch; injectable so tests control expiry.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Why a lifecycle request failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    #[error("key id {0:?} belongs to a key of the configuration file")]
    ConfigKey(String),
    #[error(transparent)]
    Store(#[from] KeyStoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Secret(#[from] KeyError),
}

/// A key and the plaintext of its new secret, shown to the caller this once.
pub struct Issued {
    pub key: StoredKey,
    pub secret: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("key", &self.key)
            .field("secret", &"<redacted>")
            .finish()
    }
}

pub struct KeyRegistry {
    store: Mutex<Box<dyn KeyStore>>,
    audit: Arc<dyn AuditSink>,
    /// Ids of the config file's keys, which stored keys may not take.
    config_ids: BTreeSet<String>,
    revision: watch::Sender<u64>,
    clock: Clock,
}

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
    })
}

impl KeyRegistry {
    pub fn new(
        store: Box<dyn KeyStore>,
        audit: Arc<dyn AuditSink>,
        config_ids: impl IntoIterator<Item = String>,
        clock: Clock,
    ) -> Self {
        KeyRegistry {
            store: Mutex::new(store),
            audit,
            config_ids: config_ids.into_iter().collect(),
            revision: watch::Sender::new(0),
            clock,
        }
    }

    /// A receiver whose value (a revision number) changes after every stored change of a
    /// key: the signal to recompute [`super::effective_keys`] and push it. Expiry needs no
    /// signal: the filter checks it on every request.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.revision.subscribe()
    }

    pub fn now(&self) -> u64 {
        (self.clock)()
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Box<dyn KeyStore>> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every stored key (revoked and expired ones too).
    pub fn list(&self) -> Result<Vec<StoredKey>, RegistryError> {
        Ok(self.store().list()?)
    }

    pub fn get(&self, id: &str) -> Result<StoredKey, RegistryError> {
        let found = self.store().get(id)?;
        found.ok_or_else(|| KeyStoreError::NotFound(id.to_string()).into())
    }

    /// Creates a key with a fresh secret; an empty id gets a generated one.
    pub fn create(&self, actor: &str, mut new: NewKey) -> Result<Issued, RegistryError> {
        if new.id.is_empty() {
            new.id = generated_id()?;
        }
        if self.config_ids.contains(&new.id) {
            return Err(RegistryError::ConfigKey(new.id));
        }
        let secret = generate()?;
        let sha256 = tollgate_core::keys::hash_hex(&secret);
        let key = lifecycle::create(new, sha256, self.now())?;
        let mut store = self.store();
        store.insert(&key)?;
        let event = event(actor, "key.create", &key.id, describe(&key));
        if let Err(e) = self.audit.record(event) {
            // Unaudited changes are not kept.
            store.remove(&key.id)?;
            return Err(e.into());
        }
        drop(store);
        self.changed();
        Ok(Issued { key, secret })
    }

    pub fn update(
        &self,
        actor: &str,
        id: &str,
        patch: KeyPatch,
    ) -> Result<StoredKey, RegistryError> {
        self.change(actor, id, "key.update", Map::new(), |key, now| {
            lifecycle::update(key, patch, now)
        })
    }

    /// Gives the key a new secret; the old one works for `grace_ms` more.
    pub fn rotate(&self, actor: &str, id: &str, grace_ms: u64) -> Result<Issued, RegistryError> {
        let secret = generate()?;
        let sha256 = tollgate_core::keys::hash_hex(&secret);
        let grace = Map::from_iter([("grace_ms".to_string(), json!(grace_ms))]);
        let key = self.change(actor, id, "key.rotate", grace, |key, now| {
            lifecycle::rotate(key, sha256, grace_ms, now)
        })?;
        Ok(Issued { key, secret })
    }

    pub fn revoke(&self, actor: &str, id: &str) -> Result<StoredKey, RegistryError> {
        self.change(actor, id, "key.revoke", Map::new(), lifecycle::revoke)
    }

    /// Applies `transition` to the stored key, stores and audits the result (the changed
    /// fields plus `extra`), restoring the key when the audit log refuses the event, then
    /// announces it.
    fn change(
        &self,
        actor: &str,
        id: &str,
        action: &str,
        extra: Map<String, Value>,
        transition: impl FnOnce(&StoredKey, u64) -> Result<StoredKey, LifecycleError>,
    ) -> Result<StoredKey, RegistryError> {
        let mut store = self.store();
        let before = store
            .get(id)?
            .ok_or_else(|| KeyStoreError::NotFound(id.to_string()))?;
        let after = transition(&before, self.now())?;
        store.replace(&after)?;
        let mut details = difference(&describe(&before), &describe(&after));
        details.extend(extra);
        if let Err(e) = self
            .audit
            .record(event(actor, action, id, Value::Object(details)))
        {
            let restore = StoredKey {
                version: after.version + 1,
                ..before
            };
            store.replace(&restore)?;
            return Err(e.into());
        }
        drop(store);
        self.changed();
        Ok(after)
    }

    fn changed(&self) {
        self.revision.send_modify(|revision| *revision += 1);
    }
}

fn generated_id() -> Result<String, KeyError> {
    // The random part of a fresh secret is base64url: letters, digits, '-' and '_'.
    let random = generate()?;
    Ok(format!("key-{}", &random[super::PREFIX.len()..][..12]))
}

fn event(actor: &str, action: &str, id: &str, details: Value) -> AuditEvent {
    AuditEvent {
        actor: actor.to_string(),
        action: action.to_string(),
        target: format!("key/{id}"),
        details,
    }
}

/// The audited fields of a key: everything but hashes, timestamps and version.
fn describe(key: &StoredKey) -> Value {
    let mut fields = match serde_json::to_value(&key.scope) {
        Ok(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    fields.insert("expires_unix_ms".into(), json!(key.expires_unix_ms));
    fields.insert("revoked_unix_ms".into(), json!(key.revoked_unix_ms));
    Value::Object(fields)
}

/// `{field: {before, after}}` for every field that differs.
fn difference(before: &Value, after: &Value) -> Map<String, Value> {
    let empty = Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    after
        .iter()
        .filter(|(name, value)| before.get(*name) != Some(value))
        .map(|(name, value)| {
            let old = before.get(name).cloned().unwrap_or(Value::Null);
            (name.clone(), json!({"before": old, "after": value}))
        })
        .collect()
}

#[cfg(test)]
pub mod test_support {
    //! An in-memory audit sink for tests, which can be told to fail.
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    use crate::audit::{AuditError, AuditEvent, AuditSink};

    #[derive(Default)]
    pub struct MemoryAudit {
        pub events: Mutex<Vec<AuditEvent>>,
        /// The sources of the events recorded once.
        pub sources: Mutex<Vec<String>>,
        pub failing: AtomicBool,
    }

    impl MemoryAudit {
        pub fn events(&self) -> Vec<AuditEvent> {
            self.events.lock().unwrap().clone()
        }

        pub fn fail(&self, failing: bool) {
            self.failing.store(failing, Ordering::SeqCst);
        }
    }

    impl AuditSink for MemoryAudit {
        fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(AuditError {
                    action: event.action,
                    reason: "the test sink is failing".into(),
                });
            }
            self.events.lock().unwrap().push(event);
            Ok(())
        }

        fn record_once(&self, source: &str, event: AuditEvent) -> Result<bool, AuditError> {
            if self.sources.lock().unwrap().iter().any(|s| s == source) {
                return Ok(false);
            }
            self.record(event)?;
            self.sources.lock().unwrap().push(source.to_owned());
            Ok(true)
        }
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;

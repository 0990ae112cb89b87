//! The keys the gateway filter gets: the config file's keys plus the stored ones, as
//! [`VirtualKeyConfig`]s. Pure, so the static renderer and the xDS publisher compute the
//! same table from the same inputs.

use tollgate_core::config::VirtualKeyConfig;
use tollgate_core::ratelimit::KeyRateLimits;

use super::lifecycle::{Status, StoredKey};
use crate::config::Config;

/// The filter's key table at `now_unix_ms`.
///
/// - Config-file keys come first, unchanged; a stored key with the same id is left out
///   (the API refuses such ids, but the file may gain one later) and named in `shadowed`.
/// - Revoked and expired stored keys are left out. A key expiring later carries its
///   expiry, and rotated-out secrets their grace, so the filter refuses them on time
///   without waiting for a push.
/// - The config's `rate_limits:` defaults complete a stored key's limits, field by field,
///   as they do a config key's.
/// - A provider scope narrows the key's aliases to those whose every target is on an
///   allowed provider (`*` expands to all such aliases).
pub fn effective_keys(config: &Config, stored: &[StoredKey], now_unix_ms: u64) -> EffectiveKeys {
    let mut keys = config.keys.clone();
    let mut shadowed = Vec::new();
    for key in stored {
        if key.status(now_unix_ms) != Status::Active {
            continue;
        }
        if config.keys.iter().any(|k| k.id == key.id) {
            shadowed.push(key.id.clone());
            continue;
        }
        let scope = &key.scope;
        keys.push(VirtualKeyConfig {
            id: key.id.clone(),
            sha256: key.sha256.clone(),
            models: allowed_models(config, &scope.models, &scope.providers),
            team: scope.team.clone(),
            owner: scope.agent.clone(),
            metadata: scope.metadata.clone(),
            rate_limits: KeyRateLimits::with_defaults(
                scope.rate_limits,
                config.rate_limit_defaults,
            ),
            expires_unix_ms: key.expires_unix_ms,
            previous_secrets: key.live_previous_secrets(now_unix_ms),
            // Stored keys have no capture setting of their own yet: the alias decides.
            payload_capture: None,
        });
    }
    EffectiveKeys { keys, shadowed }
}

/// The result of [`effective_keys`].
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveKeys {
    pub keys: Vec<VirtualKeyConfig>,
    /// Ids of stored keys hidden by a config-file key of the same id.
    pub shadowed: Vec<String>,
}

fn allowed_models(config: &Config, models: &[String], providers: &[String]) -> Vec<String> {
    if providers.is_empty() {
        return models.to_vec();
    }
    let wildcard = models.iter().any(|m| m == "*");
    config
        .models
        .iter()
        .filter(|m| wildcard || models.contains(&m.alias))
        .filter(|m| m.targets().all(|t| providers.contains(&t.provider)))
        .map(|m| m.alias.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load;
    use crate::keys::lifecycle::{create, revoke, rotate, KeyScope, NewKey};

    const NOW: u64 = 1_000_000;

    fn config() -> Config {
        let text = "version: 1\n\
            providers:\n\
            - {name: a, kind: openai, base_url: 'http://a'}\n\
            - {name: b, kind: openai, base_url: 'http://b'}\n\
            models:\n\
            - {alias: only-a, provider: a, model: m}\n\
            - {alias: only-b, provider: b, model: m}\n\
            - {alias: a-then-b, route: {fallback: [{provider: a, model: m}, {provider: b, model: m}]}}\n\
            rate_limits: {requests_per_minute: 10}\n\
            keys:\n\
            - {id: file, sha256: '0000000000000000000000000000000000000000000000000000000000000000', models: ['*']}\n";
        load(text, None).unwrap().config
    }

    fn stored(id: &str, hash: &str, models: &[&str], providers: &[&str]) -> StoredKey {
        let to_vec = |s: &[&str]| s.iter().map(|x| x.to_string()).collect();
        let new = NewKey {
            id: id.into(),
            scope: KeyScope {
                models: to_vec(models),
                providers: to_vec(providers),
                agent: Some("planner".into()),
                ..KeyScope::default()
            },
            expires_unix_ms: Some(NOW + 100),
        };
        create(new, hash.repeat(32), NOW - 10).unwrap()
    }

    fn ids(effective: &EffectiveKeys) -> Vec<&str> {
        effective.keys.iter().map(|k| k.id.as_str()).collect()
    }

    #[test]
    fn config_keys_then_active_stored_keys_with_their_expiry() {
        let config = config();
        let live = stored("live", "aa", &["only-a"], &[]);
        let revoked = revoke(&stored("revoked", "bb", &["*"], &[]), NOW - 5).unwrap();
        let effective = effective_keys(&config, &[live, revoked], NOW);
        assert_eq!(ids(&effective), ["file", "live"]);
        let live = &effective.keys[1];
        assert_eq!(live.expires_unix_ms, Some(NOW + 100));
        assert_eq!(live.owner.as_deref(), Some("planner"));
        assert_eq!(live.models, ["only-a"]);
        let limits = live.rate_limits.unwrap();
        assert_eq!(
            limits.requests_per_minute,
            Some(10),
            "the config's default applies"
        );
        // Once expired, the key leaves the table altogether.
        let later = effective_keys(&config, &[stored("live", "aa", &["*"], &[])], NOW + 100);
        assert_eq!(ids(&later), ["file"]);
    }

    #[test]
    fn a_rotated_key_carries_its_old_secret_until_the_grace_ends() {
        let key = stored("k", "aa", &["*"], &[]);
        let rotated = rotate(&key, "cc".repeat(32), 50, NOW).unwrap();
        let config = config();
        let during = effective_keys(&config, std::slice::from_ref(&rotated), NOW + 49);
        let previous = &during.keys[1].previous_secrets;
        assert_eq!(previous.len(), 1);
        assert_eq!(previous[0].sha256, "aa".repeat(32));
        assert_eq!(during.keys[1].sha256, "cc".repeat(32));
        let after = effective_keys(&config, &[rotated], NOW + 50);
        assert!(after.keys[1].previous_secrets.is_empty());
    }

    #[test]
    fn a_provider_scope_keeps_only_aliases_that_stay_on_allowed_providers() {
        let config = config();
        let keys = [
            stored("wild", "aa", &["*"], &["a"]),
            stored("listed", "bb", &["only-b", "a-then-b"], &["b"]),
        ];
        let effective = effective_keys(&config, &keys, NOW);
        assert_eq!(effective.keys[1].models, ["only-a"]);
        assert_eq!(effective.keys[2].models, ["only-b"]);
    }

    #[test]
    fn a_config_key_shadows_a_stored_key_of_the_same_id() {
        let effective = effective_keys(&config(), &[stored("file", "aa", &["*"], &[])], NOW);
        assert_eq!(ids(&effective), ["file"]);
        assert_eq!(effective.keys[0].sha256, "0".repeat(64));
        assert_eq!(effective.shadowed, ["file"]);
    }
}

//! Which providers can run here: checks that each provider's secret is present and
//! usable, without keeping, logging or returning it.
//!
//! Envoy reads the secrets itself (`generic_secret` from an environment variable or a
//! file), so all Tollgate needs to know is whether they exist. That question goes through
//! [`Environment`] so everything downstream stays pure and tests use a map; in
//! production [`crate::vault::Vault`] answers it, with the same rules it reads secrets by.

use std::path::Path;

use crate::config::{Config, SecretSource};

/// The process environment and filesystem, as far as secrets are concerned.
pub trait Environment {
    /// Whether the variable is set to a non-empty value.
    fn has_var(&self, name: &str) -> bool;
    /// Whether the path is a readable regular file.
    fn has_file(&self, path: &Path) -> bool;
}

/// A fixed environment for tests.
#[cfg(test)]
pub mod fixed {
    use std::collections::{HashMap, HashSet};
    use std::path::{Path, PathBuf};

    use super::Environment;

    /// Variables by name, files by path.
    #[derive(Debug, Default)]
    pub struct FixedEnvironment {
        pub vars: HashMap<String, String>,
        pub files: HashSet<PathBuf>,
    }

    impl Environment for FixedEnvironment {
        fn has_var(&self, name: &str) -> bool {
            self.vars.get(name).is_some_and(|v| !v.is_empty())
        }

        fn has_file(&self, path: &Path) -> bool {
            self.files.contains(path)
        }
    }
}

/// Something the operator should know about the credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Notice {
    #[error(
        "provider {provider:?} is skipped because its optional credential is absent ({}); \
         unavailable models: {models:?}",
        .secret.absence()
    )]
    Skipped {
        provider: String,
        secret: SecretSource,
        models: Vec<String>,
    },
    #[error(
        "provider {provider:?}: its credential is absent ({}); Envoy will refuse to start",
        .secret.absence()
    )]
    Missing {
        provider: String,
        secret: SecretSource,
    },
    #[error(
        "MCP server {server:?} is skipped because its optional credential is absent ({})",
        .secret.absence()
    )]
    McpSkipped {
        server: String,
        secret: SecretSource,
    },
    #[error(
        "MCP server {server:?}: its credential is absent ({}); Envoy will refuse to start",
        .secret.absence()
    )]
    McpMissing {
        server: String,
        secret: SecretSource,
    },
}

impl Notice {
    /// Whether Envoy cannot start with this configuration here.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Notice::Missing { .. } | Notice::McpMissing { .. })
    }
}

/// Drops the providers whose optional credential is absent, with their models, and
/// reports required credentials that are absent.
pub fn apply(mut config: Config, env: &dyn Environment) -> (Config, Vec<Notice>) {
    let mut notices = Vec::new();
    let mut skipped = Vec::new();
    for provider in &config.providers {
        let Some(credential) = &provider.credential else {
            continue;
        };
        if is_present(&credential.source, env) {
            continue;
        }
        let secret = credential.source.clone();
        let provider_name = provider.name.clone();
        if credential.optional {
            let models = config
                .models_of(&provider.name)
                .map(|(alias, _)| alias.to_string());
            notices.push(Notice::Skipped {
                models: models.collect(),
                provider: provider_name.clone(),
                secret,
            });
            skipped.push(provider_name);
        } else {
            notices.push(Notice::Missing {
                provider: provider_name,
                secret,
            });
        }
    }
    config.providers.retain(|p| !skipped.contains(&p.name));
    // A fallback or pool loses only the skipped provider's targets.
    for provider in &skipped {
        for model in &mut config.models {
            model.drop_provider(provider);
        }
    }
    config.models.retain(|m| !m.arms.is_empty());
    config.mcp_servers.retain(|server| {
        let Some(credential) = &server.credential else {
            return true;
        };
        if is_present(&credential.source, env) {
            return true;
        }
        let (server, secret) = (server.name.clone(), credential.source.clone());
        match credential.optional {
            true => notices.push(Notice::McpSkipped { server, secret }),
            false => notices.push(Notice::McpMissing { server, secret }),
        }
        !credential.optional
    });
    (config, notices)
}

fn is_present(source: &SecretSource, env: &dyn Environment) -> bool {
    match source {
        SecretSource::Env(var) => env.has_var(var),
        SecretSource::File(path) => env.has_file(path),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::fixed::FixedEnvironment;
    use super::*;
    use crate::config::{load, DEFAULT_CONFIG};

    #[test]
    fn skips_optional_providers_and_reports_missing_ones() {
        let config = load(DEFAULT_CONFIG, None).unwrap().config;
        let env = FixedEnvironment {
            vars: HashMap::from([
                ("OPENAI_API_KEY".to_string(), "sk-test".to_string()),
                ("ANTHROPIC_API_KEY".to_string(), String::new()),
            ]),
            files: HashSet::new(),
        };
        let (config, notices) = apply(config, &env);
        let names: Vec<&str> = config.providers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["demo", "demo-anthropic", "openai"]);
        assert!(config
            .models
            .iter()
            .all(|m| m.targets().all(|t| t.provider != "anthropic")));
        let fatal: Vec<bool> = notices.iter().map(Notice::is_fatal).collect();
        assert_eq!(fatal, [true, true, false], "{notices:?}");
        assert_eq!(
            notices[2].to_string(),
            "provider \"anthropic\" is skipped because its optional credential is absent \
             (environment variable ANTHROPIC_API_KEY is not set); unavailable models: \
             [\"claude-sonnet\"]"
        );
    }
}

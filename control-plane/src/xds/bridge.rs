//! Make-before-break for routes that move an alias to another provider.
//!
//! A route sends an alias to a provider cluster, and that cluster's filter config maps the
//! alias to the upstream model. Moving `gpt` from provider A to B changes both, and no order
//! of the two pushes is safe on its own: routes first, and B's filter meets an alias it does
//! not know; filter configs first, and A's filter loses the alias while routes still send it
//! there (measured: dozens of 500s under load). So a route change goes out in three steps on
//! each stream: bridge filter configs that know both the old and the new aliases, then the
//! new routes, then (once Envoy has answered the routes) the final filter configs.

use serde_json::Value;
use tollgate_core::config::FilterConfig;

use super::encode::{to_any, EncodeError};
use super::snapshot::{Resource, EXTENSION};

/// For each provider filter config in `next` whose provider also has one in `previous`:
/// the config whose alias→model map and prices are the union of both, `next` winning.
/// Configs that need no bridge (unchanged, new providers, the gateway's) are left out.
pub fn bridge(previous: &[Resource], next: &[Resource]) -> Result<Vec<Resource>, EncodeError> {
    let mut bridged = Vec::new();
    for resource in next {
        let Some(old) = previous.iter().find(|r| r.name == resource.name) else {
            continue;
        };
        let (Some(FilterConfig::Provider(old)), Some(FilterConfig::Provider(new))) =
            (filter_config(&old.json), filter_config(&resource.json))
        else {
            continue;
        };
        let mut union = new.clone();
        for (alias, model) in old.models {
            union.models.entry(alias).or_insert(model);
        }
        for (model, price) in old.prices {
            union.prices.entry(model).or_insert(price);
        }
        if union == new {
            continue;
        }
        let mut json = resource.json.clone();
        *configuration(&mut json) = Value::String(
            serde_json::to_string(&FilterConfig::Provider(union))
                .expect("filter configs have only string map keys"),
        );
        let any = to_any(EXTENSION, &resource.name, &json)?;
        bridged.push(Resource {
            name: resource.name.clone(),
            json,
            any,
        });
    }
    Ok(bridged)
}

/// The plugin configuration string inside a `TypedExtensionConfig` of the wasm filter.
fn configuration(json: &mut Value) -> &mut Value {
    &mut json["typed_config"]["config"]["configuration"]["value"]
}

fn filter_config(json: &Value) -> Option<FilterConfig> {
    let text = json["typed_config"]["config"]["configuration"]["value"].as_str()?;
    serde_json::from_str(text).ok()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::render::golden_tests::{case_config, CONFIG_DIR, WASM};
    use crate::xds::snapshot::{NodeOverrides, Snapshot};

    fn extensions(text: &str) -> Vec<Resource> {
        let (config, _) = case_config(text, Path::new(CONFIG_DIR));
        let snapshot = Snapshot::build(&config, Path::new(WASM), 1).unwrap();
        let names: BTreeSet<String> = [
            "tollgate.provider.demo",
            "tollgate.provider.demo-anthropic",
            "tollgate.gateway",
        ]
        .map(String::from)
        .into();
        snapshot
            .resources(EXTENSION, &names, NodeOverrides::default())
            .unwrap()
    }

    fn models(resource: &Resource) -> Vec<(String, String)> {
        match filter_config(&resource.json) {
            Some(FilterConfig::Provider(p)) => p.models.into_iter().collect(),
            other => panic!("not a provider config: {other:?}"),
        }
    }

    #[test]
    fn a_moved_alias_is_known_to_both_providers_while_routes_switch() {
        let default = crate::config::DEFAULT_CONFIG;
        let moved = default.replace(
            "{alias: demo-gpt, provider: demo, model: mock-gpt}",
            "{alias: demo-gpt, provider: demo-anthropic, model: moved}",
        );
        assert_ne!(moved, default);
        let bridged = bridge(&extensions(default), &extensions(&moved)).unwrap();
        // Only the provider that lost the alias needs a bridge: the one gaining it already
        // has it in its final config.
        let names: Vec<&str> = bridged.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["tollgate.provider.demo"]);
        assert_eq!(
            models(&bridged[0]),
            [("demo-gpt".to_string(), "mock-gpt".to_string())]
        );
    }

    #[test]
    fn unchanged_configs_need_no_bridge() {
        let default = crate::config::DEFAULT_CONFIG;
        assert!(bridge(&extensions(default), &extensions(default))
            .unwrap()
            .is_empty());
    }
}

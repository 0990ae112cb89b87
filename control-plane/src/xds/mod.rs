//! The xDS control plane: Envoy starts from a minimal bootstrap ([`bootstrap`]) that
//! points at this process, and receives listeners, routes, clusters, secrets and the
//! Tollgate filter configurations (ECDS) over one ADS stream.
//!
//! Data flow: validated [`Config`] → [`Publisher::publish`] → [`Snapshot`] (pure,
//! [`snapshot`]) → `tokio::sync::watch` → one task per Envoy stream ([`stream`], pure
//! state; [`server`], the gRPC service) → Envoy. Anything that changes the config (the
//! config file watcher in `tollgate run`/`serve`, the key lifecycle API) calls
//! [`Publisher::publish`] with the new validated config; a snapshot equal to the current
//! one is not published, and a change reaches only the resource types it touches (a key
//! change is an ECDS-only push; a route change is an RDS push, made before-break when an
//! alias moves between providers: see `bridge.rs`).
//!
//! Envoy's API: the `envoy-types` crate has the ADS service stubs (tonic) and the message
//! types, but no descriptors, so `build.rs` compiles the .proto files it ships with protox
//! (pure Rust, no protoc) for the JSON → protobuf step (`encode.rs`).

pub mod bootstrap;
mod bridge;
mod encode;
pub mod server;
pub mod snapshot;
pub mod stream;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use encode::EncodeError;
pub use server::AdsServer;
pub use snapshot::Snapshot;

use crate::config::Config;

/// What [`Publisher::publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Pushed to every connected Envoy under this new version.
    New(u64),
    /// Same resources as the current version: nothing to push.
    Unchanged(u64),
}

/// Turns configs into snapshots and hands them to every Envoy stream. Cheap to share
/// (`Arc<Publisher>`); `publish` may be called from any thread.
#[derive(Debug)]
pub struct Publisher {
    wasm: PathBuf,
    snapshots: tokio::sync::watch::Sender<Arc<Snapshot>>,
    /// Serialises publishes so versions follow the order configs arrived in.
    publishing: Mutex<()>,
}

// === impl Publisher ===

impl Publisher {
    /// Starts at version 1 with `config`; `wasm` is the filter module's path on the
    /// Envoy hosts.
    pub fn new(config: &Config, wasm: &Path) -> Result<Publisher, EncodeError> {
        let first = Snapshot::build(config, wasm, 1)?;
        Ok(Publisher {
            wasm: wasm.to_path_buf(),
            snapshots: tokio::sync::watch::channel(Arc::new(first)).0,
            publishing: Mutex::new(()),
        })
    }

    /// Publishes `config` (validated, credentials applied) to every connected Envoy.
    /// An error leaves the current snapshot in place.
    pub fn publish(&self, config: &Config) -> Result<Published, EncodeError> {
        let _order = self.publishing.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.current();
        let next =
            Snapshot::build(config, &self.wasm, current.version() + 1)?.bridged_from(&current)?;
        if next.same_resources(&current) {
            return Ok(Published::Unchanged(current.version()));
        }
        let version = next.version();
        self.snapshots.send_replace(Arc::new(next));
        Ok(Published::New(version))
    }

    /// The snapshot being served.
    pub fn current(&self) -> Arc<Snapshot> {
        self.snapshots.borrow().clone()
    }

    /// Snapshots as they are published, starting with the current one.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Arc<Snapshot>> {
        self.snapshots.subscribe()
    }

    /// The ADS service serving this publisher's snapshots (and keeping it alive).
    pub fn server(self: &Arc<Self>) -> AdsServer {
        AdsServer::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::golden_tests::{case_config, CONFIG_DIR, WASM};

    fn config(text: &str) -> Config {
        case_config(text, Path::new(CONFIG_DIR)).0
    }

    #[test]
    fn only_changes_get_a_new_version() {
        let default = crate::config::DEFAULT_CONFIG;
        let publisher = Publisher::new(&config(default), Path::new(WASM)).unwrap();
        let mut watching = publisher.snapshots.subscribe();
        assert_eq!(
            publisher.publish(&config(default)).unwrap(),
            Published::Unchanged(1)
        );
        assert!(!watching.has_changed().unwrap());
        let renamed = default.replace("alias: demo-gpt,", "alias: demo-gpt-2,");
        assert_eq!(
            publisher.publish(&config(&renamed)).unwrap(),
            Published::New(2)
        );
        assert!(watching.has_changed().unwrap());
        assert_eq!(watching.borrow_and_update().version(), 2);
        assert_eq!(publisher.current().version(), 2);
    }

    #[test]
    fn a_server_keeps_its_snapshots_open_after_the_last_other_handle_is_gone() {
        let default = crate::config::DEFAULT_CONFIG;
        let publisher = Arc::new(Publisher::new(&config(default), Path::new(WASM)).unwrap());
        let server = publisher.server();
        let watching = publisher.subscribe();
        drop(publisher);
        // A closed channel would end every Envoy's stream at once.
        assert!(watching.has_changed().is_ok());
        assert_eq!(server.status().version, 1);
    }
}

//! The pin store with its side effects: what filters ship is stored, approvals are
//! audited, and every change of a pin is announced on a revision channel that the
//! configuration publisher watches.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::store::{Approval, FirstPin, PinStore, SeenChange};
use super::{PinEvent, ToolPin};
use crate::audit::{AuditError, AuditEvent, AuditSink};
use crate::config::McpServer;
use crate::storage::{now_unix_ms, StoreError};

/// The audit action of an approved tool definition.
pub const TOOL_APPROVE: &str = "mcp.tool_approve";

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("no MCP server is named {0:?}")]
    UnknownServer(String),
    #[error(
        "tool {tool:?} of MCP server {server:?} is pinned in the configuration file, \
         whose pins win: change it there (mcp_servers[].pins)"
    )]
    ConfigPin { server: String, tool: String },
    #[error("tool {tool:?} of MCP server {server:?} has no pin")]
    NotPinned { server: String, tool: String },
    #[error(
        "{sha256} is not the definition of tool {tool:?} last seen (that is {}); \
         list the tools again",
        seen.as_deref().unwrap_or("its pinned one")
    )]
    Stale {
        tool: String,
        sha256: String,
        seen: Option<String>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// A tool's pin as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolView {
    pub tool: String,
    pub pinned_sha256: String,
    /// `config` (the configuration file's `pins`, which win), `approved` or `first_seen`.
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// The definition the server last listed, when it is not the pinned one: what an
    /// approval names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen_sha256: Option<String>,
    /// What changed, per the last change record: `changed_fields` and `changes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Value>,
}

/// The pins of one server's tools, by name: the configured ones and the stored ones of other
/// tools; the definition last seen shows beside a configured pin it differs from.
pub fn views(configured: &BTreeMap<String, String>, stored: &[&ToolPin]) -> Vec<ToolView> {
    let stored_of = |tool: &str| stored.iter().find(|p| p.tool == tool);
    let mut views: BTreeMap<String, ToolView> = BTreeMap::new();
    for (tool, hash) in configured {
        let pin = stored_of(tool).filter(|p| p.seen_sha256.as_ref().is_some_and(|s| s != hash));
        views.insert(
            tool.clone(),
            ToolView {
                tool: tool.clone(),
                pinned_sha256: hash.clone(),
                source: "config",
                approved_by: None,
                seen_sha256: pin.and_then(|p| p.seen_sha256.clone()),
                changes: pin.and_then(|p| p.changes.clone()),
            },
        );
    }
    for pin in stored.iter().filter(|p| !configured.contains_key(&p.tool)) {
        views.insert(
            pin.tool.clone(),
            ToolView {
                tool: pin.tool.clone(),
                pinned_sha256: pin.pinned_sha256.clone(),
                source: match pin.approved_by {
                    Some(_) => "approved",
                    None => "first_seen",
                },
                approved_by: pin.approved_by.clone(),
                seen_sha256: pin.seen_sha256.clone(),
                changes: pin.seen_sha256.as_ref().and(pin.changes.clone()),
            },
        );
    }
    views.into_values().collect()
}

pub struct PinRegistry {
    store: Mutex<Box<dyn PinStore>>,
    audit: Arc<dyn AuditSink>,
    /// Server name → the configuration file's pins of its tools.
    configured: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    revision: watch::Sender<u64>,
}

fn locked<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl PinRegistry {
    pub fn new(store: Box<dyn PinStore>, audit: Arc<dyn AuditSink>, servers: &[McpServer]) -> Self {
        let registry = PinRegistry {
            store: Mutex::new(store),
            audit,
            configured: Mutex::default(),
            revision: watch::Sender::new(0),
        };
        registry.configure(servers);
        registry
    }

    /// Takes the configuration file's servers and pins (again after an edit).
    pub fn configure(&self, servers: &[McpServer]) {
        *locked(&self.configured) = servers
            .iter()
            .map(|s| (s.name.clone(), s.pins.clone()))
            .collect();
    }

    /// A receiver whose value changes after every change of a stored pin: the signal to
    /// render the pins into the filters' configuration again.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.revision.subscribe()
    }

    fn changed(&self) {
        self.revision.send_modify(|r| *r += 1);
    }

    /// Every stored pin.
    pub fn pins(&self) -> Result<Vec<ToolPin>, StoreError> {
        locked(&self.store).list()
    }

    /// Stores what filters shipped; returns how many pins were added.
    pub fn ingest(&self, events: &[PinEvent]) -> Result<usize, StoreError> {
        let now_unix_ms = now_unix_ms();
        let mut store = locked(&self.store);
        let mut added = 0;
        for event in events {
            let new = match event {
                PinEvent::FirstSeen {
                    server,
                    tool,
                    sha256,
                    definition,
                } => store.pin_first(&FirstPin {
                    server,
                    tool,
                    sha256,
                    definition,
                    now_unix_ms,
                })?,
                PinEvent::Changed {
                    server,
                    tool,
                    pinned,
                    seen,
                    changes,
                } => store.record_seen(&SeenChange {
                    server,
                    tool,
                    pinned,
                    seen,
                    changes,
                    now_unix_ms,
                })?,
            };
            added += usize::from(new);
        }
        drop(store);
        if added > 0 {
            self.changed();
        }
        Ok(added)
    }

    /// The pins of `server`'s tools.
    pub fn list(&self, server: &str) -> Result<Vec<ToolView>, PinError> {
        let configured = self.configured_pins(server)?;
        let stored = self.pins()?;
        let of_server: Vec<&ToolPin> = stored.iter().filter(|p| p.server == server).collect();
        Ok(views(&configured, &of_server))
    }

    fn configured_pins(&self, server: &str) -> Result<BTreeMap<String, String>, PinError> {
        let configured = locked(&self.configured);
        let pins = configured.get(server);
        pins.cloned()
            .ok_or_else(|| PinError::UnknownServer(server.to_string()))
    }

    /// Pins `tool` at `sha256`, which must be the definition its server was last seen
    /// listing; audited as [`TOOL_APPROVE`] by `actor`.
    pub fn approve(
        &self,
        actor: &str,
        server: &str,
        tool: &str,
        sha256: &str,
    ) -> Result<ToolView, PinError> {
        if self.configured_pins(server)?.contains_key(tool) {
            return Err(PinError::ConfigPin {
                server: server.into(),
                tool: tool.into(),
            });
        }
        let mut store = locked(&self.store);
        let approval = Approval {
            server,
            tool,
            sha256,
            actor,
            now_unix_ms: now_unix_ms(),
        };
        let Some(before) = store.approve(&approval)? else {
            let stored = store.list()?;
            let pin = stored.iter().find(|p| p.server == server && p.tool == tool);
            return Err(match pin {
                None => PinError::NotPinned {
                    server: server.into(),
                    tool: tool.into(),
                },
                Some(pin) => PinError::Stale {
                    tool: tool.into(),
                    sha256: sha256.into(),
                    seen: pin.seen_sha256.clone(),
                },
            });
        };
        let event = AuditEvent {
            actor: actor.into(),
            action: TOOL_APPROVE.into(),
            target: format!("mcp/{server}/tool/{tool}"),
            details: json!({
                "server": server,
                "tool": tool,
                "previous_sha256": before.pinned_sha256,
                "approved_sha256": sha256,
                "changes": before.changes,
            }),
        };
        if let Err(e) = self.audit.record(event) {
            // Unaudited approvals are not kept.
            store.restore(&before)?;
            return Err(e.into());
        }
        drop(store);
        self.changed();
        let views = self.list(server)?;
        let view = views.into_iter().find(|v| v.tool == tool);
        view.ok_or_else(|| PinError::NotPinned {
            server: server.into(),
            tool: tool.into(),
        })
    }
}

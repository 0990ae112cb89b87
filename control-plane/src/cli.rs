//! The `tollgate` command line: argument types and one function per command. Each
//! command is a thin sequence of library calls; all decisions live in the modules.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use futures_util::future::BoxFuture;

use crate::audit::chain::{self, AuditEntry, ChainError, Head};
use crate::audit::store as audit_store;
use crate::audit::{AuditLog, AuditSink};
use crate::budgets::alerts::{AlertError, AlertLog, Alerter};
use crate::config::{self, Config, ControlPlane, Diagnostic, Severity, Source};
use crate::config::{DurationError, SecretSource};
use crate::credentials::{self, Notice};
use crate::envoy::{self, Envoy, EnvoyError};
use crate::export::{otlp, ExportError, Exports};
use crate::keys::api::{self, Admin, Catalog, CreateBody, RateLimitsBody, RotateBody, UpdateBody};
use crate::keys::client::{AdminClient, ClientError};
use crate::keys::lifecycle::StoredKey;
use crate::keys::registry::{system_clock, KeyRegistry, RegistryError};
use crate::keys::store::KeyStoreError;
use crate::keys::{self, effective_keys, Entry, KeyError};
use crate::pins::registry::PinRegistry;
use crate::pins::{self, merge_pins};
use crate::render;
use crate::runs::{self, ListRequest};
use crate::service;
use crate::storage::{Database, DatabaseError, StoreError};
use crate::usage::store::{self as usage_store, UsageStore};
use crate::usage::time::TimeError;
use crate::usage::{ReportError, ReportRequest};
use crate::vault::Vault;
use crate::xds::{self, EncodeError, Published, Publisher};

/// How long `run` waits for Envoy's listener.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Node id of the one Envoy `run` supervises.
const RUN_NODE_ID: &str = "tollgate";

#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Tollgate AI gateway: configure and run Envoy"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a configuration file and summarise it.
    Validate(ConfigArg),
    /// Render the Envoy bootstrap for a configuration (with the keys stored in its database).
    Render {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        wasm: WasmArg,
        /// Write the bootstrap here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Create and hash virtual keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Validate and run Envoy in the foreground until it exits, configured over xDS by
    /// this process (edits of the config file are pushed); with a `control_plane:`
    /// section, the Tollgate service runs beside it.
    Run {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        wasm: WasmArg,
        /// The Envoy binary.
        #[arg(long)]
        envoy: PathBuf,
        /// Directory for Envoy's bootstrap (envoy.json).
        #[arg(long, default_value = ".run")]
        workdir: PathBuf,
        /// Run Envoy on the full rendered bootstrap instead of xDS (no live updates).
        #[arg(long = "static")]
        static_bootstrap: bool,
    },
    /// Run the control plane of the config's `control_plane:` section (usage ingest and
    /// reports; with --wasm also xDS for any number of Envoys started from `tollgate
    /// bootstrap`), until Ctrl-C or SIGTERM.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// Serve xDS too; the tollgate.wasm path as the Envoy hosts see it.
        #[arg(long)]
        wasm: Option<PathBuf>,
    },
    /// Write the minimal bootstrap of an Envoy configured over xDS by `tollgate serve`.
    Bootstrap(BootstrapArgs),
    /// Usage report from the usage database: tokens, requests, cost and latency per group.
    Usage(UsageArgs),
    /// Agent runs from the usage database: one run's timeline, or runs per agent.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// The hash-chained audit log of admin actions and key lifecycle events.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// MCP tool pins kept by the service: list them, approve a changed definition.
    #[command(subcommand)]
    Mcp(McpCommand),
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// The pins of an MCP server's tools, with the definition last seen where it differs.
    Tools {
        #[command(flatten)]
        server: ServerArg,
        /// The MCP server's name (`mcp_servers[].name`).
        mcp_server: String,
    },
    /// Approve the definition an MCP server was last seen listing for a tool: its hash
    /// becomes the tool's pin, pushed to every Envoy.
    Approve {
        #[command(flatten)]
        server: ServerArg,
        /// The MCP server's name (`mcp_servers[].name`).
        mcp_server: String,
        tool: String,
        /// The definition approved: `seen_sha256` in `tollgate mcp tools`.
        #[arg(long)]
        sha256: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the chain; exits 1 naming the first entry that was modified, deleted,
    /// inserted or moved.
    Verify {
        #[command(flatten)]
        database: DatabaseArg,
        /// Check an export (JSON lines from `tollgate audit export`) instead.
        #[arg(long, conflicts_with = "database")]
        file: Option<PathBuf>,
        /// SEQ:HASH of an entry noted from an earlier `verify`: the log must still hold it
        /// (catches the newest entries cut off, or every hash recomputed).
        #[arg(long)]
        anchor: Option<Head>,
    },
    /// Write every entry as one JSON line, oldest first.
    Export {
        #[command(flatten)]
        database: DatabaseArg,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// One run as an indented timeline of its steps, tool calls and results.
    Show {
        /// The run id (`x-tollgate-run-id`, or the trace id of a request sent without one).
        id: String,
        #[command(flatten)]
        database: DatabaseArg,
        /// text or json.
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// Runs with their cost, and step and run latency percentiles per agent.
    List {
        #[command(flatten)]
        database: DatabaseArg,
        #[arg(long)]
        agent: Option<String>,
        /// Virtual key id.
        #[arg(long)]
        key: Option<String>,
        /// Start of the range (inclusive): RFC 3339 time or date.
        #[arg(long)]
        from: Option<String>,
        /// End of the range (exclusive): RFC 3339 time or date.
        #[arg(long)]
        to: Option<String>,
        /// text or json.
        #[arg(long, default_value = "text")]
        format: String,
    },
}

/// Which database a reading command opens.
#[derive(Debug, Args)]
pub struct DatabaseArg {
    #[command(flatten)]
    config: ConfigArg,
    /// A SQLite file or a postgres:// URL; by default the one the config's
    /// `control_plane:` names.
    #[arg(long)]
    database: Option<String>,
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    #[command(flatten)]
    database: DatabaseArg,
    /// key, team, agent, run, model, provider, alias or metadata.<name>.
    #[arg(long, default_value = "key")]
    group_by: String,
    /// Start of the range (inclusive): RFC 3339 time or date.
    #[arg(long)]
    from: Option<String>,
    /// End of the range (exclusive): RFC 3339 time or date.
    #[arg(long)]
    to: Option<String>,
    /// json or csv.
    #[arg(long, default_value = "json")]
    format: String,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// This Envoy's node id, unique among the Envoys of one control plane.
    #[arg(long, default_value = "tollgate")]
    node_id: String,
    /// Envoy's admin address; the config's `admin` by default.
    #[arg(long)]
    admin: Option<SocketAddr>,
    /// The gateway listener's address on this Envoy; the config's `listen` by default.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The control plane's xDS address; the config's `control_plane.listen` by default.
    #[arg(long)]
    xds: Option<SocketAddr>,
    /// Write the bootstrap here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// YAML configuration; the built-in demo configuration when omitted.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WasmArg {
    /// The tollgate.wasm filter module Envoy loads.
    #[arg(long)]
    wasm: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a key; prints its plaintext once and the config entry with its hash.
    New {
        /// Non-secret id, used in logs and usage records.
        #[arg(long)]
        id: String,
        /// Model aliases the key may use, comma-separated; `*` for all.
        #[arg(long, value_delimiter = ',', default_value = "*")]
        models: Vec<String>,
        #[arg(long)]
        team: Option<String>,
    },
    /// Read a plaintext key from standard input and print its SHA-256.
    Hash,
    /// Create a key through the service's admin API; prints it with its secret (once).
    Create {
        #[command(flatten)]
        server: ServerArg,
        /// Non-secret id; generated when omitted.
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// List the keys the service manages.
    List(ServerArg),
    /// Show one key.
    Show {
        #[command(flatten)]
        server: ServerArg,
        id: String,
    },
    /// Change a key's scope or expiry; options not given stay as they are.
    Update {
        #[command(flatten)]
        server: ServerArg,
        id: String,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Give a key a new secret; prints it (once). The old one works for `--grace` more.
    Rotate {
        #[command(flatten)]
        server: ServerArg,
        id: String,
        /// How long the old secret keeps working (`30s`, `1h`); none by default.
        #[arg(long)]
        grace: Option<String>,
    },
    /// Revoke a key: refused by every Envoy once the configuration reaches it.
    Revoke {
        #[command(flatten)]
        server: ServerArg,
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct ServerArg {
    /// The Tollgate service (`control_plane.listen`).
    #[arg(long, default_value = "http://127.0.0.1:9902")]
    server: String,
    /// Environment variable holding the admin key.
    #[arg(long, default_value = "TOLLGATE_ADMIN_KEY")]
    admin_key_env: String,
}

#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// Model aliases the key may use, comma-separated; `*` for all (create: default `*`).
    #[arg(long, value_delimiter = ',')]
    models: Option<Vec<String>>,
    /// Providers the key's requests may reach, comma-separated; all when omitted.
    #[arg(long, value_delimiter = ',')]
    providers: Option<Vec<String>>,
    #[arg(long)]
    team: Option<String>,
    /// The agent (or person) the key is issued to.
    #[arg(long)]
    agent: Option<String>,
    /// `name=value`, repeatable; replaces all metadata.
    #[arg(long = "metadata", value_parser = parse_metadata)]
    metadata: Vec<(String, String)>,
    #[arg(long)]
    requests_per_minute: Option<u64>,
    #[arg(long)]
    tokens_per_minute: Option<u64>,
    /// RFC 3339 time or date after which the key is refused; `never` (update) removes it.
    #[arg(long)]
    expires_at: Option<String>,
}

fn parse_metadata(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not name=value"))?;
    Ok((name.to_string(), value.to_string()))
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot read {name}: {source}")]
    Read { name: String, source: io::Error },
    #[error("{name} is not valid: {errors} error(s)")]
    Invalid { name: String, errors: usize },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot read standard input: {0}")]
    Stdin(io::Error),
    #[error("the wasm module {} does not exist; build it with `make wasm`", .0.display())]
    NoWasm(PathBuf),
    #[error("some required provider credentials are not set (see above)")]
    MissingCredentials,
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Envoy(#[from] EnvoyError),
    #[error(transparent)]
    Exports(#[from] ExportError),
    #[error("the configuration has no `control_plane:` section")]
    NoControlPlane,
    #[error("{0} is not set: the service needs the ingest key Envoy sends with usage batches")]
    NoIngestKey(String),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: io::Error,
    },
    #[error("the database {} does not exist", .0.display())]
    NoDatabase(PathBuf),
    #[error("--database: {0}")]
    Database(#[from] DatabaseError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the audit log is broken: {0}")]
    Chain(#[from] ChainError),
    #[error("{name}:{line}: not an audit entry: {source}")]
    AuditExport {
        name: String,
        line: usize,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("the service failed: {0}")]
    Service(io::Error),
    #[error("{0} is not set: the admin API needs the admin key")]
    NoAdminKey(String),
    #[error(transparent)]
    Admin(#[from] ClientError),
    #[error(transparent)]
    KeyStore(#[from] KeyStoreError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("--grace: {0}")]
    Grace(DurationError),
    #[error("--expires-at never only applies to `keys update`")]
    NeverOnCreate,
    #[error(transparent)]
    Alerts(#[from] AlertError),
    #[error("cannot build the xDS resources: {0}")]
    Xds(#[from] EncodeError),
    #[error("no xDS address: give --xds or a `control_plane:` section")]
    NoXdsAddress,
    #[error("{0}")]
    Time(#[from] TimeError),
    #[error("no step of run {0} is stored")]
    NoRun(String),
    #[error("unknown format {0:?}: use text or json")]
    Format(String),
}

/// Runs a command; returns the process exit code.
pub fn execute(cli: Cli) -> u8 {
    let result = match cli.command {
        Command::Validate(config) => validate(config),
        Command::Render { config, wasm, out } => render_to(config, wasm, out),
        Command::Keys(command) => keys_command(command),
        Command::Run {
            config,
            wasm,
            envoy,
            workdir,
            static_bootstrap,
        } => run(config, wasm, &envoy, &workdir, static_bootstrap),
        Command::Serve { config, wasm } => serve(config, wasm),
        Command::Bootstrap(args) => write_bootstrap(args),
        Command::Usage(args) => usage(args),
        Command::Audit(AuditCommand::Verify {
            database,
            file,
            anchor,
        }) => verify_audit(database, file, anchor),
        Command::Audit(AuditCommand::Export { database, out }) => export_audit(database, out),
        Command::Runs(command) => runs(command),
        Command::Mcp(command) => mcp_command(command),
    };
    result.unwrap_or_else(|err| {
        eprintln!("error: {err}");
        1
    })
}

/// Reads and validates the configuration, printing every diagnostic to stderr.
fn load(arg: ConfigArg) -> Result<(Source, Config), CliError> {
    let source = Source::from_arg(arg.config);
    let config = load_source(&source)?;
    Ok((source, config))
}

fn load_source(source: &Source) -> Result<Config, CliError> {
    let name = source.name();
    let text = source.read().map_err(|source| CliError::Read {
        name: name.clone(),
        source,
    })?;
    let print = |found: &[Diagnostic]| {
        for d in found {
            eprintln!("{}", d.display(&name));
        }
    };
    match config::load(&text, source.base_dir().as_deref()) {
        Ok(loaded) => {
            print(&loaded.warnings);
            Ok(loaded.config)
        }
        Err(found) => {
            print(&found);
            let errors = found.iter().filter(|d| d.severity() == Severity::Error);
            Err(CliError::Invalid {
                name,
                errors: errors.count(),
            })
        }
    }
}

/// Settles which providers run here and prints why others do not.
fn check_credentials(config: Config) -> (Config, bool) {
    let (config, notices) = credentials::apply(config, &Vault::system());
    for notice in &notices {
        let label = if notice.is_fatal() { "warning" } else { "note" };
        eprintln!("{label}: {notice}");
    }
    (config, notices.iter().any(Notice::is_fatal))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn validate(arg: ConfigArg) -> Result<u8, CliError> {
    let (source, config) = load(arg)?;
    let (usable, _) = check_credentials(config.clone());
    println!("{}: OK", source.name());
    println!("  listen {}, admin {}", config.listen, config.admin);
    for provider in &config.providers {
        let state = if usable.providers.iter().any(|p| p.name == provider.name) {
            ""
        } else {
            "  (skipped here: credential not set)"
        };
        let aliases: Vec<&str> = config
            .models_of(&provider.name)
            .map(|(alias, _)| alias)
            .collect();
        println!(
            "  provider {} ({}): {}{state}",
            provider.name,
            provider.kind,
            aliases.join(", ")
        );
    }
    println!("  {} key(s)", config.keys.len());
    Ok(0)
}

fn render_to(arg: ConfigArg, wasm: WasmArg, out: Option<PathBuf>) -> Result<u8, CliError> {
    let (_, config) = load(arg)?;
    let (config, _) = check_credentials(config);
    let config = with_stored_keys_and_pins(config)?;
    let wasm = absolute(&wasm.wasm);
    if !wasm.is_file() {
        eprintln!("warning: {} does not exist yet", wasm.display());
    }
    write_output(out, &render::render(&config, &wasm).bootstrap_json())?;
    Ok(0)
}

/// Writes `text` to the file `out`, or to standard output.
fn write_output(out: Option<PathBuf>, text: &str) -> Result<(), CliError> {
    match out {
        Some(path) => {
            std::fs::write(&path, text).map_err(|source| CliError::Write { path, source })
        }
        None => io::stdout()
            .write_all(text.as_bytes())
            .map_err(|source| CliError::Write {
                path: "<stdout>".into(),
                source,
            }),
    }
}

fn new_key(id: &str, models: &[String], team: Option<String>) -> Result<u8, CliError> {
    let plaintext = keys::generate()?;
    let sha256 = tollgate_core::keys::hash_hex(&plaintext);
    let entry = Entry {
        id,
        sha256: &sha256,
        models,
        team: team.as_deref(),
    };
    entry.check()?;
    println!("Key {id:?}; this is the only time it is shown, store it now:\n\n  {plaintext}\n");
    println!(
        "Add this under `keys:` in your configuration:\n\n{}",
        entry.yaml()
    );
    Ok(0)
}

fn hash_key() -> Result<u8, CliError> {
    let mut input = String::new();
    io::stdin()
        .read_to_string(&mut input)
        .map_err(CliError::Stdin)?;
    println!(
        "{}",
        tollgate_core::keys::hash_hex(keys::plaintext(&input)?)
    );
    Ok(0)
}

fn run(
    arg: ConfigArg,
    wasm: WasmArg,
    envoy_bin: &Path,
    workdir: &Path,
    static_bootstrap: bool,
) -> Result<u8, CliError> {
    let (source, config) = load(arg)?;
    let (config, missing) = check_credentials(config);
    if missing {
        return Err(CliError::MissingCredentials);
    }
    let wasm = absolute(&wasm.wasm);
    if !wasm.is_file() {
        return Err(CliError::NoWasm(wasm));
    }
    let bootstrap = workdir.join("envoy.json");
    let write_error = |source| CliError::Write {
        path: bootstrap.clone(),
        source,
    };
    std::fs::create_dir_all(workdir).map_err(write_error)?;
    let runtime = service_runtime()?;
    let service = match &config.control_plane {
        Some(control_plane) => Some(prepare_service(&config, control_plane, runtime.handle())?),
        None => None,
    };
    let registry = service.as_ref().and_then(|s| s.registry.clone());
    let pins = service.as_ref().and_then(|s| s.pins.clone());
    let config = with_registry_keys(config, registry.as_deref())?;
    let config = with_stored_pins(config, pins.as_deref())?;
    let (json, how) = if static_bootstrap {
        if let Some(service) = service {
            spawn_service(runtime, service, None, Vec::new());
        }
        let how = "static bootstrap (restart to apply config changes)".to_string();
        (render::render(&config, &wasm).bootstrap_json(), how)
    } else {
        let publisher = Arc::new(Publisher::new(&config, &wasm)?);
        let service = match service {
            Some(service) => service,
            // No service configured: xDS alone, on a loopback port of the system's choosing.
            None => {
                let address = SocketAddr::from(([127, 0, 0, 1], 0));
                let listener =
                    service::bind(address).map_err(|source| CliError::Bind { address, source })?;
                PreparedService::bare(listener)
            }
        };
        let xds_address = service.listener.local_addr().map_err(CliError::Service)?;
        let feed = Feed {
            source: source.clone(),
            registry,
            pins,
            publisher: Arc::clone(&publisher),
        };
        spawn_service(
            runtime,
            service,
            Some(publisher.server().router()),
            feed.tasks(),
        );
        let node = xds::bootstrap::Node {
            id: RUN_NODE_ID.to_string(),
            admin: config.admin,
            xds: xds_address,
            listen: None,
        };
        let how = match &source {
            Source::File(path) => format!(
                "xDS from this process on {xds_address}; edits of {} apply live",
                path.display()
            ),
            Source::BuiltIn => format!("xDS from this process on {xds_address}"),
        };
        (pretty(&xds::bootstrap::bootstrap(&node)), how)
    };
    std::fs::write(&bootstrap, json).map_err(write_error)?;
    let mut envoy = Envoy::start(envoy_bin, &bootstrap)?;
    match envoy.wait_ready(config.admin, READY_TIMEOUT) {
        Ok(()) => println!("{}", banner(&config, &bootstrap, &how)),
        // Stopped by Ctrl-C / SIGTERM before it was ready: not a failure of ours.
        Err(EnvoyError::ExitedEarly(status)) if envoy.signalled() => {
            return Ok(envoy::exit_code(status))
        }
        Err(err) => {
            envoy.stop()?;
            return Err(err.into());
        }
    }
    let status = envoy.wait()?;
    Ok(envoy::exit_code(status))
}

fn pretty(json: &serde_json::Value) -> String {
    serde_json::to_string_pretty(json).expect("a serde_json::Value always serializes") + "\n"
}

/// Runs the service on `runtime`, with `xds` merged into its routes and `tasks` beside it,
/// on a thread of its own; it lives as long as the process, which ends when Envoy does.
fn spawn_service(
    runtime: tokio::runtime::Runtime,
    service: PreparedService,
    xds: Option<axum::Router>,
    tasks: Vec<BoxFuture<'static, ()>>,
) {
    std::thread::spawn(move || {
        let forever = std::future::pending();
        if let Err(e) = runtime.block_on(service.serve(xds, tasks, forever)) {
            eprintln!("error: the Tollgate service stopped: {e}");
        }
    });
}

/// What the Envoys are pushed: the config source, validated again on every change, with
/// the stored keys of the service's registry (when the service runs).
#[derive(Clone)]
struct Feed {
    source: Source,
    registry: Option<Arc<KeyRegistry>>,
    /// The stored MCP tool pins (when the service runs).
    pins: Option<Arc<PinRegistry>>,
    publisher: Arc<Publisher>,
}

impl Feed {
    /// The tasks that republish on a change: an edit of the config file, a key created,
    /// updated, rotated or revoked, an MCP tool pinned or approved. Each republish runs
    /// off the async threads (the stores may block).
    fn tasks(self) -> Vec<BoxFuture<'static, ()>> {
        let mut tasks: Vec<BoxFuture<'static, ()>> = Vec::new();
        if let Source::File(path) = &self.source {
            let feed = self.clone();
            tasks.push(Box::pin(xds::watch::on_edit(
                path.clone(),
                xds::watch::POLL,
                move || {
                    let feed = feed.clone();
                    tokio::task::spawn_blocking(move || feed.republish());
                },
            )));
        }
        let revisions = [
            self.registry.as_ref().map(|r| r.subscribe()),
            self.pins.as_ref().map(|p| p.subscribe()),
        ];
        for mut revisions in revisions.into_iter().flatten() {
            let feed = self.clone();
            tasks.push(Box::pin(async move {
                while revisions.changed().await.is_ok() {
                    let feed = feed.clone();
                    let _ = tokio::task::spawn_blocking(move || feed.republish()).await;
                }
            }));
        }
        tasks
    }

    /// Validates the config again and publishes it with the stored keys; anything wrong
    /// keeps the last good one.
    fn republish(&self) {
        let keeping = "the last good configuration stays in place";
        let config = match load_source(&self.source) {
            Ok(config) => config,
            Err(e) => return eprintln!("error: {e}; {keeping}"),
        };
        let (config, missing) = check_credentials(config);
        if missing {
            return eprintln!("error: {}; {keeping}", CliError::MissingCredentials);
        }
        let config = match with_registry_keys(config, self.registry.as_deref())
            .and_then(|config| with_stored_pins(config, self.pins.as_deref()))
        {
            Ok(config) => config,
            Err(e) => return eprintln!("error: {e}; {keeping}"),
        };
        let name = self.source.name();
        match self.publisher.publish(&config) {
            Ok(Published::New(version)) => println!("{name}: pushed as version {version}"),
            Ok(Published::Unchanged(version)) => {
                println!("{name}: no change to push (version {version})");
            }
            Err(e) => eprintln!("error: {e}; {keeping}"),
        }
    }
}

/// What to tell the operator once the gateway answers.
fn banner(config: &Config, bootstrap: &Path, how: &str) -> String {
    let gateway = envoy::reachable(config.listen);
    let admin = envoy::reachable(config.admin);
    let aliases: Vec<&str> = config.models.iter().map(|m| m.alias.as_str()).collect();
    let demo_key = tollgate_core::keys::hash_hex(config::DEMO_KEY);
    let key = if config.keys.iter().any(|k| k.sha256 == demo_key) {
        config::DEMO_KEY
    } else {
        "$TOLLGATE_KEY"
    };
    let model = aliases.first().copied().unwrap_or("MODEL");
    format!(
        "\nTollgate is ready.\n\
         \x20 gateway  http://{gateway}/v1/chat/completions  (OpenAI format; models at /v1/models)\n\
         \x20 admin    http://{admin}/  (Envoy stats and config dump)\n\
         \x20 config   {} ({how})\n\
         \x20 models   {}\n\n\
         Try it:\n\
         \x20 curl -s http://{gateway}/v1/chat/completions \\\n\
         \x20   -H \"authorization: Bearer {key}\" -H 'content-type: application/json' \\\n\
         \x20   -d '{{\"model\":\"{model}\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hello!\"}}]}}'\n\n\
         Ctrl-C stops Envoy.\n",
        bootstrap.display(),
        aliases.join(", "),
    )
}

/// The service, bound and ready to serve.
struct PreparedService {
    listener: std::net::TcpListener,
    router: axum::Router,
    /// The budget alert loop, when budgets have thresholds.
    alerter: Option<Alerter>,
    /// The stored keys; absent when only xDS is served.
    registry: Option<Arc<KeyRegistry>>,
    /// The stored MCP tool pins; absent when only xDS is served.
    pins: Option<Arc<PinRegistry>>,
}

impl PreparedService {
    /// Nothing but the listener (xDS routes are added when served).
    fn bare(listener: std::net::TcpListener) -> Self {
        PreparedService {
            listener,
            router: axum::Router::new(),
            alerter: None,
            registry: None,
            pins: None,
        }
    }

    async fn serve(
        self,
        xds: Option<axum::Router>,
        tasks: Vec<BoxFuture<'static, ()>>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        if let Some(alerter) = self.alerter {
            tokio::spawn(alerter.run());
        }
        for task in tasks {
            tokio::spawn(task);
        }
        let router = match xds {
            Some(xds) => self.router.merge(xds),
            None => self.router,
        };
        service::serve(self.listener, router, shutdown).await
    }
}

/// Reads the ingest and admin keys, opens the stores, starts the exports (on `runtime`)
/// and binds the service's address.
fn prepare_service(
    config: &Config,
    control_plane: &ControlPlane,
    runtime: &tokio::runtime::Handle,
) -> Result<PreparedService, CliError> {
    let var = &control_plane.ingest_key_env;
    let key = std::env::var(var)
        .ok()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| CliError::NoIngestKey(var.clone()))?;
    let store = service::shared(usage_store::open(&control_plane.database)?);
    let budgets = config.budgets.as_ref();
    let limits = budgets.map_or(&[][..], |b| b.limits.as_slice());
    let alerter = match budgets {
        Some(b) if limits.iter().any(|l| !l.alert_at_percent.is_empty()) => Some(Alerter {
            store: Arc::clone(&store),
            log: AlertLog::open(&control_plane.database)?,
            limits: limits.to_vec(),
            webhook: b.alert_webhook.clone(),
            interval: b.poll_interval,
        }),
        _ => None,
    };
    let keys = keys::store::open(&control_plane.database)?;
    let audit: Arc<dyn AuditSink> = Arc::new(AuditLog::open(&control_plane.database)?);
    let config_ids = config.keys.iter().map(|k| k.id.clone());
    let registry = Arc::new(KeyRegistry::new(
        keys,
        Arc::clone(&audit),
        config_ids,
        system_clock(),
    ));
    let catalog = Catalog {
        aliases: config.models.iter().map(|m| m.alias.clone()).collect(),
        providers: config.providers.iter().map(|p| p.name.clone()).collect(),
    };
    let admins = admin_credentials(control_plane);
    let address = control_plane.listen;
    let listener = service::bind(address).map_err(|source| CliError::Bind { address, source })?;
    println!(
        "Tollgate service on http://{}  (database {}, {} admin key(s))",
        envoy::reachable(address),
        control_plane.database,
        admins.len()
    );
    let enforced = limits.iter().map(|l| l.budget.clone()).collect();
    let systems = config
        .providers
        .iter()
        .map(|p| (p.name.clone(), otlp::provider_system(p.kind)))
        .collect();
    let exports = Exports::start(&control_plane.exports, systems, runtime)?;
    let pins = Arc::new(PinRegistry::new(
        pins::store::open(&control_plane.database)?,
        Arc::clone(&audit),
        &config.mcp_servers,
    ));
    let routes = service::routes(
        store,
        &key,
        enforced,
        exports,
        audit,
        Some(Arc::clone(&pins)),
    )
    .merge(api::routes(Arc::clone(&registry), admins.clone(), catalog))
    .merge(pins::api::routes(Arc::clone(&pins), admins));
    Ok(PreparedService {
        listener,
        router: routes.into_router(),
        alerter,
        registry: Some(registry),
        pins: Some(pins),
    })
}

/// The admin credentials whose secret is available; the others are named and skipped.
fn admin_credentials(control_plane: &ControlPlane) -> Vec<Admin> {
    let vault = Vault::system();
    let mut admins = Vec::new();
    for admin in &control_plane.admin_keys {
        match vault.read(&admin.secret) {
            Ok(secret) => admins.push(Admin {
                name: admin.name.clone(),
                digest: tollgate_core::keys::digest(secret.expose()),
            }),
            Err(e) => eprintln!("note: admin key {:?} is not accepted: {e}", admin.name),
        }
    }
    admins
}

/// The config with the stored keys and MCP tool pins added, as the filters should get them.
/// Reading never creates the database: without one there is nothing stored.
fn with_stored_keys_and_pins(config: Config) -> Result<Config, CliError> {
    let Some(control_plane) = &config.control_plane else {
        return Ok(config);
    };
    let database = match &control_plane.database {
        Database::Sqlite(path) if !path.is_file() => return Ok(config),
        database => database.clone(),
    };
    let stored = keys::store::open(&database)?.list()?;
    let mut config = add_stored_keys(config, &stored, (system_clock())());
    merge_pins(
        &mut config.mcp_servers,
        &pins::store::open(&database)?.list()?,
    );
    Ok(config)
}

/// The config with the keys of `registry` added (none without a registry).
fn with_registry_keys(config: Config, registry: Option<&KeyRegistry>) -> Result<Config, CliError> {
    match registry {
        Some(registry) => {
            let stored = registry.list()?;
            Ok(add_stored_keys(config, &stored, registry.now()))
        }
        None => Ok(config),
    }
}

/// The config with the stored MCP tool pins added, as the MCP filters should get them
/// (the config file's pins win); also tells `pins` the config file's servers and pins.
fn with_stored_pins(mut config: Config, pins: Option<&PinRegistry>) -> Result<Config, CliError> {
    if let Some(pins) = pins {
        pins.configure(&config.mcp_servers);
        merge_pins(&mut config.mcp_servers, &pins.pins()?);
    }
    Ok(config)
}

fn add_stored_keys(mut config: Config, stored: &[StoredKey], now: u64) -> Config {
    let effective = effective_keys(&config, stored, now);
    for id in &effective.shadowed {
        eprintln!("warning: stored key {id:?} is hidden by the config file's key of that id");
    }
    config.keys = effective.keys;
    config
}

fn service_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Service)
}

fn serve(arg: ConfigArg, wasm: Option<PathBuf>) -> Result<u8, CliError> {
    let (source, config) = load(arg)?;
    let control_plane = config
        .control_plane
        .as_ref()
        .ok_or(CliError::NoControlPlane)?;
    let runtime = service_runtime()?;
    let service = prepare_service(&config, control_plane, runtime.handle())?;
    let (xds, tasks) = match wasm {
        Some(wasm) => {
            let (config, missing) = check_credentials(config);
            if missing {
                return Err(CliError::MissingCredentials);
            }
            let config = with_registry_keys(config, service.registry.as_deref())?;
            let config = with_stored_pins(config, service.pins.as_deref())?;
            let publisher = Arc::new(Publisher::new(&config, &absolute(&wasm))?);
            println!("xDS for Envoys started from `tollgate bootstrap`, on the same address");
            let feed = Feed {
                source,
                registry: service.registry.clone(),
                pins: service.pins.clone(),
                publisher: Arc::clone(&publisher),
            };
            (Some(publisher.server().router()), feed.tasks())
        }
        None => (None, Vec::new()),
    };
    runtime
        .block_on(service.serve(xds, tasks, stop_signal()))
        .map_err(CliError::Service)?;
    Ok(0)
}

fn write_bootstrap(args: BootstrapArgs) -> Result<u8, CliError> {
    let (_, config) = load(args.config)?;
    let xds = args
        .xds
        .or(config.control_plane.as_ref().map(|c| c.listen))
        .ok_or(CliError::NoXdsAddress)?;
    let node = xds::bootstrap::Node {
        id: args.node_id,
        admin: args.admin.unwrap_or(config.admin),
        xds,
        listen: args.listen,
    };
    write_output(args.out, &pretty(&xds::bootstrap::bootstrap(&node)))?;
    Ok(0)
}

/// Ctrl-C or SIGTERM.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

fn usage(args: UsageArgs) -> Result<u8, CliError> {
    let request = ReportRequest::parse(
        args.from.as_deref(),
        args.to.as_deref(),
        Some(&args.group_by),
        Some(&args.format),
    )?;
    let report = request.run(open_database(args.database)?.as_mut())?;
    print(&report)
}

/// Opens an existing usage database (reading never creates one).
fn open_database(arg: DatabaseArg) -> Result<Box<dyn UsageStore>, CliError> {
    Ok(usage_store::open(&existing_database(arg)?)?)
}

fn print(text: &str) -> Result<u8, CliError> {
    let mut stdout = io::stdout();
    writeln!(stdout, "{}", text.trim_end()).map_err(|source| CliError::Write {
        path: "<stdout>".into(),
        source,
    })?;
    Ok(0)
}

/// The database `arg` names (relative paths from the working directory), or else the
/// config's. Reading never creates a SQLite file.
fn existing_database(arg: DatabaseArg) -> Result<Database, CliError> {
    let database = match arg.database {
        Some(text) => Database::parse(&text, |path| PathBuf::from(path))?,
        None => {
            let (_, config) = load(arg.config)?;
            config
                .control_plane
                .ok_or(CliError::NoControlPlane)?
                .database
        }
    };
    match &database {
        Database::Sqlite(path) if !path.is_file() => Err(CliError::NoDatabase(path.clone())),
        _ => Ok(database),
    }
}

fn verify_audit(
    database: DatabaseArg,
    file: Option<PathBuf>,
    anchor: Option<Head>,
) -> Result<u8, CliError> {
    let (name, entries) = match file {
        Some(path) => (path.display().to_string(), read_export(&path)?),
        None => {
            let database = existing_database(database)?;
            let entries = audit_store::open(&database)?.entries()?;
            (database.to_string(), entries)
        }
    };
    let verified = chain::verify(&entries)?;
    if let Some(anchor) = &anchor {
        chain::check_anchor(&entries, anchor)?;
    }
    match verified.head {
        // The last entry, as an anchor for a later `verify --anchor`.
        Some(head) => println!(
            "{name}: audit log OK, {} entries; last {head}",
            verified.entries
        ),
        None => println!("{name}: audit log OK, no entries"),
    }
    Ok(0)
}

fn read_export(path: &Path) -> Result<Vec<AuditEntry>, CliError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
        name: name.clone(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|source| CliError::AuditExport {
                name: name.clone(),
                line: i + 1,
                source,
            })
        })
        .collect()
}

fn export_audit(database: DatabaseArg, out: Option<PathBuf>) -> Result<u8, CliError> {
    let entries = audit_store::open(&existing_database(database)?)?.entries()?;
    let mut lines = String::new();
    for entry in &entries {
        let line = serde_json::to_string(entry).expect("entries serialize");
        lines.push_str(&line);
        lines.push('\n');
    }
    write_output(out, &lines)?;
    Ok(0)
}
/// `tollgate keys …`: offline (`new`, `hash`) or through the admin API.
/// The admin API client of `server`, with the admin key from its environment variable.
fn client(server: &ServerArg) -> Result<AdminClient, CliError> {
    let var = &server.admin_key_env;
    let key = Vault::system()
        .read(&SecretSource::Env(var.clone()))
        .map_err(|_| CliError::NoAdminKey(var.clone()))?;
    Ok(AdminClient::new(&server.server, key.expose()))
}

fn mcp_command(command: McpCommand) -> Result<u8, CliError> {
    match command {
        McpCommand::Tools { server, mcp_server } => {
            print_json(&client(&server)?.mcp_tools(&mcp_server)?)
        }
        McpCommand::Approve {
            server,
            mcp_server,
            tool,
            sha256,
        } => print_json(&client(&server)?.approve_mcp_tool(&mcp_server, &tool, &sha256)?),
    }
}

fn keys_command(command: KeysCommand) -> Result<u8, CliError> {
    match command {
        KeysCommand::New { id, models, team } => new_key(&id, &models, team),
        KeysCommand::Hash => hash_key(),
        KeysCommand::Create { server, id, scope } => {
            let body = scope.create_body(id)?;
            let issued = client(&server)?.create(&body)?;
            eprintln!("The secret is shown only this once; store it now.");
            print_json(&issued)
        }
        KeysCommand::List(server) => print_json(&client(&server)?.list()?),
        KeysCommand::Show { server, id } => print_json(&client(&server)?.show(&id)?),
        KeysCommand::Update { server, id, scope } => {
            print_json(&client(&server)?.update(&id, &scope.update_body())?)
        }
        KeysCommand::Rotate { server, id, grace } => {
            let grace_seconds = match grace {
                Some(text) => config::parse_duration(&text)
                    .map_err(CliError::Grace)?
                    .as_secs(),
                None => 0,
            };
            let issued = client(&server)?.rotate(&id, &RotateBody { grace_seconds })?;
            eprintln!("The new secret is shown only this once; store it now.");
            print_json(&issued)
        }
        KeysCommand::Revoke { server, id } => print_json(&client(&server)?.revoke(&id)?),
    }
}

fn print_json(value: &impl serde::Serialize) -> Result<u8, CliError> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    writeln!(io::stdout(), "{text}").map_err(|source| CliError::Write {
        path: "<stdout>".into(),
        source,
    })?;
    Ok(0)
}

impl ScopeArgs {
    fn rate_limits(&self) -> Option<RateLimitsBody> {
        let limits = RateLimitsBody {
            requests_per_minute: self.requests_per_minute,
            tokens_per_minute: self.tokens_per_minute,
            per_agent: None,
        };
        (limits != RateLimitsBody::default()).then_some(limits)
    }

    fn metadata(&self) -> Option<std::collections::BTreeMap<String, String>> {
        (!self.metadata.is_empty()).then(|| self.metadata.iter().cloned().collect())
    }

    fn create_body(self, id: Option<String>) -> Result<CreateBody, CliError> {
        if self.expires_at.as_deref() == Some(NEVER) {
            return Err(CliError::NeverOnCreate);
        }
        Ok(CreateBody {
            id,
            rate_limits: self.rate_limits(),
            metadata: self.metadata().unwrap_or_default(),
            models: self.models.unwrap_or_else(|| vec!["*".to_string()]),
            providers: self.providers.unwrap_or_default(),
            team: self.team,
            agent: self.agent,
            expires_at: self.expires_at,
        })
    }

    fn update_body(self) -> UpdateBody {
        UpdateBody {
            rate_limits: self.rate_limits().map(Some),
            metadata: self.metadata(),
            models: self.models,
            providers: self.providers,
            team: self.team.map(Some),
            agent: self.agent.map(Some),
            expires_at: self.expires_at.map(|at| (at != NEVER).then_some(at)),
        }
    }
}

/// `--expires-at never`: remove the expiry.
const NEVER: &str = "never";
/// `text` or `json`: whether to render for the terminal.
fn as_text(format: &str) -> Result<bool, CliError> {
    match format {
        "text" => Ok(true),
        "json" => Ok(false),
        other => Err(CliError::Format(other.to_owned())),
    }
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn runs(command: RunsCommand) -> Result<u8, CliError> {
    match command {
        RunsCommand::Show {
            id,
            database,
            format,
        } => {
            let text = as_text(&format)?;
            let run =
                runs::show(open_database(database)?.as_mut(), &id)?.ok_or(CliError::NoRun(id))?;
            print(&match text {
                true => runs::render::timeline(&run),
                false => to_json(&run),
            })
        }
        RunsCommand::List {
            database,
            agent,
            key,
            from,
            to,
            format,
        } => {
            let text = as_text(&format)?;
            let request = ListRequest::parse(
                agent.as_deref(),
                key.as_deref(),
                from.as_deref(),
                to.as_deref(),
            )?;
            let list = request.run(open_database(database)?.as_mut())?;
            print(&match text {
                true => runs::render::list(&list),
                false => to_json(&list),
            })
        }
    }
}

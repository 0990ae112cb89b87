//! The `tollgate` command line: argument types and one function per command. Each
//! command is a thin sequence of library calls; all decisions live in the modules.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config, ControlPlane, Diagnostic, Severity, Source};
use crate::credentials::{self, Notice};
use crate::envoy::{self, Envoy, EnvoyError};
use crate::export::{otlp, ExportError, Exports};
use crate::keys::{self, Entry, KeyError};
use crate::render;
use crate::service;
use crate::usage::store::{SqliteStore, StoreError};
use crate::usage::{ReportError, ReportRequest};

/// How long `run` waits for Envoy's listener.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

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
    /// Render the Envoy bootstrap for a configuration.
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
    /// Validate, render and run Envoy in the foreground until it exits; with a
    /// `control_plane:` section, the Tollgate service runs beside it.
    Run {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        wasm: WasmArg,
        /// The Envoy binary.
        #[arg(long)]
        envoy: PathBuf,
        /// Directory for the rendered bootstrap (envoy.json).
        #[arg(long, default_value = ".run")]
        workdir: PathBuf,
    },
    /// Run only the Tollgate service of the config's `control_plane:` section (usage
    /// ingest and reports), until Ctrl-C or SIGTERM.
    Serve(ConfigArg),
    /// Usage report from the usage database: tokens, requests, cost and latency per group.
    Usage(UsageArgs),
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The usage database; by default the one the config's `control_plane:` names.
    #[arg(long)]
    database: Option<PathBuf>,
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
    Export(#[from] ExportError),
    #[error("the configuration has no `control_plane:` section")]
    NoControlPlane,
    #[error("{0} is not set: the service needs the ingest key Envoy sends with usage batches")]
    NoIngestKey(String),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: io::Error,
    },
    #[error("the usage database {} does not exist", .0.display())]
    NoDatabase(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("the service failed: {0}")]
    Service(io::Error),
}

/// Runs a command; returns the process exit code.
pub fn execute(cli: Cli) -> u8 {
    let result = match cli.command {
        Command::Validate(config) => validate(config),
        Command::Render { config, wasm, out } => render_to(config, wasm, out),
        Command::Keys(KeysCommand::New { id, models, team }) => new_key(&id, &models, team),
        Command::Keys(KeysCommand::Hash) => hash_key(),
        Command::Run {
            config,
            wasm,
            envoy,
            workdir,
        } => run(config, wasm, &envoy, &workdir),
        Command::Serve(config) => serve(config),
        Command::Usage(args) => usage(args),
    };
    result.unwrap_or_else(|err| {
        eprintln!("error: {err}");
        1
    })
}

/// Reads and validates the configuration, printing every diagnostic to stderr.
fn load(arg: ConfigArg) -> Result<(Source, Config), CliError> {
    let source = Source::from_arg(arg.config);
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
            Ok((source, loaded.config))
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
    let (config, notices) = credentials::apply(config, &credentials::System);
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
    let wasm = absolute(&wasm.wasm);
    if !wasm.is_file() {
        eprintln!("warning: {} does not exist yet", wasm.display());
    }
    let json = render::render(&config, &wasm).bootstrap_json();
    match out {
        Some(path) => {
            std::fs::write(&path, json).map_err(|source| CliError::Write { path, source })
        }
        None => io::stdout()
            .write_all(json.as_bytes())
            .map_err(|source| CliError::Write {
                path: "<stdout>".into(),
                source,
            }),
    }?;
    Ok(0)
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

fn run(arg: ConfigArg, wasm: WasmArg, envoy_bin: &Path, workdir: &Path) -> Result<u8, CliError> {
    let (_, config) = load(arg)?;
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
    let json = render::render(&config, &wasm).bootstrap_json();
    std::fs::write(&bootstrap, json).map_err(write_error)?;

    if let Some(control_plane) = &config.control_plane {
        let runtime = service_runtime()?;
        let (listener, router) = prepare_service(&config, control_plane, runtime.handle())?;
        // Lives as long as the process: it ends when Envoy does.
        std::thread::spawn(move || {
            let forever = std::future::pending();
            if let Err(e) = runtime.block_on(service::serve(listener, router, forever)) {
                eprintln!("error: the Tollgate service stopped: {e}");
            }
        });
    }
    let mut envoy = Envoy::start(envoy_bin, &bootstrap)?;
    match envoy.wait_ready(config.admin, READY_TIMEOUT) {
        Ok(()) => println!("{}", banner(&config, &bootstrap)),
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

/// What to tell the operator once the gateway answers.
fn banner(config: &Config, bootstrap: &Path) -> String {
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
         \x20 config   {}\n\
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

/// Reads the ingest key, opens the usage store, starts the exports (on `runtime`) and binds
/// the service's address.
fn prepare_service(
    config: &Config,
    control_plane: &ControlPlane,
    runtime: &tokio::runtime::Handle,
) -> Result<(std::net::TcpListener, axum::Router), CliError> {
    let var = &control_plane.ingest_key_env;
    let key = std::env::var(var)
        .ok()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| CliError::NoIngestKey(var.clone()))?;
    let store = SqliteStore::open(&control_plane.database)?;
    let address = control_plane.listen;
    let listener = service::bind(address).map_err(|source| CliError::Bind { address, source })?;
    println!(
        "Tollgate service on http://{}  (usage store {})",
        envoy::reachable(address),
        control_plane.database.display()
    );
    let systems = config
        .providers
        .iter()
        .map(|p| (p.name.clone(), otlp::provider_system(p.kind)))
        .collect();
    let exports = Exports::start(&control_plane.exports, systems, runtime)?;
    Ok((listener, service::router(Box::new(store), &key, exports)))
}

fn service_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Service)
}

fn serve(arg: ConfigArg) -> Result<u8, CliError> {
    let (_, config) = load(arg)?;
    let control_plane = config
        .control_plane
        .as_ref()
        .ok_or(CliError::NoControlPlane)?;
    let runtime = service_runtime()?;
    let (listener, router) = prepare_service(&config, control_plane, runtime.handle())?;
    runtime
        .block_on(service::serve(listener, router, stop_signal()))
        .map_err(CliError::Service)?;
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
    let database = match args.database {
        Some(path) => path,
        None => {
            let (_, config) = load(args.config)?;
            config
                .control_plane
                .ok_or(CliError::NoControlPlane)?
                .database
        }
    };
    // Reading never creates a database.
    if !database.is_file() {
        return Err(CliError::NoDatabase(database));
    }
    let mut store = SqliteStore::open(&database)?;
    let report = request.run(&mut store)?;
    let mut stdout = io::stdout();
    writeln!(stdout, "{}", report.trim_end()).map_err(|source| CliError::Write {
        path: "<stdout>".into(),
        source,
    })?;
    Ok(0)
}

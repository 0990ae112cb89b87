//! `mock-provider`: runs the loopback LLM provider mock (see the library docs).

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use mock_provider::{AwsCredentials, BedrockAuth, ExpectedKeys};
use tokio::net::TcpListener;

/// Default expected key for both formats, shared with the `make run` demo.
const DEMO_KEY_ENV: &str = "TOLLGATE_DEMO_PROVIDER_KEY";

/// Loopback mock of the OpenAI, Anthropic, Cohere, Azure OpenAI and Gemini (AI Studio,
/// Vertex) APIs, speaking their real wire formats.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9010")]
    listen: SocketAddr,
    /// Expected `Authorization: Bearer` key (default: $TOLLGATE_DEMO_PROVIDER_KEY; unset
    /// accepts any key).
    #[arg(long)]
    openai_key: Option<String>,
    /// Expected `x-api-key` (default: $TOLLGATE_DEMO_PROVIDER_KEY; unset accepts any key).
    #[arg(long)]
    anthropic_key: Option<String>,
    /// Expected Cohere `Authorization: Bearer` key (default: $TOLLGATE_DEMO_PROVIDER_KEY;
    /// unset accepts any key).
    #[arg(long)]
    cohere_key: Option<String>,
    /// Expected Azure OpenAI `api-key` (default: $TOLLGATE_DEMO_PROVIDER_KEY; unset accepts
    /// any key).
    #[arg(long)]
    azure_key: Option<String>,
    /// Expected `x-goog-api-key` (default: $TOLLGATE_DEMO_PROVIDER_KEY; unset accepts any key).
    #[arg(long)]
    gemini_key: Option<String>,
    /// Expected Vertex AI `Authorization: Bearer` token (default: $TOLLGATE_DEMO_PROVIDER_KEY;
    /// unset accepts any token).
    #[arg(long)]
    vertex_token: Option<String>,
    /// AWS access key id Bedrock SigV4 signatures must use (with --aws-secret-access-key;
    /// unset accepts any Authorization).
    #[arg(long, requires = "aws_secret_access_key")]
    aws_access_key_id: Option<String>,
    /// AWS secret access key Bedrock SigV4 signatures are verified with.
    #[arg(long, requires = "aws_access_key_id")]
    aws_secret_access_key: Option<String>,
    /// Bedrock API key accepted as `Authorization: Bearer` (unset accepts any).
    #[arg(long)]
    bedrock_api_key: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let demo_key = std::env::var(DEMO_KEY_ENV)
        .ok()
        .filter(|key| !key.is_empty());
    let keys = ExpectedKeys {
        openai: args.openai_key.or_else(|| demo_key.clone()),
        anthropic: args.anthropic_key.or_else(|| demo_key.clone()),
        cohere: args.cohere_key.or_else(|| demo_key.clone()),
        azure: args.azure_key.or_else(|| demo_key.clone()),
        gemini: args.gemini_key.or_else(|| demo_key.clone()),
        vertex: args.vertex_token.or(demo_key),
        bedrock: BedrockAuth {
            sigv4: args.aws_access_key_id.zip(args.aws_secret_access_key).map(
                |(access_key_id, secret_access_key)| AwsCredentials {
                    access_key_id,
                    secret_access_key,
                },
            ),
            api_key: args.bedrock_api_key,
        },
    };
    let listener = match TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("mock-provider: cannot listen on {}: {error}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    eprintln!("mock-provider: listening on http://{}", args.listen);
    match mock_provider::serve(listener, keys, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mock-provider: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM, so `make run` and test harnesses stop it cleanly.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

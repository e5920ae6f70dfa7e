//! `fieldvault-relay serve (--data DIR | --postgres URL | --postgres-url-file F) [--listen ADDR]
//! [--operator-token-file F]` — prints `listening on http://ADDR` on stdout
//! once bound; logs JSON lines to stderr.
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use fieldvault_relay::{Backend, RelayConfig};

/// Environment variable holding the operator token when no file is given.
const TOKEN_ENV: &str = "FIELDVAULT_OPERATOR_TOKEN";

#[derive(Parser)]
#[command(name = "fieldvault-relay", version, about = "FieldVault sync relay")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the sync protocol until SIGINT/SIGTERM.
    Serve(ServeArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Directory of the SQLite database (relay.db), for a single process.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["postgres", "postgres_url_file"],
        required_unless_present_any = ["postgres", "postgres_url_file"]
    )]
    data: Option<PathBuf>,
    /// PostgreSQL URL (no TLS; loopback or a private network), for one or many processes.
    #[arg(long, value_name = "URL", conflicts_with = "postgres_url_file")]
    postgres: Option<String>,
    /// File holding the PostgreSQL URL: keeps a password in it out of the
    /// process list (`ps`, /proc/PID/cmdline), where --postgres shows it.
    #[arg(long, value_name = "FILE")]
    postgres_url_file: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// File holding the operator token (else $FIELDVAULT_OPERATOR_TOKEN).
    #[arg(long, value_name = "FILE")]
    operator_token_file: Option<PathBuf>,
    /// Request time limit in seconds.
    #[arg(long, default_value_t = 30)]
    request_timeout_secs: u64,
    /// PostgreSQL connections per process.
    #[arg(long, default_value_t = 16)]
    postgres_pool_size: usize,
    /// Memory (MiB) that signed request bodies may hold at once; past it
    /// devices get `503 busy` and retry (at least 16).
    #[arg(long, default_value_t = 256)]
    max_body_memory_mib: usize,
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FIELDVAULT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .init();
}

fn operator_token(args: &ServeArgs) -> Result<String, String> {
    match &args.operator_token_file {
        Some(path) => std::fs::read_to_string(path)
            .map(|t| t.trim().to_owned())
            .map_err(|e| format!("cannot read the operator token file: {e}")),
        None => std::env::var(TOKEN_ENV)
            .map(|t| t.trim().to_owned())
            .map_err(|_| format!("give --operator-token-file or set {TOKEN_ENV}")),
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let backend = match (&args.data, &args.postgres, &args.postgres_url_file) {
        (Some(dir), None, None) => Backend::Sqlite(dir.clone()),
        (None, Some(url), None) => Backend::Postgres(url.clone()),
        (None, None, Some(file)) => Backend::Postgres(
            std::fs::read_to_string(file)
                .map(|u| u.trim().to_owned())
                .map_err(|e| format!("cannot read the PostgreSQL URL file: {e}"))?,
        ),
        _ => {
            return Err(
                "give exactly one of --data DIR, --postgres URL or --postgres-url-file FILE".into(),
            )
        }
    };
    let mut config = RelayConfig::new(args.listen, backend, operator_token(&args)?);
    config.request_timeout = Duration::from_secs(args.request_timeout_secs.max(1));
    config.postgres_pool_size = args.postgres_pool_size;
    config.max_body_memory = args.max_body_memory_mib.saturating_mul(1024 * 1024);
    let relay = fieldvault_relay::start(config)
        .await
        .map_err(|e| e.to_string())?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{}", relay.local_addr()).map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    relay.shutdown().await.map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fieldvault-relay: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!(error = %message, "relay stopped");
            eprintln!("fieldvault-relay: {message}");
            ExitCode::FAILURE
        }
    }
}

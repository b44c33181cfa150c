//! `reeld`: parse configuration, build the runtime, serve, drain on SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use reel_daemon::config::{Config, EXIT_CONFIG};
use reel_daemon::{logging, service};

/// The Reel daemon: turns prompts into clips with sound.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (default /etc/reel/reeld.toml; built-in defaults if that is absent).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// State directory for the jobs database and media (overrides `state_dir`).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("reeld: {e}");
            return ExitCode::from(EXIT_CONFIG as u8);
        }
    };
    if let Some(dir) = cli.state_dir {
        config.state_dir = dir;
    }
    if cli.print_config {
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    logging::init(&config.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(service::serve(config, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!("cannot listen for signals ({e}); stop with SIGKILL");
            std::future::pending::<()>().await;
        }
    }
}

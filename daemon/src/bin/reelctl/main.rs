//! `reelctl`, the operator CLI. Exit codes: 0 ok, 1 the operation failed, 2 usage, 64 bad
//! configuration.

mod commands;
mod progress;
mod remote;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use reel_daemon::config::{Config, EXIT_CONFIG};

/// Operate a Reel appliance: make clips, queue jobs for reeld, list and cancel them.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (default /etc/reel/reeld.toml; built-in defaults if that is absent).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// State directory of the reeld to talk to (overrides `state_dir`).
    #[arg(long, global = true, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Talk to reeld over D-Bus on the system bus.
    #[arg(long, global = true, conflicts_with = "session")]
    system: bool,
    /// Talk to reeld over D-Bus on the session bus (DBUS_SESSION_BUS_ADDRESS).
    #[arg(long, global = true)]
    session: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a clip and print its path: in this process, or with --system/--session by reeld,
    /// following its progress.
    Generate(commands::GenerateArgs),
    /// Queue a job for the running reeld (through its jobs database, or D-Bus with
    /// --system/--session) and print its id.
    Submit(commands::SubmitArgs),
    /// List recent jobs.
    Jobs(commands::JobsArgs),
    /// Cancel a queued or running job.
    Cancel {
        /// Job id, as `reelctl jobs` shows it.
        id: i64,
    },
}

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub enum Failure {
    /// Bad configuration: exit 64.
    Config(String),
    /// The operation failed: exit 1.
    Failed(String),
    /// The arguments do not go together: exit 2.
    Usage(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref()).map_err(|e| Failure::Config(e.to_string()));
    let result = config.and_then(|mut config| {
        if let Some(dir) = cli.state_dir {
            config.state_dir = dir;
        }
        let bus = match (cli.system, cli.session) {
            (true, _) => Some(remote::Bus::System),
            (_, true) => Some(remote::Bus::Session),
            _ => None,
        };
        if let Some(bus) = bus {
            return remote::run(async move {
                match cli.command {
                    Command::Generate(args) => remote::generate(bus, args).await,
                    Command::Submit(args) => remote::submit(bus, args).await,
                    Command::Jobs(args) => remote::jobs(bus, args).await,
                    Command::Cancel { id } => remote::cancel(bus, id).await,
                }
            });
        }
        match cli.command {
            Command::Generate(args) => commands::generate(&config, args),
            Command::Submit(args) => commands::submit(&config, args),
            Command::Jobs(args) => commands::jobs(&config, args),
            Command::Cancel { id } => commands::cancel(&config, id),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Config(message)) => {
            eprintln!("reelctl: {message}");
            ExitCode::from(EXIT_CONFIG as u8)
        }
        Err(Failure::Failed(message)) => {
            eprintln!("reelctl: {message}");
            ExitCode::FAILURE
        }
        Err(Failure::Usage(message)) => {
            eprintln!("reelctl: {message}");
            ExitCode::from(2)
        }
    }
}

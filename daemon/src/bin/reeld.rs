//! `reeld`: parse configuration, build the runtime, serve, drain on SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use reel_daemon::api::Api;
use reel_daemon::config::{BusKind, Config, EXIT_CONFIG};
use reel_daemon::dbus::DbusApi;
use reel_daemon::events::ServiceHandle;
use reel_daemon::mqtt::MqttApi;
use reel_daemon::store::Store;
use reel_daemon::systemd::Notifier;
use reel_daemon::{logging, playout, service};

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
    /// Which bus to serve org.reel.Reel1 on (overrides `dbus.bus`): `session` uses
    /// DBUS_SESSION_BUS_ADDRESS; `none` serves no D-Bus API.
    #[arg(long, value_enum, value_name = "BUS")]
    bus: Option<Bus>,
    /// Serve the MQTT API through this broker (`mqtt://host:1883`, `mqtts://host:8883`);
    /// overrides `mqtt.url` and turns `mqtt.enabled` on.
    #[arg(long, value_name = "URL")]
    mqtt: Option<String>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    print_config: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Bus {
    System,
    Session,
    None,
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
    if let Some(bus) = cli.bus {
        config.dbus.bus = match bus {
            Bus::System => BusKind::System,
            Bus::Session => BusKind::Session,
            Bus::None => BusKind::None,
        };
    }
    if let Some(url) = cli.mqtt {
        config.mqtt.enabled = true;
        config.mqtt.url = url;
        if let Err(e) = config.validate() {
            eprintln!("reeld: {e}");
            return ExitCode::from(EXIT_CONFIG as u8);
        }
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
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the store, brings up the D-Bus API (so a bus problem stops reeld before any job is
/// touched) and MQTT (which keeps retrying an absent broker), then serves until a signal.
async fn run(config: Config) -> Result<(), String> {
    drop(Store::open(&config.database_path()).map_err(|e| e.to_string())?);
    let handle = ServiceHandle::new();
    // Before serving, so READY=1 comes after the program and its outputs are built.
    let program = playout::start_if_enabled(&config, &handle)
        .await
        .map_err(|e| e.to_string())?;
    let api = match config.dbus.bus {
        BusKind::None => None,
        bus => Some(
            DbusApi::start(&config, bus, handle.clone())
                .await
                .map_err(|e| e.to_string())?,
        ),
    };
    let mqtt = match config.mqtt.enabled {
        true => {
            let remote = Api::open(&config, handle.clone()).map_err(|e| e.to_string())?;
            let started = MqttApi::start(&config.mqtt, Arc::new(remote), handle.clone());
            Some(started.map_err(|e| e.to_string())?)
        }
        false => None,
    };
    let shutdown = async {
        shutdown_signal().await;
        if let Some(api) = &api {
            api.set_stopping();
        }
        if let Some(mqtt) = &mqtt {
            mqtt.set_stopping();
        }
    };
    let served = service::serve(config, handle, Notifier::from_env(), shutdown).await;
    drop(api);
    if let Some(mqtt) = mqtt {
        mqtt.stop(Duration::from_secs(3)).await;
    }
    playout::stop_if_running(program).await;
    served.map_err(|e| e.to_string())
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

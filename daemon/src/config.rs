//! `reeld.toml`: every key has a built-in default, unknown keys and bad values are refused with
//! the key's dotted name, and the effective configuration can be printed back as TOML.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where `reeld` and `reelctl` look for their configuration when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/reel/reeld.toml";

/// Exit code for a bad configuration (sysexits `EX_CONFIG` is 78, but `EX_USAGE`, 64, is what
/// operators of our other appliances script against).
pub const EXIT_CONFIG: i32 = 64;

/// The whole daemon configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Jobs database and generated media live here.
    pub state_dir: PathBuf,
    /// Logging.
    pub log: LogConfig,
    /// Model bundle and ONNX Runtime.
    pub engine: EngineConfig,
    /// The job queue.
    pub jobs: JobsConfig,
    /// Encoded outputs.
    pub output: OutputConfig,
    /// Local control over D-Bus.
    pub dbus: DbusConfig,
    /// Remote control over MQTT.
    pub mqtt: crate::mqtt::MqttConfig,
    /// The kiosk playout (one continuous program); off by default.
    pub playout: reel_pipeline::PlayoutConfig,
    /// Live outputs of the playout (HLS, RTSP, SRT, RTP/UDP, display).
    pub outputs: reel_pipeline::OutputsConfig,
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (journald-friendly lines) or `json` (one object per line).
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `reel_daemon=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Plain text without timestamps (journald adds its own).
    Text,
    /// JSON objects.
    Json,
}

/// Which bundle to run, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// The model bundle used when a job names none.
    pub bundle: PathBuf,
    /// ONNX Runtime library, execution providers and threads.
    pub runtime: reel_engines::RuntimeConfig,
}

/// Job queue limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Jobs that may wait (queued or running) before new ones are refused as "queue full".
    pub queue_capacity: u32,
    /// Longest accepted prompt, in characters.
    pub max_prompt_chars: u32,
    /// Times a job may be started; a job interrupted by a crash on its last attempt fails.
    pub max_attempts: u32,
    /// On SIGTERM, how long the running job may go on before it is interrupted and re-queued.
    pub shutdown_grace_secs: u64,
    /// How often the store is checked for jobs submitted by `reelctl submit` and for cancels.
    pub poll_interval_ms: u64,
    /// A running job whose engine and encoder report nothing for this long counts as stuck:
    /// watchdog pings stop and systemd restarts reeld (the job is then re-queued once). Raise it
    /// where TensorRT engines are compiled on first load, which reports nothing for minutes.
    pub stall_timeout_secs: u64,
}

/// The D-Bus API (`org.reel.Reel1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DbusConfig {
    /// Which bus to serve on; `reeld --bus` overrides it.
    pub bus: BusKind,
    /// How callers of mutating methods are checked on the system bus.
    pub authorization: Authorization,
    /// With `authorization = "group"`: the group whose members may call (the bus policy file
    /// for kiosks admits the same group).
    pub group: String,
}

/// A message bus, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusKind {
    /// The system bus (production).
    System,
    /// The bus in `DBUS_SESSION_BUS_ADDRESS` (development, tests).
    Session,
    /// No D-Bus API; `reelctl` reaches reeld through the jobs database only.
    None,
}

impl BusKind {
    /// Lowercase name, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            BusKind::System => "system",
            BusKind::Session => "session",
            BusKind::None => "none",
        }
    }
}

/// How mutating D-Bus calls are authorised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Authorization {
    /// Ask polkit for every call (actions in `org.reel.Reel1.policy`).
    Polkit,
    /// Kiosks without polkit: members of `dbus.group` (plus root) may call.
    Group,
}

impl Default for DbusConfig {
    fn default() -> Self {
        DbusConfig {
            bus: BusKind::System,
            authorization: Authorization::Polkit,
            group: "reel".into(),
        }
    }
}

/// Where and how clips are written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    /// Directory for finished MP4 files; empty means `<state_dir>/media`.
    pub dir: PathBuf,
    /// Encoders and output size.
    pub encoder: reel_pipeline::EncoderConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            state_dir: PathBuf::from("/var/lib/reel"),
            log: LogConfig::default(),
            engine: EngineConfig::default(),
            jobs: JobsConfig::default(),
            output: OutputConfig::default(),
            dbus: DbusConfig::default(),
            mqtt: crate::mqtt::MqttConfig::default(),
            playout: reel_pipeline::PlayoutConfig::default(),
            outputs: reel_pipeline::OutputsConfig::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            bundle: PathBuf::from("/usr/share/reel/bundles/default"),
            runtime: reel_engines::RuntimeConfig::default(),
        }
    }
}

impl JobsConfig {
    /// The limits a submission is checked against, for a bundle that allows `max_seconds`.
    pub fn limits(&self, max_seconds: f64) -> crate::queue::Limits {
        crate::queue::Limits {
            capacity: self.queue_capacity,
            max_prompt_chars: self.max_prompt_chars,
            max_seconds,
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            queue_capacity: 16,
            max_prompt_chars: 2000,
            max_attempts: 2,
            shutdown_grace_secs: 30,
            poll_interval_ms: 250,
            stall_timeout_secs: 900,
        }
    }
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            dir: PathBuf::new(),
            encoder: reel_pipeline::EncoderConfig::default(),
        }
    }
}

/// Why a configuration was refused. Every message names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("cannot read configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key, or a value of the wrong type.
    #[error("configuration {path}: key `{key}`: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Dotted key path, e.g. `jobs.queue_capacity`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A value parsed but is out of range.
    #[error("configuration: key `{key}`: {message}")]
    Invalid {
        /// Dotted key path.
        key: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
}

impl Config {
    /// Loads `path`. A missing file at the default location means built-in defaults; a missing
    /// file that was asked for explicitly is an error.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_PATH), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Config::default());
            }
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let config = Config::parse(&text).map_err(|(key, message)| ConfigError::Parse {
            path: path.clone(),
            key,
            message,
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML text; on failure returns the dotted key and the message.
    pub fn parse(text: &str) -> Result<Config, (String, String)> {
        let deserializer =
            toml::Deserializer::parse(text).map_err(|e| ("(syntax)".to_string(), e.to_string()))?;
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.message().to_string();
            // At the top level the path is "."; an unknown key is then named by the message.
            let key = match unknown_field_name(&message) {
                Some(field) if key == "." => field.to_string(),
                _ => key,
            };
            (key, message)
        })
    }

    /// Checks ranges that types alone cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let jobs = &self.jobs;
        check_range("jobs.queue_capacity", jobs.queue_capacity as u64, 1, 10_000)?;
        check_range(
            "jobs.max_prompt_chars",
            jobs.max_prompt_chars as u64,
            1,
            100_000,
        )?;
        check_range("jobs.max_attempts", jobs.max_attempts as u64, 1, 10)?;
        check_range(
            "jobs.shutdown_grace_secs",
            jobs.shutdown_grace_secs,
            0,
            3600,
        )?;
        check_range("jobs.poll_interval_ms", jobs.poll_interval_ms, 10, 10_000)?;
        check_range(
            "jobs.stall_timeout_secs",
            jobs.stall_timeout_secs,
            1,
            86_400,
        )?;
        if self.state_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid {
                key: "state_dir",
                message: "must not be empty".into(),
            });
        }
        if self.dbus.group.trim().is_empty() {
            return Err(ConfigError::Invalid {
                key: "dbus.group",
                message: "must name a Unix group, e.g. \"reel\"".into(),
            });
        }
        self.mqtt.validate()?;
        crate::playout::validate(&self.playout, &self.outputs)?;
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(ConfigError::Invalid {
                key: "log.level",
                message: format!(
                    "`{}` is not a log filter; use e.g. `info`, `debug` or `reel_daemon=debug,info`",
                    self.log.level
                ),
            });
        }
        Ok(())
    }

    /// The effective configuration as TOML, for `reeld --print-config`.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }

    /// Directory where finished clips are written.
    pub fn media_dir(&self) -> PathBuf {
        if self.output.dir.as_os_str().is_empty() {
            self.state_dir.join("media")
        } else {
            self.output.dir.clone()
        }
    }

    /// Path of the jobs database.
    pub fn database_path(&self) -> PathBuf {
        self.state_dir.join("reel.db")
    }
}

fn check_range(key: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            key,
            message: format!("{value} is out of range; allowed {min} to {max}"),
        })
    }
}

/// Extracts `foo` from serde's "unknown field `foo`, expected one of ...".
fn unknown_field_name(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
        Config::default().validate().unwrap();
    }

    #[test]
    fn printed_config_parses_back_to_the_same() {
        let mut config = Config::default();
        config.jobs.queue_capacity = 3;
        config.log.format = LogFormat::Json;
        assert_eq!(Config::parse(&config.to_toml()).unwrap(), config);
    }

    #[test]
    fn unknown_key_is_named_with_its_table() {
        let (key, message) = Config::parse("[jobs]\nqueue_capacty = 4\n").unwrap_err();
        assert_eq!(key, "jobs.queue_capacty");
        assert!(message.contains("unknown field"), "{message}");
        let (key, _) = Config::parse("colour = 1\n").unwrap_err();
        assert_eq!(key, "colour");
    }

    #[test]
    fn wrong_type_is_named() {
        let (key, message) = Config::parse("[jobs]\nqueue_capacity = \"many\"\n").unwrap_err();
        assert_eq!(key, "jobs.queue_capacity");
        assert!(message.contains("invalid type"), "{message}");
        let (key, _) = Config::parse("[log]\nformat = \"xml\"\n").unwrap_err();
        assert_eq!(key, "log.format");
        let (key, _) = Config::parse("[dbus]\nbus = \"user\"\n").unwrap_err();
        assert_eq!(key, "dbus.bus");
    }

    #[test]
    fn out_of_range_value_is_named() {
        let config = Config::parse("[jobs]\nqueue_capacity = 0\n").unwrap();
        let err = config.validate().unwrap_err().to_string();
        assert!(
            err.contains("jobs.queue_capacity") && err.contains("out of range"),
            "{err}"
        );
        let config = Config::parse("[log]\nlevel = \"=\"\n").unwrap();
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("log.level")
        );
    }

    #[test]
    fn missing_default_file_is_fine_but_missing_explicit_file_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        assert!(matches!(
            Config::load(Some(&missing)),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn load_reports_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reeld.toml");
        std::fs::write(&path, "[output]\ndir = 5\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(
            err.contains("reeld.toml") && err.contains("output.dir"),
            "{err}"
        );
    }
}

//! The `[mqtt]` section of `reeld.toml`, the broker URL, and the device id that names this box
//! on the broker.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// Remote control over MQTT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// Off unless asked for; `reeld --mqtt URL` turns it on.
    pub enabled: bool,
    /// `mqtt://host:1883` or `mqtts://host:8883` (TLS).
    pub url: String,
    /// Empty: `reel-<device id>`.
    pub client_id: String,
    /// Empty: `reel/<device id>`.
    pub base_topic: String,
    /// Seconds between pings when idle; the broker declares us gone after 1.5 times this.
    pub keepalive_secs: u64,
    /// With `mqtts://`: the CA that signed the broker's certificate (PEM).
    pub ca_file: PathBuf,
    /// With `mqtts://`: this device's certificate (PEM), for brokers that require one.
    pub cert_file: PathBuf,
    /// The key of `cert_file` (PEM: PKCS#8, SEC1 or PKCS#1).
    pub key_file: PathBuf,
    /// Empty: no username.
    pub username: String,
    /// A file holding the password (never the password itself in this file).
    pub password_file: PathBuf,
    /// Messages kept while the broker is unreachable; beyond it the oldest progress events go.
    pub queue_capacity: u32,
    /// Publish Home Assistant device discovery.
    pub discovery: bool,
    /// Home Assistant's discovery prefix.
    pub discovery_prefix: String,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            enabled: false,
            url: "mqtt://127.0.0.1:1883".into(),
            client_id: String::new(),
            base_topic: String::new(),
            keepalive_secs: 30,
            ca_file: PathBuf::new(),
            cert_file: PathBuf::new(),
            key_file: PathBuf::new(),
            username: String::new(),
            password_file: PathBuf::new(),
            queue_capacity: 256,
            discovery: true,
            discovery_prefix: "homeassistant".into(),
        }
    }
}

/// Where the broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `mqtts://`.
    pub tls: bool,
}

/// Parses `mqtt://host[:port]` or `mqtts://host[:port]` (also `tcp://`, `ssl://`).
pub fn parse_url(url: &str) -> Result<BrokerUrl, String> {
    let (tls, rest) = match url.split_once("://") {
        Some(("mqtt" | "tcp", rest)) => (false, rest),
        Some(("mqtts" | "ssl", rest)) => (true, rest),
        _ => {
            return Err(format!(
                "`{url}` is not a broker URL; use mqtt://host:1883 or mqtts://host:8883"
            ));
        }
    };
    let rest = rest.trim_end_matches('/');
    let default_port = if tls { 8883 } else { 1883 };
    // `[::1]:1883`: the port follows the closing bracket.
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            let port =
                port.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    format!("`{url}`: port `{port}` is not a number from 1 to 65535")
                })?;
            (host, port)
        }
        _ => (rest, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains('/') || host.contains('@') {
        return Err(format!(
            "`{url}`: expected scheme://host[:port] without user or path"
        ));
    }
    Ok(BrokerUrl {
        host: host.to_string(),
        port,
        tls,
    })
}

impl MqttConfig {
    /// Checks what types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, message: String| ConfigError::Invalid { key, message };
        let url = parse_url(&self.url).map_err(|m| invalid("mqtt.url", m))?;
        if !(5..=3600).contains(&self.keepalive_secs) {
            return Err(invalid(
                "mqtt.keepalive_secs",
                format!("{} is out of range; allowed 5 to 3600", self.keepalive_secs),
            ));
        }
        if !(1..=100_000).contains(&self.queue_capacity) {
            return Err(invalid(
                "mqtt.queue_capacity",
                format!(
                    "{} is out of range; allowed 1 to 100000",
                    self.queue_capacity
                ),
            ));
        }
        let topic_ok = |t: &str| !t.contains(['+', '#', '\0']) && !t.starts_with('/');
        if !topic_ok(&self.base_topic) || self.base_topic.ends_with('/') {
            return Err(invalid(
                "mqtt.base_topic",
                "must not contain `+`, `#`, or start or end with `/`".into(),
            ));
        }
        if self.discovery_prefix.is_empty() || !topic_ok(&self.discovery_prefix) {
            return Err(invalid(
                "mqtt.discovery_prefix",
                "must be a topic prefix such as `homeassistant`".into(),
            ));
        }
        let set = |p: &Path| !p.as_os_str().is_empty();
        if set(&self.cert_file) != set(&self.key_file) {
            return Err(invalid(
                "mqtt.key_file",
                "cert_file and key_file go together: set both or neither".into(),
            ));
        }
        if !url.tls && (set(&self.ca_file) || set(&self.cert_file)) {
            return Err(invalid(
                "mqtt.url",
                "ca_file/cert_file are set but the URL is not mqtts://".into(),
            ));
        }
        if url.tls && !set(&self.ca_file) {
            return Err(invalid(
                "mqtt.ca_file",
                "an mqtts:// URL needs the broker's CA certificate (PEM)".into(),
            ));
        }
        Ok(())
    }

    /// The client id in force.
    pub fn effective_client_id(&self) -> String {
        match self.client_id.as_str() {
            "" => format!("reel-{}", device_id()),
            id => id.to_string(),
        }
    }

    /// The base topic in force.
    pub fn effective_base_topic(&self) -> String {
        match self.base_topic.as_str() {
            "" => format!("reel/{}", device_id()),
            base => base.to_string(),
        }
    }
}

/// A stable id for this box: a hash of `/etc/machine-id` (never the id itself, which systemd
/// asks not to expose), else of the host name.
pub fn device_id() -> String {
    let source = std::fs::read_to_string("/etc/machine-id")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_else(|| "reel".into());
    format!(
        "{:012x}",
        fnv1a(source.trim().as_bytes()) & 0xffff_ffff_ffff
    )
}

/// FNV-1a, 64 bits: stable across builds and platforms, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_default_ports() {
        let url = parse_url("mqtt://127.0.0.1").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.tls),
            ("127.0.0.1", 1883, false)
        );
        let url = parse_url("mqtts://broker.local:9000/").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.tls),
            ("broker.local", 9000, true)
        );
        assert_eq!(parse_url("mqtt://[::1]:1884").unwrap().host, "::1");
        for bad in [
            "http://x",
            "mqtt://",
            "mqtt://h:0",
            "mqtt://h:x",
            "mqtt://u@h",
            "h:1883",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation_names_the_key() {
        let key = |c: MqttConfig| match c.validate() {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("{other:?}"),
        };
        MqttConfig::default().validate().unwrap();
        let tls = MqttConfig {
            url: "mqtts://h".into(),
            ..MqttConfig::default()
        };
        assert_eq!(key(tls), "mqtt.ca_file");
        let half = MqttConfig {
            url: "mqtts://h".into(),
            ca_file: "/ca.pem".into(),
            cert_file: "/c.pem".into(),
            ..MqttConfig::default()
        };
        assert_eq!(key(half), "mqtt.key_file");
        let base = MqttConfig {
            base_topic: "reel/#".into(),
            ..MqttConfig::default()
        };
        assert_eq!(key(base), "mqtt.base_topic");
    }

    #[test]
    fn device_id_is_stable_and_short() {
        assert_eq!(device_id(), device_id());
        assert_eq!(device_id().len(), 12);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}

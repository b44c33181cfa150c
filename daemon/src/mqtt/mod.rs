//! Remote control over MQTT (Zigbee2MQTT-style request/response, Home Assistant discovery).
//!
//! - `<base>/available`: `online` / `offline` (last will), retained, QoS 1.
//! - `<base>/state`: retained JSON (engine, bundle, providers, queue, current job, playout,
//!   version), refreshed on job events at most every 250 ms.
//! - `<base>/request/<verb>` → `<base>/response/<verb>`: the [`crate::api`] schema.
//! - `<base>/jobs/<id>`: job events, not retained.
//! - `<discovery_prefix>/device/<id>/config`: Home Assistant device discovery, retained.
//!
//! One poller task owns rumqttc's event loop for the daemon's life (polling again is what
//! reconnects, after a jittered backoff); a protocol task does the rest with the sans-IO state in
//! [`session`]. MQTT 3.1.1 only for now.

mod client;
mod config;
pub mod documents;
mod poller;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, LastWill, MqttOptions, QoS, TlsConfiguration, Transport};
use tokio::sync::oneshot;

pub use config::{BrokerUrl, MqttConfig, device_id, parse_url};

use crate::api::Api;
use crate::events::ServiceHandle;
use session::Topics;

/// Requests handed to rumqttc but not yet on the wire; beyond this, messages wait in our own
/// bounded [`session::Outbox`].
const CLIENT_CHANNEL: usize = 64;
/// Incoming packets up to this size are read (and oversized requests refused with an answer);
/// larger ones make rumqttc drop the connection, so brokers should cap `max_packet_size` lower.
const MAX_INCOMING_PACKET: usize = 2 * 1024 * 1024;

/// Why MQTT could not start.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// A file named in `[mqtt]` could not be read.
    #[error("mqtt.{key}: cannot read {path}: {source}")]
    File {
        /// The configuration key.
        key: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The broker URL is not usable.
    #[error("mqtt.url: {0}")]
    Url(String),
}

/// MQTT, running. [`MqttApi::stop`] says goodbye to the broker; dropping it just stops.
#[derive(Debug)]
pub struct MqttApi {
    api: Arc<Api>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl MqttApi {
    /// Reads the credentials and certificates, then starts the client. The broker need not be
    /// up: reeld keeps trying.
    pub fn start(
        config: &MqttConfig,
        api: Arc<Api>,
        handle: ServiceHandle,
    ) -> Result<MqttApi, MqttError> {
        let url = parse_url(&config.url).map_err(MqttError::Url)?;
        let client_id = config.effective_client_id();
        let topics = Topics::new(
            &config.effective_base_topic(),
            &config.discovery_prefix,
            &client_id,
        );
        let mut options = MqttOptions::new(client_id.clone(), url.host.clone(), url.port);
        options
            .set_keep_alive(Duration::from_secs(config.keepalive_secs))
            .set_clean_session(true)
            .set_max_packet_size(MAX_INCOMING_PACKET, MAX_INCOMING_PACKET)
            .set_last_will(LastWill::new(
                topics.available(),
                "offline",
                QoS::AtLeastOnce,
                true,
            ));
        if !config.password_file.as_os_str().is_empty() {
            let password = read(&config.password_file, "password_file")?;
            let password = String::from_utf8_lossy(&password).trim_end().to_string();
            options.set_credentials(config.username.clone(), password);
        } else if !config.username.is_empty() {
            options.set_credentials(config.username.clone(), String::new());
        }
        if url.tls {
            // rustls is built with ring only; installing it says so explicitly in case another
            // crate ever enables a second provider.
            if tokio_rustls::rustls::crypto::ring::default_provider()
                .install_default()
                .is_err()
            {
                tracing::debug!("a rustls crypto provider was installed already");
            }
            let client_auth = if config.cert_file.as_os_str().is_empty() {
                None
            } else {
                Some((
                    read(&config.cert_file, "cert_file")?,
                    read(&config.key_file, "key_file")?,
                ))
            };
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
                ca: read(&config.ca_file, "ca_file")?,
                alpn: None,
                client_auth,
            }));
        }
        let (client, mut eventloop) = AsyncClient::new(options, CLIENT_CHANNEL);
        // Small answers must not wait for Nagle's algorithm and the peer's delayed ACK (40 ms).
        eventloop.network_options.set_tcp_nodelay(true);
        let (stop, stopped) = oneshot::channel();
        let settings = client::Settings {
            topics,
            queue_capacity: config.queue_capacity as usize,
            discovery: config.discovery,
        };
        tracing::info!(broker = %config.url, client_id, base = settings.topics.base(), "MQTT starting");
        let task = tokio::spawn(client::run(
            settings,
            client,
            eventloop,
            api.clone(),
            handle,
            stopped,
        ));
        Ok(MqttApi {
            api,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// reeld is draining: `generate` is refused and the state says `stopping`.
    pub fn set_stopping(&self) {
        self.api.set_stopping();
    }

    /// Publishes `offline`, disconnects cleanly (so the broker does not send the last will
    /// twice) and waits for the task, at most `timeout`.
    pub async fn stop(mut self, timeout: Duration) {
        if let Some(stop) = self.stop.take()
            && stop.send(()).is_err()
        {
            tracing::debug!("the MQTT task had ended already");
        }
        if let Some(task) = self.task.take()
            && tokio::time::timeout(timeout, task).await.is_err()
        {
            tracing::warn!("MQTT did not stop within {timeout:?}; the broker sends the last will");
        }
    }
}

impl Drop for MqttApi {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn read(path: &std::path::Path, key: &'static str) -> Result<Vec<u8>, MqttError> {
    std::fs::read(path).map_err(|source| MqttError::File {
        key,
        path: path.to_path_buf(),
        source,
    })
}

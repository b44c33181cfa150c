//! Rust-side helpers for the D-Bus tests: reeld on a private bus, signal subscriptions made
//! before the call, following one job to `Completed`, and raw calls whose error names arrive
//! untouched.

use std::collections::HashMap;

use futures_util::StreamExt;
use reel_daemon::dbus::JobProxy;
use zbus::message::Type as MessageType;
use zbus::{Connection, MatchRule, MessageStream, OwnedObjectPath, OwnedVariant, Variant};

use super::bus::{JOB_IFACE, MANAGER, MANAGER_IFACE, NAME, PrivateBus};
use super::{PATIENCE, Reeld, Setup};

/// A private bus with reeld on it; reeld goes first on drop.
pub struct Daemon {
    _reeld: Reeld,
    pub setup: Setup,
    pub bus: PrivateBus,
}

pub fn daemon(extra_toml: &str) -> Daemon {
    let bus = PrivateBus::start();
    let setup = Setup::on_bus(&bus, extra_toml);
    let reeld = setup.start_reeld();
    bus.wait_for_reeld(|| reeld.log_text());
    Daemon {
        _reeld: reeld,
        setup,
        bus,
    }
}

pub fn options(pairs: &[(&str, Variant<'static>)]) -> HashMap<String, OwnedVariant> {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                OwnedVariant::try_from(v.try_clone().unwrap()).unwrap(),
            )
        })
        .collect()
}

/// Every signal reeld sends about jobs, subscribed before anything is asked of it.
pub async fn job_signals(connection: &Connection) -> MessageStream {
    let rule = MatchRule::builder()
        .msg_type(MessageType::Signal)
        .sender(NAME)
        .path_namespace("/org/reel/Reel1/Job")
        .build()
        .unwrap();
    MessageStream::for_match_rule(rule, connection, None)
        .await
        .unwrap()
}

/// What one job signalled until `Completed`: each `PropertiesChanged`, then the completion.
pub struct Followed {
    pub changes: Vec<HashMap<String, OwnedVariant>>,
    pub ok: bool,
    pub message: String,
}

impl Followed {
    pub fn values<T: TryFrom<OwnedVariant>>(&self, name: &str) -> Vec<T> {
        self.changes
            .iter()
            .filter_map(|c| c.get(name)?.try_clone().ok()?.try_into().ok())
            .collect()
    }
}

pub async fn follow(signals: &mut MessageStream, path: &OwnedObjectPath) -> Followed {
    let mut changes = Vec::new();
    let wait = async {
        while let Some(Ok(message)) = signals.next().await {
            let header = message.header();
            if header.path().map(|p| p.as_str()) != Some(path.as_str()) {
                continue;
            }
            match header.member().map(|m| m.as_str()) {
                Some("PropertiesChanged") => {
                    let (iface, changed, _): (String, HashMap<String, OwnedVariant>, Vec<String>) =
                        message.body().deserialize().unwrap();
                    assert_eq!(iface, JOB_IFACE);
                    changes.push(changed);
                }
                Some("Completed") => {
                    return message.body().deserialize::<(bool, String)>().unwrap();
                }
                _ => {}
            }
        }
        panic!("signal stream ended")
    };
    let (ok, message) = tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("Completed arrives");
    Followed {
        changes,
        ok,
        message,
    }
}

/// A job proxy that reads from reeld on every call: a cached property is only as fresh as the
/// proxy's own signal subscription, which may lag the test's.
pub async fn job_proxy<'a>(connection: &'a Connection, path: &OwnedObjectPath) -> JobProxy<'a> {
    JobProxy::builder(connection)
        .path(path.clone())
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .unwrap()
}

/// The D-Bus error name of a failed raw call.
pub fn error_name(result: zbus::Result<zbus::Message>) -> (String, String) {
    use zbus::DBusError;
    match result.expect_err("the call fails") {
        zbus::Error::MethodError(name, message, _) => {
            (name.to_string(), message.unwrap_or_default())
        }
        zbus::Error::FDO(e) => (
            e.name().to_string(),
            e.description().unwrap_or_default().to_string(),
        ),
        other => panic!("not a D-Bus error reply: {other:?}"),
    }
}

/// A raw call on the manager, so the reply's error name arrives untouched.
pub async fn call<B>(connection: &Connection, method: &str, body: &B) -> zbus::Result<zbus::Message>
where
    B: serde::Serialize + zbus::DynamicType,
{
    connection
        .call_method(Some(NAME), MANAGER, Some(MANAGER_IFACE), method, body)
        .await
}

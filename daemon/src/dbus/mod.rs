//! The local control API on D-Bus: `org.reel.Reel1`.
//!
//! - `/org/reel/Reel1`: `org.reel.Reel1.Manager` (Generate, ListJobs, CancelJob; State,
//!   QueueLength, Bundle, Providers, Version) and `org.freedesktop.DBus.ObjectManager`.
//! - `/org/reel/Reel1/Job/<id>`: `org.reel.Reel1.Job` (properties, Cancel, Completed).
//!
//! The jobs database stays the source of truth: this layer submits and cancels through its own
//! store connection, wakes the service, and mirrors the service's job events onto the bus.
//! `daemon/dbus/org.reel.Reel1.xml` is the committed introspection, checked by a test.

mod auth;
mod context;
mod errors;
mod job;
mod manager;
mod options;
mod pump;

use std::sync::Arc;

use zbus::fdo::{ObjectManager, RequestNameFlags, RequestNameReply};
use zbus::{Connection, OwnedObjectPath, connection};

pub use auth::{Action, Authorizer, gid_of, group_decision, polkit_decision};
pub use context::job_id_from_path;
pub use errors::ReelError;
pub use job::{Job, JobProxy, state_code};
pub use manager::{LIST_LIMIT, Manager, ManagerProxy, ManagerState};
pub use options::{JobOptions, KNOWN as KNOWN_OPTIONS, NOT_YET as UNSUPPORTED_OPTIONS};

use crate::config::{BusKind, Config};
use crate::events::ServiceHandle;
use crate::store::{Store, StoreError};
use context::Context;

/// The well-known name; the major version is in it, as in the interfaces and paths.
pub const BUS_NAME: &str = "org.reel.Reel1";
/// The manager object.
pub const MANAGER_PATH: &str = "/org/reel/Reel1";
/// Job objects are this prefix and the job id.
pub const JOB_PATH_PREFIX: &str = "/org/reel/Reel1/Job/";
/// The manager interface.
pub const MANAGER_INTERFACE: &str = "org.reel.Reel1.Manager";
/// The job interface.
pub const JOB_INTERFACE: &str = "org.reel.Reel1.Job";

/// The object path of job `id`.
pub fn job_path(id: i64) -> OwnedObjectPath {
    OwnedObjectPath::try_from(format!("{JOB_PATH_PREFIX}{id}"))
        .expect("a prefix and a number form a valid object path")
}

/// Why the D-Bus API could not start. reeld exits 1 with this message.
#[derive(Debug, thiserror::Error)]
pub enum DbusError {
    /// No connection to the bus.
    #[error("cannot connect to the {bus} bus: {source}; {hint}")]
    Connect {
        /// Which bus.
        bus: &'static str,
        /// zbus's error.
        source: zbus::Error,
        /// What to check.
        hint: &'static str,
    },
    /// Someone else owns `org.reel.Reel1`.
    #[error(
        "{BUS_NAME} is already owned on the {bus} bus: is another reeld running? (`busctl --{bus} status {BUS_NAME}`)"
    )]
    NameTaken {
        /// Which bus.
        bus: &'static str,
    },
    /// The bus refused the name (usually the bus policy).
    #[error("the {bus} bus refused {BUS_NAME} to reeld: {source}; {hint}")]
    NameRefused {
        /// Which bus.
        bus: &'static str,
        /// The bus's error.
        source: zbus::Error,
        /// What to check.
        hint: &'static str,
    },
    /// Objects could not be registered.
    #[error("cannot set up the D-Bus objects: {0}")]
    Objects(#[from] zbus::Error),
    /// The D-Bus layer's store connection failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The API, running. Dropping it leaves the bus.
#[derive(Debug)]
pub struct DbusApi {
    connection: Connection,
    ctx: Arc<Context>,
    pump: tokio::task::JoinHandle<()>,
}

impl DbusApi {
    /// Connects to `bus`, puts the objects up, then owns [`BUS_NAME`]: clients only find the
    /// name once every object answers.
    pub async fn start(
        config: &Config,
        bus: BusKind,
        handle: ServiceHandle,
    ) -> Result<DbusApi, DbusError> {
        let (builder, name, hint) = match bus {
            BusKind::Session => (
                connection::Builder::session(),
                "session",
                "is DBUS_SESSION_BUS_ADDRESS set to a running bus?",
            ),
            _ => (
                connection::Builder::system(),
                "system",
                "is dbus-daemon running (systemctl status dbus)? Use --bus session or --bus none to run without it",
            ),
        };
        let connection = builder.build().await.map_err(|source| DbusError::Connect {
            bus: name,
            source,
            hint,
        })?;
        let store = Store::open(&config.database_path())?;
        let auth = Authorizer::new(
            connection.clone(),
            bus,
            config.dbus.authorization,
            &config.dbus.group,
        )
        .await?;
        tracing::info!(bus = name, mode = ?auth.mode(), "D-Bus authorisation");
        let ctx = Arc::new(Context::new(
            store,
            handle,
            auth,
            config,
            connection.clone(),
        ));
        let providers = config
            .engine
            .runtime
            .providers
            .iter()
            .map(|p| p.as_str().to_string())
            .collect();
        let manager = Manager::new(
            ctx.clone(),
            config.engine.bundle.display().to_string(),
            providers,
        );
        let server = connection.object_server();
        server.at(MANAGER_PATH, manager).await?;
        server.at(MANAGER_PATH, ObjectManager).await?;
        // The newest jobs are on the bus before the name is, as ListJobs would put them.
        let setup = async {
            for record in ctx.with_store(|s| s.list_jobs(LIST_LIMIT)).await? {
                ctx.ensure_job(record).await?;
            }
            pump::refresh_manager(&ctx).await
        };
        setup
            .await
            .map_err(|e| zbus::Error::Failure(e.to_string()))?;
        let policy_hint = "install daemon/dbus/org.reel.Reel1.conf in /usr/share/dbus-1/system.d/ and run reeld as user `reel`";
        match connection
            .request_name_with_flags(BUS_NAME, RequestNameFlags::DO_NOT_QUEUE)
            .await
        {
            Ok(RequestNameReply::PrimaryOwner) | Ok(RequestNameReply::AlreadyOwner) => {}
            Ok(_) | Err(zbus::Error::NameTaken) => return Err(DbusError::NameTaken { bus: name }),
            Err(source) => {
                return Err(DbusError::NameRefused {
                    bus: name,
                    source,
                    hint: policy_hint,
                });
            }
        }
        let pump = tokio::spawn(pump::run(ctx.clone()));
        tracing::info!(bus = name, name = BUS_NAME, "D-Bus API ready");
        Ok(DbusApi {
            connection,
            ctx,
            pump,
        })
    }

    /// reeld is draining: `Generate` is refused from now on and `State` becomes 3 (stopping).
    pub fn set_stopping(&self) {
        self.ctx.set_stopping();
    }

    /// The connection, for tests and tools.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }
}

impl Drop for DbusApi {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

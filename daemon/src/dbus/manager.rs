//! `org.reel.Reel1.Manager` at `/org/reel/Reel1`: submit, list and cancel jobs, and the daemon's
//! state.

use std::collections::HashMap;
use std::sync::Arc;

use zbus::message::Header;
use zbus::{ObjectPath, OwnedObjectPath, OwnedVariant, interface};

use super::auth::Action;
use super::context::{Context, job_id_from_path};
use super::errors::ReelError;
use super::options;

/// Jobs `ListJobs` returns, newest first.
pub const LIST_LIMIT: u32 = 100;

/// The manager object.
#[derive(Debug)]
pub struct Manager {
    ctx: Arc<Context>,
    pub(super) state: ManagerState,
    pub(super) queue_length: u32,
    bundle: String,
    providers: Vec<String>,
}

/// The daemon's state as `u`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagerState {
    /// Not known (never sent by reeld; for clients that read a missing value).
    Unknown = 0,
    /// Nothing running.
    Idle = 1,
    /// A job is on the engine.
    Busy = 2,
    /// Draining for shutdown; `Generate` is refused.
    Stopping = 3,
}

impl Manager {
    /// The manager for `ctx`.
    pub(super) fn new(ctx: Arc<Context>, bundle: String, providers: Vec<String>) -> Manager {
        Manager {
            ctx,
            state: ManagerState::Unknown,
            queue_length: 0,
            bundle,
            providers,
        }
    }
}

/// Documented in the committed introspection XML (`daemon/dbus/org.reel.Reel1.xml`).
#[interface(
    name = "org.reel.Reel1.Manager",
    proxy(
        default_service = "org.reel.Reel1",
        default_path = "/org/reel/Reel1",
        visibility = "pub"
    )
)]
impl Manager {
    /// Generate: queue a clip and return its job object at once (the job runs later; watch its
    /// PropertiesChanged and Completed, subscribing before the call). Options: seconds (d, or an
    /// integer type), seed (t, u, x or i; not negative), bundle (s, an absolute directory).
    /// style, shots, cameo and outputs are refused as NotSupported for now; any other key as
    /// InvalidArgument. Authorised as org.reel.Reel1.generate. Errors (org.reel.Reel1.Error.*):
    /// InvalidArgument, NotSupported, QueueFull, NotAuthorized, PolicyRefused, ShuttingDown,
    /// Failed; each message says what to fix.
    #[zbus(out_args("job"))]
    async fn generate(
        &self,
        prompt: String,
        options: HashMap<String, OwnedVariant>,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<OwnedObjectPath, ReelError> {
        self.ctx
            .authorize(header.sender(), Action::Generate)
            .await?;
        let parsed = options::parse(&options)?;
        let record = self.ctx.submit(prompt, parsed).await?;
        let id = record.id;
        let path = self.ctx.ensure_job(record).await?;
        // The service takes the job now rather than at its next poll.
        self.ctx.handle.wake();
        tracing::info!(job = id, caller = ?header.sender().map(|s| s.as_str()), "job queued over D-Bus");
        Ok(path)
    }

    /// ListJobs: the newest 100 jobs, newest first, whoever submitted them.
    #[zbus(out_args("jobs"))]
    async fn list_jobs(&self) -> Result<Vec<OwnedObjectPath>, ReelError> {
        let records = self
            .ctx
            .with_store(|store| store.list_jobs(LIST_LIMIT))
            .await?;
        let mut paths = Vec::with_capacity(records.len());
        for record in records {
            paths.push(self.ctx.ensure_job(record).await?);
        }
        Ok(paths)
    }

    /// CancelJob: as the job's Cancel(); job is a path from Generate or ListJobs. Errors:
    /// InvalidArgument (not a job path), NotFound, NotAuthorized.
    async fn cancel_job(
        &self,
        job: ObjectPath<'_>,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<(), ReelError> {
        let id = job_id_from_path(job.as_str())?;
        self.ctx.cancel(id, header.sender()).await
    }

    /// State: 0 unknown, 1 idle, 2 busy (a job is running), 3 stopping (no new jobs).
    #[zbus(property)]
    fn state(&self) -> u32 {
        self.state as u32
    }

    /// QueueLength: jobs queued or running (what jobs.queue_capacity limits).
    #[zbus(property)]
    fn queue_length(&self) -> u32 {
        self.queue_length
    }

    /// Bundle: the bundle directory used when Generate names none.
    #[zbus(property(emits_changed_signal = "const"))]
    fn bundle(&self) -> String {
        self.bundle.clone()
    }

    /// Providers: ONNX Runtime execution providers to try, best first (tensorrt, cuda, cpu).
    #[zbus(property(emits_changed_signal = "const"))]
    fn providers(&self) -> Vec<String> {
        self.providers.clone()
    }

    /// Version: reeld's version.
    #[zbus(property(emits_changed_signal = "const"))]
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }
}

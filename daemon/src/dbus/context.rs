//! What the D-Bus objects share: the D-Bus layer's own connection to the jobs database, the
//! service handle, the authoriser, and the registry of job objects on the bus.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use zbus::names::UniqueName;
use zbus::{Connection, OwnedObjectPath};

use super::auth::{Action, Authorizer};
use super::errors::ReelError;
use super::job::Job;
use super::options::JobOptions;
use super::{JOB_PATH_PREFIX, job_path};
use crate::config::{Config, JobsConfig};
use crate::events::{JobEvent, ServiceHandle};
use crate::queue::{CancelAction, JobId, JobState};
use crate::service::now_ms;
use crate::store::{JobRecord, NewJob, Store, StoreError};

/// Finished jobs kept on the bus beyond this many are removed, oldest first (they stay in the
/// store and come back when listed).
const MAX_JOB_OBJECTS: usize = 256;

/// Shared by the manager, the job objects and the event pump.
#[derive(Debug)]
pub struct Context {
    /// The D-Bus layer's own connection to the store: calls are short, and WAL lets it sit
    /// beside the service's.
    store: Arc<Mutex<Store>>,
    pub(super) handle: ServiceHandle,
    auth: Authorizer,
    jobs: JobsConfig,
    default_bundle: PathBuf,
    pub(super) connection: Connection,
    /// Job objects on the bus, and whether each job is over.
    registry: tokio::sync::Mutex<BTreeMap<JobId, bool>>,
    stopping: AtomicBool,
    /// Set when the queue may have changed, so the pump refreshes the manager's properties.
    pub(super) manager_dirty: Notify,
}

impl Context {
    /// Builds the context.
    pub(super) fn new(
        store: Store,
        handle: ServiceHandle,
        auth: Authorizer,
        config: &Config,
        connection: Connection,
    ) -> Context {
        Context {
            store: Arc::new(Mutex::new(store)),
            handle,
            auth,
            jobs: config.jobs.clone(),
            default_bundle: config.engine.bundle.clone(),
            connection,
            registry: tokio::sync::Mutex::new(BTreeMap::new()),
            stopping: AtomicBool::new(false),
            manager_dirty: Notify::new(),
        }
    }

    /// Runs `f` on the store off the async threads (SQLite fsyncs on commit).
    pub(super) async fn with_store<T, F>(&self, f: F) -> Result<T, ReelError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = store.lock().map_err(|_| {
                ReelError::Failed("the jobs database handle is poisoned; restart reeld".into())
            })?;
            f(&mut store).map_err(ReelError::from)
        })
        .await
        .map_err(|e| ReelError::Failed(format!("database task failed: {e}")))?
    }

    /// Whether reeld is draining for shutdown.
    pub(super) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// From now on `Generate` is refused.
    pub(super) fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.manager_dirty.notify_one();
    }

    /// Authorises the caller.
    pub(super) async fn authorize(
        &self,
        caller: Option<&UniqueName<'_>>,
        action: Action,
    ) -> Result<(), ReelError> {
        self.auth.check(caller, action).await
    }

    /// Queues a job with the same checks as `reelctl submit` (`queue::admit`, inside the store's
    /// transaction) and returns its record.
    pub(super) async fn submit(
        &self,
        prompt: String,
        options: JobOptions,
    ) -> Result<JobRecord, ReelError> {
        if self.is_stopping() {
            return Err(ReelError::ShuttingDown(
                "reeld is shutting down and takes no new jobs; submit again once it is back".into(),
            ));
        }
        let bundle = options
            .bundle
            .unwrap_or_else(|| self.default_bundle.clone());
        let opened = tokio::task::spawn_blocking({
            let bundle = bundle.clone();
            move || reel_engines::Bundle::open(&bundle)
        })
        .await
        .map_err(|e| ReelError::Failed(format!("bundle task failed: {e}")))?;
        let max_seconds = opened
            .map_err(|e| {
                ReelError::InvalidArgument(format!(
                    "{e} (option `bundle`, or engine.bundle in reeld.toml)"
                ))
            })?
            .manifest()
            .clip
            .max_seconds;
        let job = NewJob {
            prompt,
            seconds: options.seconds,
            seed: options.seed.unwrap_or_else(random_seed),
            bundle: bundle.display().to_string(),
        };
        let limits = self.jobs.limits(max_seconds);
        let record = self
            .with_store(move |store| {
                let id = store.submit(&job, &limits, now_ms())?;
                store.job(id)
            })
            .await?;
        self.manager_dirty.notify_one();
        Ok(record)
    }

    /// Cancels a job for `caller`: a queued one at once (announced as an event, so every front
    /// end sees it end), a running one by flagging it and waking the service.
    pub(super) async fn cancel(
        &self,
        id: JobId,
        caller: Option<&UniqueName<'_>>,
    ) -> Result<(), ReelError> {
        self.authorize(caller, Action::Cancel).await?;
        let action = self
            .with_store(move |store| store.request_cancel(id, now_ms()))
            .await?;
        match action {
            CancelAction::CancelQueued => self.handle.publish(JobEvent::Ended {
                id,
                state: JobState::Cancelled,
                error: None,
                output: None,
            }),
            CancelAction::StopRunning => self.handle.wake(),
            CancelAction::AlreadyFinished(_) => {}
        }
        Ok(())
    }

    /// Puts a job object on the bus unless it is there already; returns its path.
    pub(super) async fn ensure_job(
        self: &Arc<Self>,
        record: JobRecord,
    ) -> Result<OwnedObjectPath, ReelError> {
        let path = job_path(record.id);
        let mut registry = self.registry.lock().await;
        if registry.contains_key(&record.id) {
            return Ok(path);
        }
        let (id, over) = (record.id, record.state.is_terminal());
        let server = self.connection.object_server();
        server
            .at(path.as_ref(), Job::new(record, self.clone()))
            .await?;
        registry.insert(id, over);
        // Finished jobs beyond the limit leave the bus, oldest first.
        while registry.len() > MAX_JOB_OBJECTS {
            let Some(oldest) = registry.iter().find(|(_, over)| **over).map(|(id, _)| *id) else {
                break;
            };
            registry.remove(&oldest);
            server.remove::<Job, _>(job_path(oldest).as_ref()).await?;
        }
        Ok(path)
    }

    /// Records that a job object's job is over (it may then be pruned).
    pub(super) async fn mark_over(&self, id: JobId) {
        if let Some(over) = self.registry.lock().await.get_mut(&id) {
            *over = true;
        }
    }

    /// Jobs with objects on the bus that are not over.
    pub(super) async fn live_jobs(&self) -> Vec<JobId> {
        let registry = self.registry.lock().await;
        registry
            .iter()
            .filter(|(_, over)| !**over)
            .map(|(id, _)| *id)
            .collect()
    }
}

/// The job id in a job object path, or why the path is not one.
pub fn job_id_from_path(path: &str) -> Result<JobId, ReelError> {
    path.strip_prefix(JOB_PATH_PREFIX)
        .and_then(|n| n.parse::<JobId>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            ReelError::InvalidArgument(format!(
                "`{path}` is not a job path; job paths look like {JOB_PATH_PREFIX}12 (ListJobs lists them)"
            ))
        })
}

/// A seed for jobs that name none.
fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64 ^ d.as_secs().rotate_left(20))
        .unwrap_or(0);
    nanos % 1_000_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_paths_parse_back_to_ids() {
        assert_eq!(job_id_from_path("/org/reel/Reel1/Job/12").unwrap(), 12);
        for bad in [
            "/org/reel/Reel1/Job/0",
            "/org/reel/Reel1/Job/x",
            "/org/reel/Reel1",
            "/",
            "/org/reel/Reel1/Job/-3",
        ] {
            assert!(job_id_from_path(bad).is_err(), "{bad}");
        }
    }
}

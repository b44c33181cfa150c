//! Carries the service's job events to the bus: job objects' `PropertiesChanged` and
//! `Completed`, and the manager's `State` and `QueueLength`. A slow reconcile against the store
//! catches what no event announces (a queued job cancelled by `reelctl cancel` through the
//! database, a job recovered after a crash) and anything missed when the pump fell behind.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use zbus::Variant;
use zbus::fdo::Properties;
use zbus::names::InterfaceName;
use zbus::object_server::InterfaceRef;

use super::context::Context;
use super::errors::ReelError;
use super::job::Job;
use super::manager::{Manager, ManagerState};
use super::{MANAGER_PATH, job_path};
use crate::events::JobEvent;
use crate::queue::{JobId, JobState};
use crate::store::JobRecord;

/// How often job objects are checked against the store.
const RECONCILE_INTERVAL: Duration = Duration::from_secs(1);

/// Runs until the service handle is dropped.
pub(super) async fn run(ctx: Arc<Context>) {
    let mut events = ctx.handle.subscribe();
    let mut reconcile = tokio::time::interval(RECONCILE_INTERVAL);
    reconcile.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let result = tokio::select! {
            event = events.recv() => match event {
                Ok(event) => on_event(&ctx, event).await,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "D-Bus fell behind the job events; re-reading the store");
                    reconcile_all(&ctx).await
                }
                Err(RecvError::Closed) => return,
            },
            _ = reconcile.tick() => reconcile_all(&ctx).await,
            () = ctx.manager_dirty.notified() => refresh_manager(&ctx).await,
        };
        if let Err(e) = result {
            tracing::warn!("D-Bus update failed: {e}");
        }
    }
}

async fn on_event(ctx: &Arc<Context>, event: JobEvent) -> Result<(), ReelError> {
    match event {
        JobEvent::Started { id, .. } => {
            let record = ctx.with_store(move |s| s.job(id)).await?;
            update_job(ctx, record.clone(), |job| job.apply_record(record)).await?;
        }
        JobEvent::Progress { id, progress } => {
            let iface = job_ref(ctx, id).await?;
            let changed = iface.get_mut().await.apply_progress(progress);
            emit(&iface, changed, None).await?;
            return Ok(());
        }
        JobEvent::Ended { id, .. } => {
            // The store has the whole story (timings, end time); the event only says when.
            let record = ctx.with_store(move |s| s.job(id)).await?;
            update_job(ctx, record.clone(), |job| job.apply_record(record)).await?;
        }
    }
    refresh_manager(ctx).await
}

/// The job's object, put on the bus from the store if it is not there yet (a job submitted
/// through the database, or one the pump has not seen).
async fn job_ref(ctx: &Arc<Context>, id: JobId) -> Result<InterfaceRef<Job>, ReelError> {
    let server = ctx.connection.object_server();
    if let Ok(iface) = server.interface::<_, Job>(job_path(id).as_ref()).await {
        return Ok(iface);
    }
    let record = ctx.with_store(move |s| s.job(id)).await?;
    ctx.ensure_job(record).await?;
    Ok(server.interface::<_, Job>(job_path(id).as_ref()).await?)
}

async fn update_job(
    ctx: &Arc<Context>,
    record: JobRecord,
    apply: impl FnOnce(&mut Job) -> HashMap<&'static str, Variant<'static>>,
) -> Result<(), ReelError> {
    let id = record.id;
    ctx.ensure_job(record).await?;
    let iface = job_ref(ctx, id).await?;
    let (changed, completion) = {
        let mut job = iface.get_mut().await;
        let changed = apply(&mut job);
        (changed, job.take_completion())
    };
    if completion.is_some() {
        ctx.mark_over(id).await;
    }
    emit(&iface, changed, completion).await
}

/// One `PropertiesChanged` with everything that changed, then `Completed` if the job is over,
/// in that order so a client that sees `Completed` has the final properties.
async fn emit(
    iface: &InterfaceRef<Job>,
    changed: HashMap<&'static str, Variant<'static>>,
    completion: Option<(bool, String)>,
) -> Result<(), ReelError> {
    let emitter = iface.signal_emitter();
    if !changed.is_empty() {
        let name = InterfaceName::from_static_str_unchecked("org.reel.Reel1.Job");
        Properties::properties_changed(emitter, name, changed, Cow::Borrowed(&[])).await?;
    }
    if let Some((ok, message)) = completion {
        Job::completed(emitter, ok, &message).await?;
    }
    Ok(())
}

/// Brings every live job object in line with the store when their state differs: one query for
/// the jobs still queued or running, then a read only of those that changed. Progress of a
/// running job is left alone: the events are fresher than the store's throttled copy.
async fn reconcile_all(ctx: &Arc<Context>) -> Result<(), ReelError> {
    let active: HashMap<JobId, JobState> = ctx
        .with_store(|s| s.active_summaries())
        .await?
        .into_iter()
        .map(|j| (j.id, j.state))
        .collect();
    for id in ctx.live_jobs().await {
        let cached = job_ref(ctx, id).await?.get().await.job_state();
        if active.get(&id) == Some(&cached) {
            continue;
        }
        let record = ctx.with_store(move |s| s.job(id)).await?;
        if record.state != cached {
            update_job(ctx, record.clone(), |job| job.apply_record(record)).await?;
        }
    }
    refresh_manager(ctx).await
}

/// Recomputes the manager's `State` and `QueueLength` and signals the ones that changed.
pub(super) async fn refresh_manager(ctx: &Arc<Context>) -> Result<(), ReelError> {
    let active = ctx.with_store(|s| s.active_summaries()).await?;
    let state = if ctx.is_stopping() {
        ManagerState::Stopping
    } else if active.iter().any(|j| j.state == JobState::Running) {
        ManagerState::Busy
    } else {
        ManagerState::Idle
    };
    let length = active.len() as u32;
    let iface = ctx
        .connection
        .object_server()
        .interface::<_, Manager>(MANAGER_PATH)
        .await?;
    let mut manager = iface.get_mut().await;
    let emitter = iface.signal_emitter();
    if manager.state != state {
        manager.state = state;
        manager.state_changed(emitter).await?;
    }
    if manager.queue_length != length {
        manager.queue_length = length;
        manager.queue_length_changed(emitter).await?;
    }
    Ok(())
}

//! `reeld`'s life: recover jobs a previous run left behind, take queued jobs one at a time to the
//! engine thread, record progress and outcomes, honour cancels, and drain on shutdown.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reel_clip::Progress;
use reel_engines::CancelToken;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::events::{JobEvent, ServiceHandle};
use crate::generate::{ClipRequest, ClipResult, GenerateError};
use crate::queue::{JobId, JobState, Recovery};
use crate::store::{JobRecord, MediaRecord, Outcome, Store, StoreError};
use crate::supervision::Supervisor;
use crate::systemd::Notifier;
use crate::worker::{WorkError, WorkEvent, WorkItem, Worker};

/// How long past the grace time a stuck job is waited for before the daemon exits anyway (the
/// job is then recovered at the next start).
const HARD_STOP_AFTER_GRACE: Duration = Duration::from_secs(15);
/// The service manager's status line is refreshed at most this often.
const STATUS_INTERVAL: Duration = Duration::from_secs(1);
/// Progress is written to the database at most this often, except on a change of stage.
const PROGRESS_SAVE_INTERVAL: Duration = Duration::from_millis(250);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The jobs database could not be opened or recovered.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No usable encoder: the pipeline cannot be built.
    #[error(transparent)]
    Pipeline(#[from] reel_pipeline::PipelineError),
    /// The engine thread could not be started.
    #[error("cannot start the engine thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

struct RunningJob {
    id: JobId,
    cancel: CancelToken,
    /// Stopped by shutdown rather than by a user: goes back to the queue.
    interrupted: bool,
    last_saved: Option<(Instant, Progress)>,
    /// When the engine thread last reported on this job.
    last_heard: Instant,
}

/// Runs the daemon until `shutdown` resolves and the running job has finished or been
/// interrupted.
pub async fn serve(
    config: Config,
    handle: ServiceHandle,
    notifier: Notifier,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServiceError> {
    let mut store = Store::open(&config.database_path())?;
    // Building the pipeline up front turns a missing encoder into a start-up error, not a
    // failure of the first job.
    let encoders = reel_pipeline::probe_encoders(&config.output.encoder)?;
    for action in store.recover(config.jobs.max_attempts, now_ms())? {
        match action {
            Recovery::Requeue(id) => tracing::warn!(job = id, "job was interrupted; queued again"),
            Recovery::Fail(id, why) => tracing::error!(job = id, "job failed: {why}"),
        }
    }
    // No job runs yet, so any partial file in the media directory was left by a dead writer.
    match reel_pipeline::remove_stale_partials(&config.media_dir()) {
        Ok(removed) if !removed.is_empty() => {
            tracing::info!(
                count = removed.len(),
                "removed partial files left by an interrupted job"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot clean the media directory: {e}"),
    }
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let worker = Worker::spawn(
        config.engine.runtime.clone(),
        config.output.encoder.clone(),
        events_tx,
    )?;
    let grace = Duration::from_secs(config.jobs.shutdown_grace_secs);
    let mut tick = tokio::time::interval(Duration::from_millis(config.jobs.poll_interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    let mut running: Option<RunningJob> = None;
    let mut draining_since: Option<Instant> = None;
    let poll = Duration::from_millis(config.jobs.poll_interval_ms);
    let mut supervisor = Supervisor::start(notifier, poll);
    let mut engine_status = "engine not loaded".to_string();
    supervisor.ready(&status_line(&store, &running, &engine_status));
    let mut status_at = Instant::now();
    tracing::info!(
        state_dir = %config.state_dir.display(),
        video = %encoders.video_encoder,
        audio = %encoders.audio_encoder,
        "reeld ready"
    );

    loop {
        // Alive means the loop turns and the engine thread (inference and encoding) answers.
        let stall_timeout = Duration::from_secs(config.jobs.stall_timeout_secs);
        if engine_answers(
            running.as_ref().map(|job| job.last_heard),
            Instant::now(),
            stall_timeout,
        ) {
            supervisor.beat();
        }
        tokio::select! {
            () = &mut shutdown, if draining_since.is_none() => {
                tracing::info!("shutting down: taking no new jobs");
                supervisor.stopping();
                draining_since = Some(Instant::now());
            }
            Some(event) = events.recv() => match event {
                WorkEvent::EngineLoaded { bundle, provider } => {
                    engine_status = format!("engine {bundle} ({provider})");
                }
                WorkEvent::Progress(id, progress) => {
                    if let Some(job) = running.as_mut().filter(|job| job.id == id) {
                        job.last_heard = Instant::now();
                    }
                    save_progress(&store, &mut running, id, progress);
                    handle.publish(JobEvent::Progress { id, progress });
                }
                WorkEvent::Done(id, result) => {
                    let interrupted = running.take().is_some_and(|r| r.interrupted);
                    record_outcome(&store, &handle, id, result, interrupted);
                    // The next job need not wait for the tick.
                    if draining_since.is_none() {
                        running = start_next(&mut store, &worker, &config, &handle);
                    }
                }
            },
            () = handle.woken() => {
                match &mut running {
                    Some(job) => check_cancel(&store, job),
                    None if draining_since.is_none() => {
                        running = start_next(&mut store, &worker, &config, &handle);
                    }
                    None => {}
                }
            }
            _ = tick.tick() => {
                match (&mut running, draining_since) {
                    (Some(job), None) => check_cancel(&store, job),
                    (Some(job), Some(since)) if since.elapsed() >= grace && !job.interrupted => {
                        tracing::warn!(job = job.id, "grace time over: interrupting the job; it stays queued");
                        job.interrupted = true;
                        job.cancel.cancel();
                    }
                    (Some(job), Some(since)) if since.elapsed() >= grace + HARD_STOP_AFTER_GRACE => {
                        tracing::error!(job = job.id, "job did not stop; exiting, it will be recovered at the next start");
                        return Ok(());
                    }
                    (None, None) => running = start_next(&mut store, &worker, &config, &handle),
                    _ => {}
                }
            }
        }
        if draining_since.is_none() && status_at.elapsed() >= STATUS_INTERVAL {
            supervisor.status(status_line(&store, &running, &engine_status));
            status_at = Instant::now();
        }
        if draining_since.is_some() && running.is_none() {
            break;
        }
    }
    if tokio::task::spawn_blocking(move || worker.join())
        .await
        .is_err()
    {
        tracing::error!("the engine thread could not be joined");
    }
    tracing::info!("reeld stopped");
    Ok(())
}

/// Whether the engine thread counts as answering: idle, or heard from within `stall_timeout`.
fn engine_answers(last_heard: Option<Instant>, now: Instant, stall_timeout: Duration) -> bool {
    last_heard.is_none_or(|at| now.saturating_duration_since(at) < stall_timeout)
}

/// The `STATUS=` line: queue length, the running job, the engine.
fn status_line(store: &Store, running: &Option<RunningJob>, engine: &str) -> String {
    let queued = store
        .active_summaries()
        .map(|jobs| jobs.iter().filter(|j| j.state == JobState::Queued).count())
        .unwrap_or(0);
    let job = match running {
        Some(job) => match job.last_saved {
            Some((_, p)) => format!(
                "job {} {} {:.0}%",
                job.id,
                p.stage.as_str(),
                p.fraction * 100.0
            ),
            None => format!("job {} starting", job.id),
        },
        None => "idle".to_string(),
    };
    format!("queue {queued} | {job} | {engine}")
}

fn start_next(
    store: &mut Store,
    worker: &Worker,
    config: &Config,
    handle: &ServiceHandle,
) -> Option<RunningJob> {
    let job = match store.claim_next(now_ms()) {
        Ok(Some(job)) => job,
        Ok(None) => return None,
        Err(e) => {
            tracing::error!("cannot take the next job: {e}");
            return None;
        }
    };
    tracing::info!(job = job.id, attempt = job.attempts, prompt = %job.prompt, "job started");
    let cancel = CancelToken::new();
    let item = work_item(&job, config, cancel.clone());
    if worker.submit(item).is_err() {
        tracing::error!(job = job.id, "the engine thread is gone");
        let outcome = Outcome::Failed("the engine thread stopped; restart reeld".into());
        if let Err(e) = store.finish(job.id, &outcome, now_ms()) {
            tracing::error!(job = job.id, "cannot record failure: {e}");
        }
        return None;
    }
    handle.publish(JobEvent::Started {
        id: job.id,
        attempt: job.attempts,
    });
    Some(RunningJob {
        id: job.id,
        cancel,
        interrupted: false,
        last_saved: None,
        last_heard: Instant::now(),
    })
}

fn work_item(job: &JobRecord, config: &Config, cancel: CancelToken) -> WorkItem {
    WorkItem {
        id: job.id,
        bundle: PathBuf::from(&job.bundle),
        request: ClipRequest {
            prompt: job.prompt.clone(),
            seconds: job.seconds,
            seed: job.seed,
            output: config.media_dir().join(format!("job-{}.mp4", job.id)),
        },
        cancel,
    }
}

fn check_cancel(store: &Store, job: &mut RunningJob) {
    match store.cancel_requested(job.id) {
        Ok(true) => {
            tracing::info!(job = job.id, "cancel requested");
            job.cancel.cancel();
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(job = job.id, "cannot read cancel flag: {e}"),
    }
}

fn save_progress(store: &Store, running: &mut Option<RunningJob>, id: JobId, progress: Progress) {
    let Some(job) = running.as_mut().filter(|r| r.id == id) else {
        return;
    };
    let due = job.last_saved.is_none_or(|(at, last)| {
        last.stage != progress.stage || at.elapsed() >= PROGRESS_SAVE_INTERVAL
    });
    if due {
        if let Err(e) = store.set_progress(id, &progress) {
            tracing::warn!(job = id, "cannot save progress: {e}");
        }
        job.last_saved = Some((Instant::now(), progress));
    }
}

fn record_outcome(
    store: &Store,
    handle: &ServiceHandle,
    id: JobId,
    result: Result<ClipResult, WorkError>,
    interrupted: bool,
) {
    let outcome = match result {
        Ok(clip) => {
            index_media(store, id, &clip);
            tracing::info!(job = id, path = %clip.mp4.path.display(), total_ms = clip.timings.total_ms, "job succeeded");
            Outcome::Succeeded {
                output: clip.mp4.path.display().to_string(),
                timings: serde_json::to_value(clip.timings).unwrap_or_default(),
            }
        }
        Err(WorkError::Generate(GenerateError::Cancelled)) if interrupted => Outcome::Interrupted,
        Err(WorkError::Generate(GenerateError::Cancelled)) => Outcome::Cancelled,
        Err(e) => {
            tracing::error!(job = id, "job failed: {e}");
            Outcome::Failed(e.to_string())
        }
    };
    if let Err(e) = store.finish(id, &outcome, now_ms()) {
        tracing::error!(job = id, "cannot record the job's outcome: {e}");
    }
    let (state, error, output) = match outcome {
        Outcome::Succeeded { output, .. } => (JobState::Succeeded, None, Some(output)),
        Outcome::Failed(error) => (JobState::Failed, Some(error), None),
        Outcome::Cancelled => (JobState::Cancelled, None, None),
        Outcome::Interrupted => (JobState::Queued, None, None),
    };
    handle.publish(JobEvent::Ended {
        id,
        state,
        error,
        output,
    });
}

fn index_media(store: &Store, id: JobId, clip: &ClipResult) {
    let mp4 = &clip.mp4;
    // The clip as a player will see it, not as it was asked for.
    let (duration_ns, width, height) = match reel_pipeline::discover(&mp4.path) {
        Ok(info) => (
            info.duration_ns,
            info.video.as_ref().map_or(clip.format.width, |v| v.width),
            info.video.as_ref().map_or(clip.format.height, |v| v.height),
        ),
        Err(e) => {
            tracing::warn!(job = id, "cannot read back the clip: {e}");
            (
                clip.format.frame_pts(mp4.frames),
                clip.format.width,
                clip.format.height,
            )
        }
    };
    let record = MediaRecord {
        job_id: id,
        path: mp4.path.display().to_string(),
        bytes: mp4.bytes,
        duration_ns,
        width,
        height,
        fps: clip.format.fps(),
        sample_rate: clip.format.sample_rate,
        video_encoder: mp4.video_encoder.clone(),
        audio_encoder: mp4.audio_encoder.clone(),
    };
    if let Err(e) = store.insert_media(&record, now_ms()) {
        tracing::warn!(job = id, "clip written but not indexed: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_silent_past_the_stall_timeout_no_longer_answers() {
        let start = Instant::now();
        let timeout = Duration::from_secs(10);
        assert!(
            engine_answers(None, start + Duration::from_secs(3600), timeout),
            "idle is alive"
        );
        assert!(engine_answers(
            Some(start),
            start + Duration::from_secs(9),
            timeout
        ));
        assert!(!engine_answers(
            Some(start),
            start + Duration::from_secs(10),
            timeout
        ));
    }
}

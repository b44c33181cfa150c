//! `org.reel.Reel1.Job` at `/org/reel/Reel1/Job/<id>`: one object per job, its properties a cache
//! of the store's record kept current by the job events, so that `Get` never waits on SQLite and
//! `PropertiesChanged` carries exactly what changed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reel_clip::Progress;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::{Variant, interface};

use super::context::Context;
use super::errors::ReelError;
use crate::queue::{JobId, JobState};
use crate::store::JobRecord;

/// Progress signals are sent at most this often per job (and at once on a change of stage):
/// the engine reports every step, and a slow client should not fall behind.
const PROGRESS_SIGNAL_INTERVAL: Duration = Duration::from_millis(100);

/// The `u` a job state goes out as; 0 is kept for "unknown" so clients can tell a new state
/// from a missing one.
pub fn state_code(state: JobState) -> u32 {
    match state {
        JobState::Queued => 1,
        JobState::Running => 2,
        JobState::Succeeded => 3,
        JobState::Failed => 4,
        JobState::Cancelled => 5,
    }
}

/// One job on the bus.
#[derive(Debug)]
pub struct Job {
    id: JobId,
    record: JobRecord,
    /// `Completed` has been emitted (it is emitted once, when the job is over).
    completed: bool,
    last_progress_signal: Option<Instant>,
    ctx: Arc<Context>,
}

/// Documented in the committed introspection XML (`daemon/dbus/org.reel.Reel1.xml`).
#[interface(
    name = "org.reel.Reel1.Job",
    proxy(default_service = "org.reel.Reel1", visibility = "pub")
)]
impl Job {
    /// Cancel: a queued job is cancelled at once; a running one stops within one denoising step
    /// and then emits Completed(false, "cancelled"). Cancelling a finished job does nothing.
    /// Authorised as org.reel.Reel1.cancel.
    async fn cancel(&self, #[zbus(header)] header: Header<'_>) -> Result<(), ReelError> {
        self.ctx.cancel(self.id, header.sender()).await
    }

    /// Completed: emitted once when the job is over. ok is true when a clip was written; message
    /// is then its path, else the error, or "cancelled".
    #[zbus(signal)]
    pub async fn completed(
        emitter: &SignalEmitter<'_>,
        ok: bool,
        message: &str,
    ) -> zbus::Result<()>;

    /// Id: the job's number, as `reelctl jobs` shows it.
    #[zbus(property(emits_changed_signal = "const"))]
    fn id(&self) -> u64 {
        self.id as u64
    }

    /// State: 0 unknown, 1 queued, 2 running, 3 succeeded, 4 failed, 5 cancelled.
    #[zbus(property)]
    fn state(&self) -> u32 {
        state_code(self.record.state)
    }

    /// Stage: what the job is doing: queued, loading, encoding_text, denoising, decoding,
    /// encoding, finished.
    #[zbus(property)]
    fn stage(&self) -> String {
        self.record.progress.stage.as_str().to_string()
    }

    /// Progress: 0.0 to 1.0 over the whole job.
    #[zbus(property)]
    fn progress(&self) -> f64 {
        self.record.progress.fraction
    }

    /// Step: the step within the stage (denoising step, decoded chunk).
    #[zbus(property)]
    fn step(&self) -> u32 {
        self.record.progress.step
    }

    /// Steps: steps in the stage; 0 or 1 when the stage has no steps.
    #[zbus(property)]
    fn steps(&self) -> u32 {
        self.record.progress.steps
    }

    /// Error: why the job failed; empty otherwise.
    #[zbus(property)]
    fn error(&self) -> String {
        self.record.error.clone().unwrap_or_default()
    }

    /// Output: the finished MP4's path; empty until the job succeeded.
    #[zbus(property)]
    fn output(&self) -> String {
        self.record.output.clone().unwrap_or_default()
    }

    /// Prompt: what the clip shows.
    #[zbus(property(emits_changed_signal = "const"))]
    fn prompt(&self) -> String {
        self.record.prompt.clone()
    }

    /// Seconds: the requested length; 0 means the bundle's default.
    #[zbus(property(emits_changed_signal = "const"))]
    fn seconds(&self) -> f64 {
        self.record.seconds.unwrap_or(0.0)
    }

    /// Seed: the noise seed; the same seed, prompt and bundle give the same clip.
    #[zbus(property(emits_changed_signal = "const"))]
    fn seed(&self) -> u64 {
        self.record.seed
    }

    /// Bundle: the model bundle directory.
    #[zbus(property(emits_changed_signal = "const"))]
    fn bundle(&self) -> String {
        self.record.bundle.clone()
    }

    /// Attempts: times the engine took the job (a crash may make it 2).
    #[zbus(property)]
    fn attempts(&self) -> u32 {
        self.record.attempts
    }

    /// CreatedMs: Unix time of submission, in milliseconds.
    #[zbus(property(emits_changed_signal = "const"))]
    fn created_ms(&self) -> i64 {
        self.record.created_ms
    }

    /// StartedMs: Unix time of the latest start, in milliseconds; 0 if never started.
    #[zbus(property)]
    fn started_ms(&self) -> i64 {
        self.record.started_ms.unwrap_or(0)
    }

    /// FinishedMs: Unix time of the end, in milliseconds; 0 while not over.
    #[zbus(property)]
    fn finished_ms(&self) -> i64 {
        self.record.finished_ms.unwrap_or(0)
    }

    /// Timings: milliseconds per part of a succeeded job: engine_ms, finish_ms, total_ms.
    #[zbus(property)]
    fn timings(&self) -> HashMap<String, u64> {
        timings_map(self.record.timings.as_ref())
    }
}

fn timings_map(timings: Option<&serde_json::Value>) -> HashMap<String, u64> {
    timings
        .and_then(|t| t.as_object())
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// Properties whose values follow the record (the others are constant).
const TRACKED: &[&str] = &[
    "State",
    "Stage",
    "Progress",
    "Step",
    "Steps",
    "Error",
    "Output",
    "Attempts",
    "StartedMs",
    "FinishedMs",
    "Timings",
];

impl Job {
    /// A bus object for `record`.
    pub(super) fn new(record: JobRecord, ctx: Arc<Context>) -> Job {
        Job {
            id: record.id,
            record,
            completed: false,
            last_progress_signal: None,
            ctx,
        }
    }

    /// The job's state in the cache.
    pub(super) fn job_state(&self) -> JobState {
        self.record.state
    }

    /// Takes the store's record; returns the changed properties with their new values.
    pub(super) fn apply_record(
        &mut self,
        record: JobRecord,
    ) -> HashMap<&'static str, Variant<'static>> {
        let before: Vec<Variant<'static>> = TRACKED.iter().map(|n| self.value(n)).collect();
        self.record = record;
        TRACKED
            .iter()
            .zip(before)
            .filter_map(|(name, old)| {
                let new = self.value(name);
                (new != old).then_some((*name, new))
            })
            .collect()
    }

    /// Takes a progress report; returns what to signal, which is nothing while throttled (the
    /// properties are current all the same).
    pub(super) fn apply_progress(
        &mut self,
        progress: Progress,
    ) -> HashMap<&'static str, Variant<'static>> {
        let stage_changed = progress.stage != self.record.progress.stage;
        self.record.progress = progress;
        let due = stage_changed
            || self
                .last_progress_signal
                .is_none_or(|at| at.elapsed() >= PROGRESS_SIGNAL_INTERVAL);
        if !due {
            return HashMap::new();
        }
        self.last_progress_signal = Some(Instant::now());
        ["Stage", "Progress", "Step", "Steps"]
            .into_iter()
            .map(|name| (name, self.value(name)))
            .collect()
    }

    /// `Completed`'s arguments, once, when the job is over.
    pub(super) fn take_completion(&mut self) -> Option<(bool, String)> {
        if self.completed || !self.record.state.is_terminal() {
            return None;
        }
        self.completed = true;
        Some(match self.record.state {
            JobState::Succeeded => (true, self.output()),
            JobState::Failed => (false, self.error()),
            _ => (false, "cancelled".to_string()),
        })
    }

    fn value(&self, name: &str) -> Variant<'static> {
        match name {
            "State" => self.state().into(),
            "Stage" => self.stage().into(),
            "Progress" => self.progress().into(),
            "Step" => self.step().into(),
            "Steps" => self.steps().into(),
            "Error" => self.error().into(),
            "Output" => self.output().into(),
            "Attempts" => self.attempts().into(),
            "StartedMs" => self.started_ms().into(),
            "FinishedMs" => self.finished_ms().into(),
            "Timings" => self.timings().into(),
            other => unreachable!("not a tracked property: {other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_go_out_as_numbers_with_zero_left_for_unknown() {
        use JobState::*;
        let codes: Vec<u32> = [Queued, Running, Succeeded, Failed, Cancelled]
            .into_iter()
            .map(state_code)
            .collect();
        assert_eq!(codes, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn timings_become_a_dictionary_of_milliseconds() {
        let json = serde_json::json!({"engine_ms": 5, "total_ms": 9, "note": "x"});
        let map = timings_map(Some(&json));
        assert_eq!(map.len(), 2);
        assert_eq!(map["total_ms"], 9);
        assert!(timings_map(None).is_empty());
    }
}

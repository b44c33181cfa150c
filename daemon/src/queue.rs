//! The job queue's decisions, as plain code without I/O: which transitions are legal, whether a
//! new job is admitted, which job runs next, and what happens to jobs found interrupted after a
//! crash. The store applies these decisions inside transactions; the clock is passed in.

use serde::{Deserialize, Serialize};

/// A job's identifier (the store's row id).
pub type JobId = i64;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for the engine.
    Queued,
    /// On the engine now.
    Running,
    /// Finished with a clip.
    Succeeded,
    /// Finished without a clip; the job's error says why.
    Failed,
    /// Stopped at a user's request.
    Cancelled,
}

impl JobState {
    /// Stable lowercase name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Parses [`JobState::as_str`] output.
    pub fn parse(s: &str) -> Option<JobState> {
        use JobState::*;
        [Queued, Running, Succeeded, Failed, Cancelled]
            .into_iter()
            .find(|st| st.as_str() == s)
    }

    /// Whether the job is over.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }

    /// The legal moves. `Running → Queued` is an interruption (shutdown, crash recovery).
    pub fn can_become(self, next: JobState) -> bool {
        use JobState::*;
        matches!(
            (self, next),
            (Queued, Running)
                | (Queued, Cancelled)
                | (Queued, Failed)
                | (Running, Succeeded)
                | (Running, Failed)
                | (Running, Cancelled)
                | (Running, Queued)
        )
    }
}

/// What the queue needs to know about a job to decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobSummary {
    /// The job.
    pub id: JobId,
    /// Its state.
    pub state: JobState,
    /// How many times it has been started.
    pub attempts: u32,
}

/// Why a job was refused at submission.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdmissionError {
    /// Too many jobs are waiting.
    #[error(
        "queue full: {active} jobs are queued or running (capacity {capacity}); try again when one finishes, or cancel one"
    )]
    QueueFull {
        /// Jobs queued or running now.
        active: u32,
        /// The configured capacity.
        capacity: u32,
    },
    /// The prompt is empty or blank.
    #[error(
        "the prompt is empty; describe the clip you want, e.g. \"a red ball bounces on a wooden floor\""
    )]
    EmptyPrompt,
    /// The prompt is longer than allowed.
    #[error("the prompt has {chars} characters; the limit is {limit} (jobs.max_prompt_chars)")]
    PromptTooLong {
        /// Characters in the prompt.
        chars: usize,
        /// The configured limit.
        limit: u32,
    },
    /// The requested length is not a positive, finite number of seconds.
    #[error("seconds must be a positive number up to {max}; got {seconds}")]
    BadSeconds {
        /// What was asked for.
        seconds: f64,
        /// The largest length accepted.
        max: f64,
    },
}

/// The limits a submission is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Jobs queued or running at most.
    pub capacity: u32,
    /// Prompt length in characters at most.
    pub max_prompt_chars: u32,
    /// Clip length in seconds at most (the bundle may lower it further).
    pub max_seconds: f64,
}

/// Decides whether a new job may join a queue that has `active` jobs queued or running.
pub fn admit(
    active: u32,
    prompt: &str,
    seconds: Option<f64>,
    limits: &Limits,
) -> Result<(), AdmissionError> {
    if prompt.trim().is_empty() {
        return Err(AdmissionError::EmptyPrompt);
    }
    let chars = prompt.chars().count();
    if chars > limits.max_prompt_chars as usize {
        return Err(AdmissionError::PromptTooLong {
            chars,
            limit: limits.max_prompt_chars,
        });
    }
    if let Some(seconds) = seconds
        && !(seconds.is_finite() && seconds > 0.0 && seconds <= limits.max_seconds)
    {
        return Err(AdmissionError::BadSeconds {
            seconds,
            max: limits.max_seconds,
        });
    }
    if active >= limits.capacity {
        return Err(AdmissionError::QueueFull {
            active,
            capacity: limits.capacity,
        });
    }
    Ok(())
}

/// The job to start next, if the engine is free: the oldest queued job (first in, first out).
/// One job runs at a time.
pub fn next_job(jobs: &[JobSummary]) -> Option<JobId> {
    if jobs.iter().any(|j| j.state == JobState::Running) {
        return None;
    }
    jobs.iter()
        .filter(|j| j.state == JobState::Queued)
        .map(|j| j.id)
        .min()
}

/// What to do with a job found `Running` when the daemon starts (it was interrupted by a crash,
/// SIGKILL or power loss).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Put it back in the queue to run again.
    Requeue(JobId),
    /// Give up on it, with the reason recorded on the job.
    Fail(JobId, String),
}

/// Decides the fate of every job left running by a previous daemon: re-queued while it has
/// attempts left, otherwise failed with the reason. Queued jobs stay queued.
pub fn recover(jobs: &[JobSummary], max_attempts: u32) -> Vec<Recovery> {
    jobs.iter()
        .filter(|j| j.state == JobState::Running)
        .map(|j| {
            if j.attempts < max_attempts {
                Recovery::Requeue(j.id)
            } else {
                Recovery::Fail(
                    j.id,
                    format!(
                        "interrupted {} times (the daemon stopped while running it); not retried again",
                        j.attempts
                    ),
                )
            }
        })
        .collect()
}

/// What cancelling a job amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelAction {
    /// It was waiting: mark it cancelled now.
    CancelQueued,
    /// It is running: signal the engine, which stops within one denoising step.
    StopRunning,
    /// It is already over; nothing to do.
    AlreadyFinished(JobState),
}

/// Decides what cancelling a job in `state` means.
pub fn cancel(state: JobState) -> CancelAction {
    match state {
        JobState::Queued => CancelAction::CancelQueued,
        JobState::Running => CancelAction::StopRunning,
        done => CancelAction::AlreadyFinished(done),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobState::*;

    fn job(id: JobId, state: JobState, attempts: u32) -> JobSummary {
        JobSummary {
            id,
            state,
            attempts,
        }
    }

    const LIMITS: Limits = Limits {
        capacity: 2,
        max_prompt_chars: 10,
        max_seconds: 8.0,
    };

    #[test]
    fn transitions_follow_the_life_of_a_job() {
        assert!(Queued.can_become(Running));
        assert!(Running.can_become(Succeeded));
        assert!(Running.can_become(Queued));
        assert!(!Succeeded.can_become(Running));
        assert!(!Cancelled.can_become(Queued));
        assert!(!Queued.can_become(Succeeded));
        for s in [Queued, Running, Succeeded, Failed, Cancelled] {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
            assert!(!s.can_become(s));
        }
    }

    #[test]
    fn admission_checks_prompt_seconds_and_capacity() {
        assert_eq!(admit(0, "ball", Some(4.0), &LIMITS), Ok(()));
        assert_eq!(
            admit(0, "  \n", None, &LIMITS),
            Err(AdmissionError::EmptyPrompt)
        );
        assert_eq!(
            admit(0, "ééééééééééé", None, &LIMITS),
            Err(AdmissionError::PromptTooLong {
                chars: 11,
                limit: 10
            })
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 8.5] {
            assert!(matches!(
                admit(0, "ball", Some(bad), &LIMITS),
                Err(AdmissionError::BadSeconds { .. })
            ));
        }
        assert_eq!(
            admit(2, "ball", None, &LIMITS),
            Err(AdmissionError::QueueFull {
                active: 2,
                capacity: 2
            })
        );
        assert!(
            AdmissionError::QueueFull {
                active: 2,
                capacity: 2
            }
            .to_string()
            .contains("queue full")
        );
    }

    #[test]
    fn oldest_queued_job_runs_next_and_only_one_at_a_time() {
        let jobs = [job(5, Queued, 0), job(3, Queued, 0), job(1, Succeeded, 1)];
        assert_eq!(next_job(&jobs), Some(3));
        let busy = [job(5, Queued, 0), job(4, Running, 1)];
        assert_eq!(next_job(&busy), None);
        assert_eq!(next_job(&[job(1, Failed, 1)]), None);
    }

    #[test]
    fn a_job_interrupted_once_is_requeued_then_failed_with_a_reason() {
        let jobs = [
            job(1, Running, 1),
            job(2, Queued, 0),
            job(3, Running, 2),
            job(4, Cancelled, 1),
        ];
        let actions = recover(&jobs, 2);
        assert_eq!(actions.len(), 2);
        assert_eq!(actions[0], Recovery::Requeue(1));
        match &actions[1] {
            Recovery::Fail(3, reason) => {
                assert!(reason.contains("interrupted 2 times"), "{reason}")
            }
            other => panic!("expected job 3 to fail, got {other:?}"),
        }
    }

    #[test]
    fn cancel_depends_on_state() {
        assert_eq!(cancel(Queued), CancelAction::CancelQueued);
        assert_eq!(cancel(Running), CancelAction::StopRunning);
        assert_eq!(cancel(Failed), CancelAction::AlreadyFinished(Failed));
    }
}

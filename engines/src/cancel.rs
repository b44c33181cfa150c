//! Cancelling a job from another thread, including an ONNX Runtime run already in flight.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use ort::session::RunOptions;

/// Cancels one generation job. Clone it to the thread that may cancel. A token stays cancelled
/// once cancelled: use a fresh token per job.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    inner: Arc<CancelState>,
}

#[derive(Default)]
struct CancelState {
    cancelled: AtomicBool,
    /// The job's RunOptions while a job is running, so cancel() can stop the model run that is
    /// executing now instead of waiting for it to finish.
    in_flight: Mutex<Option<Arc<RunOptions>>>,
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests cancellation: the job stops at its next check and any model run in progress is
    /// terminated. The job then fails with [`crate::EngineError::Cancelled`].
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        if let Some(run_options) = self.lock().as_ref() {
            terminate(run_options);
        }
    }

    /// Whether [`CancelToken::cancel`] has been called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// Registers the job's RunOptions until the returned guard is dropped.
    pub(crate) fn attach(&self, run_options: Arc<RunOptions>) -> AttachedRun<'_> {
        let mut slot = self.lock();
        // cancel() sets the flag before taking the lock, so either it sees this RunOptions or
        // we see its flag here: no cancel is lost between the two.
        if self.is_cancelled() {
            terminate(&run_options);
        }
        *slot = Some(run_options);
        AttachedRun { token: self }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<RunOptions>>> {
        self.inner
            .in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl std::fmt::Debug for CancelState {
    // RunOptions<NoSelectedOutputs> has no Debug; show whether a run is attached instead.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let attached = self
            .in_flight
            .lock()
            .map(|slot| slot.is_some())
            .unwrap_or(false);
        f.debug_struct("CancelState")
            .field("cancelled", &self.cancelled.load(Ordering::SeqCst))
            .field("run_attached", &attached)
            .finish()
    }
}

fn terminate(run_options: &RunOptions) {
    if let Err(e) = run_options.terminate() {
        tracing::error!(error = %e, "cannot terminate the running model; the job stops after this run");
    }
}

/// Detaches the job's RunOptions from the token when the job ends.
#[derive(Debug)]
pub(crate) struct AttachedRun<'a> {
    token: &'a CancelToken,
}

impl Drop for AttachedRun<'_> {
    fn drop(&mut self) {
        *self.token.lock() = None;
    }
}

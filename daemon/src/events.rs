//! What the service tells the outside world about jobs, and how the outside world wakes it.
//! Front ends (D-Bus, MQTT, the kiosk page) subscribe to [`JobEvent`]s and submit through the
//! store, then call [`ServiceHandle::wake`] so the job starts without waiting for the next poll.

use std::sync::Arc;

use reel_clip::Progress;
use tokio::sync::{Notify, broadcast};

use crate::queue::{JobId, JobState};

/// Events kept for a subscriber that falls behind; older ones are dropped (it then re-reads
/// the store).
const EVENT_BACKLOG: usize = 1024;

/// A change in a job's life.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    /// The engine took the job (attempt counts from 1).
    Started {
        /// The job.
        id: JobId,
        /// Which attempt this is.
        attempt: u32,
    },
    /// The running job moved on.
    Progress {
        /// The job.
        id: JobId,
        /// Where it is.
        progress: Progress,
    },
    /// The job left the running state: finished, or back in the queue after an interruption.
    Ended {
        /// The job.
        id: JobId,
        /// Its new state.
        state: JobState,
        /// Why it failed, if it did.
        error: Option<String>,
        /// The clip, if it succeeded.
        output: Option<String>,
    },
}

/// Shared by the service and its front ends.
#[derive(Debug, Clone)]
pub struct ServiceHandle {
    events: broadcast::Sender<JobEvent>,
    wake: Arc<Notify>,
}

impl Default for ServiceHandle {
    fn default() -> Self {
        ServiceHandle::new()
    }
}

impl ServiceHandle {
    /// A new handle with no subscribers.
    pub fn new() -> ServiceHandle {
        ServiceHandle {
            events: broadcast::channel(EVENT_BACKLOG).0,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Receives every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.events.subscribe()
    }

    /// Publishes an event; having no subscriber is normal.
    pub fn publish(&self, event: JobEvent) {
        if self.events.send(event).is_err() {
            tracing::trace!("job event with no subscriber");
        }
    }

    /// Asks the service to look at the store now (a job was submitted or cancelled).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves when [`ServiceHandle::wake`] was called.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}

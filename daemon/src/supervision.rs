//! The service manager's view of `reeld`: `READY=1` once everything is up, `STATUS=` lines when
//! they change, `STOPPING=1` on shutdown, and `WATCHDOG=1` pings that stop when the job loop
//! stops turning, so systemd restarts a daemon that is alive but stuck.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::systemd::{Liveness, Notifier};

/// Owns the watchdog task; dropping it stops the pings.
#[derive(Debug)]
pub struct Supervisor {
    notifier: Notifier,
    liveness: Arc<Mutex<Liveness>>,
    last_status: String,
    stop: Arc<AtomicBool>,
    ping_every: Option<Duration>,
    watchdog: Option<JoinHandle<()>>,
}

impl Supervisor {
    /// Prepares the watchdog when the service manager asked for one (pings begin with
    /// [`Supervisor::ready`]). `loop_period` is the
    /// longest the job loop may normally go between turns (its poll interval).
    pub fn start(notifier: Notifier, loop_period: Duration) -> Supervisor {
        let ping_every = notifier.watchdog_interval();
        // A loop that turns every `loop_period` must not look stalled between two turns.
        let stale_after = ping_every
            .map(Liveness::stale_after_for)
            .unwrap_or(Duration::MAX)
            .max(loop_period * 3);
        let liveness = Arc::new(Mutex::new(Liveness::new(Instant::now(), stale_after)));
        Supervisor {
            notifier,
            liveness,
            last_status: String::new(),
            stop: Arc::new(AtomicBool::new(false)),
            ping_every,
            watchdog: None,
        }
    }

    /// The job loop turned.
    pub fn beat(&self) {
        self.liveness
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .beat(Instant::now());
    }

    /// Everything is up: `READY=1`, then the watchdog pings begin (systemd ignores pings that
    /// come before READY, and the job loop has not turned yet).
    pub fn ready(&mut self, status: &str) {
        if let Err(e) = self.notifier.ready(status) {
            tracing::warn!("cannot notify the service manager: {e}");
        }
        self.last_status = status.to_string();
        if let (Some(every), None) = (self.ping_every, &self.watchdog) {
            // A thread of its own, not a task: a job loop stuck in a blocking call can hold a
            // runtime worker, and the pinger must neither be starved by that nor stuck with it.
            let (notifier, liveness, stop) = (
                self.notifier.clone(),
                Arc::clone(&self.liveness),
                Arc::clone(&self.stop),
            );
            self.watchdog = std::thread::Builder::new()
                .name("reel-watchdog".into())
                .spawn(move || ping_while_alive(&notifier, &liveness, &stop, every))
                .inspect_err(|e| tracing::error!("cannot start the watchdog thread: {e}"))
                .ok();
        }
    }

    /// Sends the status line if it changed.
    pub fn status(&mut self, status: String) {
        if status != self.last_status {
            if let Err(e) = self.notifier.status(&status) {
                tracing::debug!("cannot send status: {e}");
            }
            self.last_status = status;
        }
    }

    /// Shutdown began.
    pub fn stopping(&self) {
        if let Err(e) = self.notifier.stopping() {
            tracing::warn!("cannot notify the service manager: {e}");
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.watchdog.take()
            && thread.join().is_err()
        {
            tracing::error!("the watchdog thread panicked");
        }
    }
}

/// Sleeps in short slices so that dropping the supervisor does not wait a whole interval.
fn ping_while_alive(
    notifier: &Notifier,
    liveness: &Mutex<Liveness>,
    stop: &AtomicBool,
    every: Duration,
) {
    const SLICE: Duration = Duration::from_millis(50);
    let mut was_healthy = true;
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now < next {
            std::thread::sleep((next - now).min(SLICE));
            continue;
        }
        next = now + every;
        let (healthy, silent) = {
            let liveness = liveness.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            (liveness.healthy(now), liveness.silent_for(now))
        };
        if healthy {
            if let Err(e) = notifier.watchdog_ping() {
                tracing::warn!("cannot ping the watchdog: {e}");
            }
        } else if was_healthy {
            tracing::error!(
                silent_ms = silent.as_millis() as u64,
                "the job loop is stuck; watchdog pings withheld"
            );
        }
        was_healthy = healthy;
    }
}

//! systemd integration: readiness, status and watchdog notifications (`sd_notify(3)`), and the
//! liveness decision that gates the watchdog pings.
//!
//! [`Notifier`] speaks the notify protocol through the `sd-notify` crate and does nothing when
//! `reeld` was not started by systemd (`NOTIFY_SOCKET` unset). [`Liveness`] is sans-IO: the job
//! loop records heartbeats with [`Liveness::beat`], and whoever sends `WATCHDOG=1` asks
//! [`Liveness::healthy`] first, so a stalled loop stops the pings and systemd restarts the
//! service. [`status_line`] formats the one-line `STATUS=` text that `systemctl status` shows.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use reel_daemon::systemd::Liveness;
//!
//! let start = Instant::now();
//! let mut liveness = Liveness::new(start, Duration::from_secs(10));
//! liveness.beat(start + Duration::from_secs(5));
//! assert!(liveness.healthy(start + Duration::from_secs(14)));
//! assert!(!liveness.healthy(start + Duration::from_secs(16)));
//! ```

use std::io;
use std::time::{Duration, Instant};

use reel_clip::Stage;
use sd_notify::NotifyState;

use crate::queue::JobId;

/// Sends `sd_notify` messages to the service manager, or nothing when there is none.
///
/// The socket is named by `NOTIFY_SOCKET` (a filesystem path; the `sd-notify` crate does not
/// support abstract `@` sockets, which systemd does not use for services). Each call opens a
/// datagram socket, sends one message and closes it, so a `Notifier` is cheap to share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifier {
    enabled: bool,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the environment.
    pub fn from_env() -> Notifier {
        let pid_env = std::env::var("WATCHDOG_PID").ok();
        let usec_env = std::env::var("WATCHDOG_USEC").ok();
        Notifier {
            enabled: std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty()),
            watchdog: watchdog_interval_from(
                usec_env.as_deref(),
                pid_env.as_deref(),
                std::process::id(),
            ),
        }
    }

    /// A notifier that never sends anything (tests, `reelctl generate`, no systemd).
    pub fn disabled() -> Notifier {
        Notifier {
            enabled: false,
            watchdog: None,
        }
    }

    /// Whether a service manager is listening.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// `READY=1` with a first `STATUS=` line: the bus name is owned, the store is open and the
    /// pipeline is built.
    pub fn ready(&self, status: &str) -> io::Result<()> {
        let status = one_line(status);
        self.send(&[NotifyState::Ready, NotifyState::Status(&status)])
    }

    /// `STATUS=`: a human-readable line shown by `systemctl status reeld`.
    pub fn status(&self, text: &str) -> io::Result<()> {
        let text = one_line(text);
        self.send(&[NotifyState::Status(&text)])
    }

    /// `STOPPING=1`: shutdown (the SIGTERM drain) has begun.
    pub fn stopping(&self) -> io::Result<()> {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")])
    }

    /// `WATCHDOG=1`. Send it only after [`Liveness::healthy`] said yes.
    pub fn watchdog_ping(&self) -> io::Result<()> {
        self.send(&[NotifyState::Watchdog])
    }

    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, as `sd_watchdog_enabled(3)`
    /// recommends, or `None` when the watchdog is off for this process.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    fn send(&self, states: &[NotifyState<'_>]) -> io::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        sd_notify::notify(states)
    }
}

/// `sd_watchdog_enabled(3)` semantics without touching the environment: the watchdog is on when
/// `WATCHDOG_USEC` is a positive integer and `WATCHDOG_PID` is unset or equals `my_pid`. Returns
/// half of the timeout, the interval at which to ping.
pub fn watchdog_interval_from(
    watchdog_usec: Option<&str>,
    watchdog_pid: Option<&str>,
    my_pid: u32,
) -> Option<Duration> {
    let usec: u64 = watchdog_usec?.trim().parse().ok()?;
    if usec == 0 {
        return None;
    }
    if let Some(pid) = watchdog_pid {
        let pid: u32 = pid.trim().parse().ok()?;
        if pid != my_pid {
            return None;
        }
    }
    Some(Duration::from_micros(usec) / 2)
}

/// Heartbeats from the job loop, and whether they are recent enough to call the daemon alive.
///
/// The job loop calls [`beat`](Liveness::beat) on every turn (it turns at least every
/// `jobs.poll_interval_ms`, also while a job runs on the engine thread). The watchdog task pings
/// only while [`healthy`](Liveness::healthy) is true. Keep `stale_after` below
/// `WatchdogSec` minus the ping interval, so that a stall is noticed before systemd gives up on
/// an old ping; [`Liveness::stale_after_for`] picks such a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    last_beat: Instant,
    stale_after: Duration,
}

impl Liveness {
    /// Starts alive at `now` (the loop is about to turn for the first time).
    pub fn new(now: Instant, stale_after: Duration) -> Liveness {
        Liveness {
            last_beat: now,
            stale_after,
        }
    }

    /// A staleness threshold for a given ping interval (half of `WatchdogSec`): the interval
    /// itself, so that after a stall at most one more ping goes out and systemd's timeout runs
    /// out one interval later. Never below one second.
    pub fn stale_after_for(ping_interval: Duration) -> Duration {
        ping_interval.max(Duration::from_secs(1))
    }

    /// The job loop is alive at `now`. A beat older than the last one is ignored.
    pub fn beat(&mut self, now: Instant) {
        if now > self.last_beat {
            self.last_beat = now;
        }
    }

    /// Whether the last beat is at most `stale_after` old at `now`.
    pub fn healthy(&self, now: Instant) -> bool {
        self.silent_for(now) <= self.stale_after
    }

    /// How long the job loop has been silent at `now` (zero for a beat in the future).
    pub fn silent_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_beat)
    }

    /// The threshold.
    pub fn stale_after(&self) -> Duration {
        self.stale_after
    }
}

/// What the engine thread is doing, for the `STATUS=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineState<'a> {
    /// No bundle loaded yet (it loads with the first job).
    Idle,
    /// Loading a bundle (ONNX Runtime sessions, TensorRT engines).
    Loading {
        /// The bundle's name.
        bundle: &'a str,
    },
    /// A bundle is loaded and ready.
    Loaded {
        /// The bundle's name.
        bundle: &'a str,
        /// The execution provider that runs it: `tensorrt`, `cuda` or `cpu`.
        provider: &'a str,
    },
    /// The last load failed.
    Failed {
        /// Why, as one short line.
        reason: &'a str,
    },
}

/// Longest piece of free text (bundle names, reasons) put into a status line.
const MAX_FIELD_CHARS: usize = 80;

/// The `STATUS=` line: queue length, the running job and the engine, e.g.
/// `queue 2 | job 17 denoising 45% | engine tiny-random (cpu)`.
pub fn status_line(
    queue_len: usize,
    running: Option<(JobId, Stage, f64)>,
    engine: EngineState<'_>,
) -> String {
    let job = match running {
        Some((id, stage, fraction)) => {
            let percent = if fraction.is_finite() {
                (fraction.clamp(0.0, 1.0) * 100.0).floor() as u32
            } else {
                0
            };
            format!("job {id} {} {percent}%", stage.as_str())
        }
        None => "idle".to_string(),
    };
    let engine = match engine {
        EngineState::Idle => "engine not loaded".to_string(),
        EngineState::Loading { bundle } => format!("engine loading {}", field(bundle)),
        EngineState::Loaded { bundle, provider } => {
            format!("engine {} ({})", field(bundle), field(provider))
        }
        EngineState::Failed { reason } => format!("engine failed: {}", field(reason)),
    };
    format!("queue {queue_len} | {job} | {engine}")
}

/// Free text made safe for one protocol line, and cut to [`MAX_FIELD_CHARS`].
fn field(text: &str) -> String {
    let mut out = one_line(text);
    if out.chars().count() > MAX_FIELD_CHARS {
        out = out.chars().take(MAX_FIELD_CHARS - 1).collect();
        out.push('…');
    }
    out
}

/// Replaces newlines and other control characters, which would end or corrupt a notify
/// assignment, with spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn fresh_liveness_is_healthy_until_the_threshold_passes() {
        let t0 = Instant::now();
        let liveness = Liveness::new(t0, secs(10));
        assert!(liveness.healthy(t0));
        assert!(liveness.healthy(t0 + secs(10)));
        assert!(!liveness.healthy(t0 + secs(10) + Duration::from_millis(1)));
    }

    #[test]
    fn beats_keep_it_alive_and_a_stall_makes_it_stale() {
        let t0 = Instant::now();
        let mut liveness = Liveness::new(t0, secs(10));
        for s in 1..=30 {
            liveness.beat(t0 + secs(s));
            assert!(liveness.healthy(t0 + secs(s) + secs(5)));
        }
        // The loop stalls after its beat at t0+30 s.
        assert!(liveness.healthy(t0 + secs(40)));
        assert!(!liveness.healthy(t0 + secs(41)));
        assert_eq!(liveness.silent_for(t0 + secs(41)), secs(11));
        // It comes back.
        liveness.beat(t0 + secs(50));
        assert!(liveness.healthy(t0 + secs(50)));
    }

    #[test]
    fn an_older_beat_does_not_move_time_back() {
        let t0 = Instant::now();
        let mut liveness = Liveness::new(t0, secs(10));
        liveness.beat(t0 + secs(20));
        liveness.beat(t0 + secs(5));
        assert!(liveness.healthy(t0 + secs(29)));
    }

    #[test]
    fn a_beat_in_the_future_counts_as_silent_for_zero() {
        let t0 = Instant::now();
        let mut liveness = Liveness::new(t0, secs(1));
        liveness.beat(t0 + secs(3));
        assert_eq!(liveness.silent_for(t0), Duration::ZERO);
        assert!(liveness.healthy(t0));
    }

    #[test]
    fn stale_after_for_follows_the_ping_interval_with_a_floor() {
        assert_eq!(Liveness::stale_after_for(secs(15)), secs(15));
        assert_eq!(
            Liveness::stale_after_for(Duration::from_millis(100)),
            secs(1)
        );
    }

    #[test]
    fn watchdog_interval_is_half_of_watchdog_usec() {
        assert_eq!(
            watchdog_interval_from(Some("30000000"), None, 42),
            Some(secs(15))
        );
        assert_eq!(
            watchdog_interval_from(Some("30000000"), Some("42"), 42),
            Some(secs(15))
        );
    }

    #[test]
    fn watchdog_is_off_for_another_pid_zero_or_garbage() {
        assert_eq!(
            watchdog_interval_from(Some("30000000"), Some("7"), 42),
            None
        );
        assert_eq!(watchdog_interval_from(Some("0"), None, 42), None);
        assert_eq!(watchdog_interval_from(Some("soon"), None, 42), None);
        assert_eq!(watchdog_interval_from(Some("-5"), None, 42), None);
        assert_eq!(watchdog_interval_from(None, Some("42"), 42), None);
        assert_eq!(
            watchdog_interval_from(Some("30000000"), Some("x"), 42),
            None
        );
    }

    #[test]
    fn disabled_notifier_sends_nothing_and_succeeds() {
        let notifier = Notifier::disabled();
        assert!(!notifier.is_enabled());
        assert_eq!(notifier.watchdog_interval(), None);
        notifier.ready("ready").unwrap();
        notifier.status("queue 0").unwrap();
        notifier.watchdog_ping().unwrap();
        notifier.stopping().unwrap();
    }

    #[test]
    fn status_line_idle() {
        assert_eq!(
            status_line(0, None, EngineState::Idle),
            "queue 0 | idle | engine not loaded"
        );
    }

    #[test]
    fn status_line_running() {
        let line = status_line(
            2,
            Some((17, Stage::Denoising, 0.456)),
            EngineState::Loaded {
                bundle: "tiny-random",
                provider: "cpu",
            },
        );
        assert_eq!(
            line,
            "queue 2 | job 17 denoising 45% | engine tiny-random (cpu)"
        );
    }

    #[test]
    fn status_line_clamps_fractions_and_flattens_text() {
        let line = status_line(
            1,
            Some((3, Stage::Encoding, f64::NAN)),
            EngineState::Failed {
                reason: "cannot load\nmodel",
            },
        );
        assert_eq!(
            line,
            "queue 1 | job 3 encoding 0% | engine failed: cannot load model"
        );
        let line = status_line(
            0,
            Some((4, Stage::Decoding, 7.0)),
            EngineState::Loading { bundle: "b" },
        );
        assert_eq!(line, "queue 0 | job 4 decoding 100% | engine loading b");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn long_fields_are_cut() {
        let reason = "x".repeat(500);
        let line = status_line(0, None, EngineState::Failed { reason: &reason });
        assert!(line.chars().count() < 140, "{line}");
        assert!(line.ends_with('…'));
    }
}

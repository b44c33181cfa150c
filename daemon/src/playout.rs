//! The kiosk playout inside `reeld`: one continuous program (`reel_pipeline::Playout`) on the
//! configured live outputs, steered by the job events.
//!
//! - A job starts: the "Generating…" slate goes on with progress 0, and its bar follows the
//!   job's progress (at most [`PROGRESS_INTERVAL`] apart).
//! - It succeeds: its clip goes on air at once, then joins the attract loop (the newest
//!   [`ATTRACT_CLIPS`] clips, after the configured `playout.playlist`).
//! - It fails, is cancelled or interrupted: the slate goes off and the loop comes back.
//!
//! At start the loop holds the newest succeeded clips from the store whose files still exist.
//! The studio feed (#8) will later decide what the loop plays; this module is where it plugs
//! in (replace [`Attract`]'s recent clips with the feed).
//!
//! The decisions are in [`Bridge::on_event`], pure and unit-tested; the task around it only
//! receives events and forwards the resulting [`Action`]s to the playout.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use reel_pipeline::{
    OutputsConfig, PipelineError, Playout, PlayoutConfig, PlayoutHandle, SlateInfo,
};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::JoinHandle;

use crate::config::{Config, ConfigError};
use crate::events::{JobEvent, ServiceHandle};
use crate::queue::{JobId, JobState};
use crate::store::{Store, StoreError};

/// Generated clips kept in the attract loop.
pub const ATTRACT_CLIPS: usize = 20;
/// The slate's progress bar is updated at most this often.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);
/// Jobs looked at for the initial attract loop.
const RECENT_JOBS: u32 = 200;
/// Text of the slate while a job runs.
const GENERATING: &str = "Generating…";

/// Why the playout could not start or stop.
#[derive(Debug, thiserror::Error)]
pub enum PlayoutError {
    /// Building the program, its encoder or an output failed.
    #[error("playout: {0}")]
    Pipeline(#[from] PipelineError),
    /// The jobs database could not be read for the attract loop.
    #[error("playout: {0}")]
    Store(#[from] StoreError),
    /// The blocking task that builds or stops the playout panicked.
    #[error("playout: {0}")]
    Task(String),
}

/// Checks `[playout]` and `[outputs]`, naming the key (called by `Config::validate`).
pub fn validate(playout: &PlayoutConfig, outputs: &OutputsConfig) -> Result<(), ConfigError> {
    if let Err(err) = playout.validate() {
        const KEYS: [&str; 5] = [
            "playout.width",
            "playout.height",
            "playout.fps",
            "playout.sample_rate",
            "playout.channels",
        ];
        let message = err.to_string();
        let found = KEYS.into_iter().find_map(|key| {
            let (_, why) = message.split_once(&format!("{key}: "))?;
            Some((key, why.to_owned()))
        });
        let (key, message) = found.unwrap_or(("playout", message));
        return Err(ConfigError::Invalid { key, message });
    }
    if !outputs.mp4 {
        return Err(ConfigError::Invalid {
            key: "outputs.mp4",
            message: "reeld always writes each clip to its media directory; `false` is not \
                      supported"
                .into(),
        });
    }
    if let Some(rtsp) = &outputs.rtsp
        && !rtsp.mount.starts_with('/')
    {
        return Err(ConfigError::Invalid {
            key: "outputs.rtsp.mount",
            message: format!("`{}` must start with `/`, e.g. \"/reel\"", rtsp.mount),
        });
    }
    if let Some(hls) = &outputs.hls
        && hls.dir.as_os_str().is_empty()
    {
        return Err(ConfigError::Invalid {
            key: "outputs.hls.dir",
            message: "must name a directory".into(),
        });
    }
    Ok(())
}

/// What the bridge asks of the playout.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Show or update the slate; `None` takes it off.
    Slate(Option<SlateInfo>),
    /// Put a finished clip on air.
    ShowClip(PathBuf),
    /// Replace the attract loop.
    SetPlaylist(Vec<PathBuf>),
}

/// The attract loop: the configured clips, then the newest generated ones, oldest first (a
/// new playlist restarts at its first clip, so the clip just shown comes round last).
#[derive(Debug, Clone, Default)]
pub struct Attract {
    fixed: Vec<PathBuf>,
    recent: VecDeque<PathBuf>,
}

impl Attract {
    /// `fixed` from `playout.playlist`; `recent` newest first, as the store lists jobs.
    pub fn new(fixed: Vec<PathBuf>, recent_newest_first: Vec<PathBuf>) -> Attract {
        let mut attract = Attract {
            fixed,
            recent: VecDeque::new(),
        };
        for clip in recent_newest_first.into_iter().take(ATTRACT_CLIPS).rev() {
            attract.push(clip);
        }
        attract
    }

    /// Adds the newest clip, dropping the oldest beyond [`ATTRACT_CLIPS`].
    pub fn push(&mut self, clip: PathBuf) {
        self.recent.retain(|c| *c != clip);
        self.recent.push_back(clip);
        while self.recent.len() > ATTRACT_CLIPS {
            self.recent.pop_front();
        }
    }

    /// The loop's clips in order.
    pub fn playlist(&self) -> Vec<PathBuf> {
        self.fixed.iter().chain(&self.recent).cloned().collect()
    }
}

/// Turns job events into playout actions.
#[derive(Debug)]
pub struct Bridge {
    attract: Attract,
    current: Option<JobId>,
    last_progress: Option<Instant>,
}

impl Bridge {
    /// A bridge whose loop starts as `attract`.
    pub fn new(attract: Attract) -> Bridge {
        Bridge {
            attract,
            current: None,
            last_progress: None,
        }
    }

    /// The attract loop now.
    pub fn playlist(&self) -> Vec<PathBuf> {
        self.attract.playlist()
    }

    /// What to do about `event`, which arrived at `now`.
    pub fn on_event(&mut self, event: &JobEvent, now: Instant) -> Vec<Action> {
        match event {
            JobEvent::Started { id, .. } => {
                self.current = Some(*id);
                self.last_progress = Some(now);
                vec![Action::Slate(Some(generating(0.0)))]
            }
            JobEvent::Progress { id, progress } => {
                let due = self
                    .last_progress
                    .is_none_or(|at| now.duration_since(at) >= PROGRESS_INTERVAL);
                if self.current != Some(*id) || !due {
                    return Vec::new();
                }
                self.last_progress = Some(now);
                vec![Action::Slate(Some(generating(progress.fraction)))]
            }
            JobEvent::Ended {
                id, state, output, ..
            } => {
                if self.current == Some(*id) {
                    self.current = None;
                }
                match (state, output) {
                    (JobState::Succeeded, Some(output)) => {
                        let clip = PathBuf::from(output);
                        self.attract.push(clip.clone());
                        vec![
                            Action::ShowClip(clip),
                            Action::SetPlaylist(self.attract.playlist()),
                        ]
                    }
                    // Another job may already have started (events arrive in order, so only
                    // when this one was the slate's).
                    _ if self.current.is_some() => Vec::new(),
                    _ => vec![Action::Slate(None)],
                }
            }
        }
    }
}

fn generating(fraction: f64) -> SlateInfo {
    SlateInfo {
        progress: Some(fraction.clamp(0.0, 1.0)),
        text: GENERATING.into(),
    }
}

/// The running playout and the task that steers it.
#[derive(Debug)]
pub struct PlayoutService {
    playout: Playout,
    bridge: JoinHandle<()>,
}

impl PlayoutService {
    /// Builds the program and its outputs (on a blocking thread), fills the attract loop from
    /// the store, and starts following `service`'s job events.
    pub async fn start(
        config: &Config,
        service: &ServiceHandle,
    ) -> Result<PlayoutService, PlayoutError> {
        // Subscribed before anything can run, so no job's start is missed.
        let events = service.subscribe();
        let playout_cfg = config.playout.clone();
        let outputs = config.outputs.clone();
        let database = config.database_path();
        let (playout, attract) = tokio::task::spawn_blocking(move || {
            let recent = recent_clips(&Store::open(&database)?)?;
            let attract = Attract::new(playout_cfg.playlist.clone(), recent);
            let cfg = PlayoutConfig {
                playlist: attract.playlist(),
                ..playout_cfg
            };
            let playout = Playout::start(&cfg, &outputs)?;
            Ok::<_, PlayoutError>((playout, attract))
        })
        .await
        .map_err(|err| PlayoutError::Task(err.to_string()))??;
        tracing::info!(
            clips = attract.playlist().len(),
            outputs = ?playout.handle().status().outputs,
            "playout on air"
        );
        let bridge = tokio::spawn(follow(events, playout.handle(), Bridge::new(attract)));
        Ok(PlayoutService { playout, bridge })
    }

    /// `rtsp://…` of the RTSP output, with the port actually bound.
    pub fn rtsp_url(&self) -> Option<&str> {
        self.playout.rtsp_url()
    }

    /// A handle for other front ends (e.g. an attract-loop switch).
    pub fn handle(&self) -> PlayoutHandle {
        self.playout.handle()
    }

    /// Stops following jobs, ends every stream (HLS writes `#EXT-X-ENDLIST`) and waits at most
    /// `timeout` for the pipelines.
    pub async fn stop(self, timeout: Duration) -> Result<(), PlayoutError> {
        self.bridge.abort();
        let playout = self.playout;
        tokio::task::spawn_blocking(move || playout.shutdown(timeout))
            .await
            .map_err(|err| PlayoutError::Task(err.to_string()))?
            .map_err(PlayoutError::from)
    }
}

/// How long `reeld` waits for the playout's streams to end at shutdown.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// `reeld`'s start-up step: the playout when `playout.enabled`, with its RTSP URL logged.
pub async fn start_if_enabled(
    config: &Config,
    service: &ServiceHandle,
) -> Result<Option<PlayoutService>, PlayoutError> {
    if !config.playout.enabled {
        let outputs = &config.outputs;
        if outputs.needs_encoder() || outputs.display.is_some() {
            tracing::warn!("[outputs] has live outputs but playout.enabled is false; none runs");
        }
        return Ok(None);
    }
    let playout = PlayoutService::start(config, service).await?;
    if let Some(url) = playout.rtsp_url() {
        tracing::info!(%url, "RTSP output listening");
    }
    Ok(Some(playout))
}

/// `reeld`'s last step: ends the streams, logging rather than failing if they do not end.
pub async fn stop_if_running(playout: Option<PlayoutService>) {
    if let Some(playout) = playout
        && let Err(err) = playout.stop(SHUTDOWN_TIMEOUT).await
    {
        tracing::warn!(%err, "playout did not shut down cleanly");
    }
}

/// Clips of succeeded jobs whose files still exist, newest first.
fn recent_clips(store: &Store) -> Result<Vec<PathBuf>, StoreError> {
    Ok(store
        .list_jobs(RECENT_JOBS)?
        .into_iter()
        .filter(|job| job.state == JobState::Succeeded)
        .filter_map(|job| job.output.map(PathBuf::from))
        .filter(|path| path.is_file())
        .take(ATTRACT_CLIPS)
        .collect())
}

async fn follow(
    mut events: broadcast::Receiver<JobEvent>,
    playout: PlayoutHandle,
    mut bridge: Bridge,
) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "playout fell behind the job events");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        for action in bridge.on_event(&event, Instant::now()) {
            if let Err(err) = apply(&playout, action) {
                tracing::warn!(%err, "playout did not take a command");
            }
        }
    }
}

fn apply(playout: &PlayoutHandle, action: Action) -> Result<(), PipelineError> {
    match action {
        Action::Slate(info) => playout.slate(info),
        // The feeder reports a clip it cannot open only in its status; a missing file would
        // leave the slate up, so it is checked here.
        Action::ShowClip(clip) if !clip.is_file() => {
            tracing::warn!(clip = %clip.display(), "finished clip is missing; not shown");
            playout.slate(None)
        }
        Action::ShowClip(clip) => playout.show_clip(clip),
        Action::SetPlaylist(playlist) => playout.set_playlist(playlist),
    }
}

#[cfg(test)]
mod tests {
    use reel_clip::{Progress, Stage};

    use super::*;

    fn progress(id: JobId, fraction: f64) -> JobEvent {
        JobEvent::Progress {
            id,
            progress: Progress {
                stage: Stage::Denoising,
                step: 1,
                steps: 8,
                fraction,
            },
        }
    }

    fn ended(id: JobId, state: JobState, output: Option<&str>) -> JobEvent {
        JobEvent::Ended {
            id,
            state,
            error: None,
            output: output.map(String::from),
        }
    }

    #[test]
    fn a_job_shows_the_slate_then_its_clip_which_joins_the_loop() {
        let t0 = Instant::now();
        let mut bridge = Bridge::new(Attract::new(vec!["/a.mp4".into()], vec![]));
        let started = bridge.on_event(&JobEvent::Started { id: 1, attempt: 1 }, t0);
        assert_eq!(started, [Action::Slate(Some(generating(0.0)))]);
        // Throttled: one update per interval.
        assert!(bridge.on_event(&progress(1, 0.1), t0).is_empty());
        let later = t0 + PROGRESS_INTERVAL;
        assert_eq!(
            bridge.on_event(&progress(1, 0.5), later),
            [Action::Slate(Some(generating(0.5)))]
        );
        assert!(
            bridge
                .on_event(&progress(1, 0.6), later + Duration::from_millis(10))
                .is_empty()
        );
        let done = bridge.on_event(&ended(1, JobState::Succeeded, Some("/m/job-1.mp4")), later);
        assert_eq!(
            done,
            [
                Action::ShowClip("/m/job-1.mp4".into()),
                Action::SetPlaylist(vec!["/a.mp4".into(), "/m/job-1.mp4".into()]),
            ]
        );
    }

    #[test]
    fn failure_cancel_and_interruption_take_the_slate_off() {
        let t0 = Instant::now();
        for state in [JobState::Failed, JobState::Cancelled, JobState::Queued] {
            let mut bridge = Bridge::new(Attract::default());
            bridge.on_event(&JobEvent::Started { id: 4, attempt: 1 }, t0);
            assert_eq!(
                bridge.on_event(&ended(4, state, None), t0),
                [Action::Slate(None)]
            );
        }
    }

    #[test]
    fn progress_of_another_job_is_ignored() {
        let t0 = Instant::now();
        let mut bridge = Bridge::new(Attract::default());
        bridge.on_event(&JobEvent::Started { id: 2, attempt: 1 }, t0);
        assert!(
            bridge
                .on_event(&progress(9, 0.5), t0 + Duration::from_secs(1))
                .is_empty()
        );
    }

    #[test]
    fn the_loop_keeps_the_newest_clips_oldest_first() {
        let newest_first: Vec<PathBuf> = (0..30)
            .rev()
            .map(|i| PathBuf::from(format!("/m/{i}.mp4")))
            .collect();
        let mut attract = Attract::new(vec![], newest_first);
        let list = attract.playlist();
        assert_eq!(list.len(), ATTRACT_CLIPS);
        assert_eq!(list[0], PathBuf::from("/m/10.mp4"));
        assert_eq!(list[ATTRACT_CLIPS - 1], PathBuf::from("/m/29.mp4"));
        attract.push("/m/30.mp4".into());
        let list = attract.playlist();
        assert_eq!(list.len(), ATTRACT_CLIPS);
        assert_eq!(list[0], PathBuf::from("/m/11.mp4"));
        assert_eq!(list.last(), Some(&PathBuf::from("/m/30.mp4")));
    }

    #[test]
    fn printed_configuration_with_playout_and_outputs_parses_back() {
        let mut config = Config::default();
        config.playout.enabled = true;
        config.playout.playlist = vec!["/srv/attract.mp4".into()];
        config.outputs.hls = Some(reel_pipeline::HlsConfig::default());
        config.outputs.rtsp = Some(reel_pipeline::RtspConfig::default());
        assert_eq!(Config::parse(&config.to_toml()).unwrap(), config);
        config.validate().unwrap();
    }

    #[test]
    fn bad_program_size_is_refused_naming_the_key() {
        let playout = PlayoutConfig {
            width: 162,
            ..PlayoutConfig::default()
        };
        let err = validate(&playout, &OutputsConfig::default()).unwrap_err();
        assert!(err.to_string().contains("playout.width"), "{err}");
        let outputs = OutputsConfig {
            mp4: false,
            ..OutputsConfig::default()
        };
        let err = validate(&PlayoutConfig::default(), &outputs).unwrap_err();
        assert!(err.to_string().contains("outputs.mp4"), "{err}");
    }
}

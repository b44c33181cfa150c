//! The kiosk playout: one continuous program that never stops, for the display and the live
//! streams.
//!
//! # Design: a clocked `appsrc` fed one frame per tick
//!
//! The program is made in Rust, not by switching GStreamer branches. A feeder thread owns the
//! timeline: tick `n` is a frame with presentation time `n / fps` (integer nanoseconds, from
//! [`reel_clip::ClipFormat::frame_pts`]) and exactly the audio samples between `n / fps` and
//! `(n + 1) / fps`. Each tick it takes one frame and its audio from whatever is on air (an
//! attract-loop clip, a clip asked for with [`PlayoutHandle::show_clip`], a live generation fed
//! through a [`LiveFeed`], or the slate), waits on the shared clock until `lead_ms` before that
//! presentation time, and pushes both into live `appsrc`s (`is-live=true`, `format=time`,
//! `do-timestamp=false`, our own PTS). Every source is a separate small pipeline (`decodebin`
//! or `appsrc` → `videoscale method=lanczos add-borders=true` → `videorate` → `appsink`, and
//! `audioresample` for sound) that converts to the program format and is pulled without
//! blocking into bounded queues.
//!
//! What that gives:
//! - **Timestamps are monotonic across switches** by construction: the PTS is the tick
//!   counter, not the clip's own time, and no element downstream ever sees a new segment,
//!   a flush or EOS. Live-stream clients therefore stay connected.
//! - **At most one frame at a switch** (normally none): a new program goes on air only on a tick
//!   where its first frame is already decoded, so the switch is between two consecutive ticks.
//!   The next attract clip is decoded ahead while the current one plays. If a source falls
//!   behind (a live generation slower than real time), the last frame is repeated with silence,
//!   and [`PlayoutStatus::repeated_frames`] counts it.
//! - **Live splicing**: a live generation goes on air once it has buffered `live_preroll_ms`
//!   and its chunks arrive at least as fast as real time, or once it is complete or its buffer
//!   (`live_buffer_ms`) is full; until then the slate (with progress) stays on. Backpressure
//!   reaches the producer through a blocking `appsrc`.
//! - **Outputs are isolated**: the program is encoded once (`x264enc tune=zerolatency`, a
//!   keyframe per second, AAC) and the encoded buffers are handed through `appsink` callbacks
//!   to each output's own pipeline (HLS, SRT, RTP/UDP, each RTSP media) without blocking; a
//!   full queue drops data for that output only, and an output whose pipeline fails is
//!   removed and reported while the rest carry on. All pipelines share the system clock and one
//!   base time, so a running time means the same instant everywhere; the encoded buffers are
//!   handed on stamped with their running time (the encoder's own segment starts at 1000 h).
//!
//! An `input-selector` or `compositor` over per-clip branches was the alternative. It needs
//! pad-blocking and segment/offset surgery at every switch (each decoded clip starts at zero),
//! new sources must be added to a running pipeline, and an EOS from a clip has to be kept from
//! reaching the sinks; errors in one clip's decoder then sit in the pipeline that serves the
//! clients. The clocked `appsrc` keeps all of that in plain Rust, where it is unit-testable.
//!
//! # Outputs as launch lines (test sources in place of the playout)
//!
//! ```text
//! # encoder + HLS
//! gst-launch-1.0 -e videotestsrc is-live=true num-buffers=72 ! video/x-raw,width=320,height=240,framerate=24/1 \
//!   ! videoconvert ! x264enc tune=zerolatency key-int-max=24 ! h264parse config-interval=-1 \
//!   ! video/x-h264,stream-format=byte-stream,alignment=au ! queue ! hls.video \
//!   audiotestsrc is-live=true num-buffers=150 ! audio/x-raw,rate=48000 ! audioconvert ! avenc_aac ! aacparse \
//!   ! queue ! hls.audio hlssink2 name=hls location=/tmp/hls/segment%05d.ts \
//!   playlist-location=/tmp/hls/playlist.m3u8 target-duration=1 max-files=0 playlist-length=0
//! gst-launch-1.0 playbin uri=file:///tmp/hls/playlist.m3u8 video-sink=fakesink audio-sink=fakesink
//! # SRT listener, and a caller
//! gst-launch-1.0 videotestsrc is-live=true num-buffers=100 ! video/x-raw,width=320,height=240,framerate=24/1 \
//!   ! videoconvert ! x264enc tune=zerolatency key-int-max=24 ! h264parse config-interval=-1 \
//!   ! mpegtsmux alignment=7 pat-interval=9000 pmt-interval=9000 \
//!   ! srtsink uri="srt://:7001?mode=listener" wait-for-connection=false
//! gst-launch-1.0 srtsrc uri=srt://127.0.0.1:7001 ! tsdemux ! h264parse ! fakesink num-buffers=20
//! # RTP/UDP, and a receiver
//! gst-launch-1.0 videotestsrc is-live=true num-buffers=60 ! video/x-raw,width=320,height=240,framerate=24/1 \
//!   ! videoconvert ! x264enc tune=zerolatency key-int-max=24 ! rtph264pay config-interval=-1 pt=96 \
//!   ! udpsink host=127.0.0.1 port=5004
//! gst-launch-1.0 udpsrc port=5004 caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96" \
//!   ! rtph264depay ! h264parse ! fakesink num-buffers=20
//! # display (fakesink when headless)
//! gst-launch-1.0 videotestsrc num-buffers=50 ! videoconvert ! autovideosink \
//!   audiotestsrc num-buffers=50 ! audioconvert ! audioresample ! autoaudiosink
//! # RTSP client (the server side is gst-rtsp-server; see the `rtsp` module's launch line)
//! gst-launch-1.0 -e rtspsrc location=rtsp://127.0.0.1:8554/reel protocols=tcp ! rtph264depay ! h264parse \
//!   ! mp4mux ! filesink location=rec.mp4
//! ```

mod build;
mod feeder;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use feeder::{Command, Feeder};
use reel_clip::ClipFormat;

use crate::error::PipelineError;
use crate::live_config::{OutputsConfig, PlayoutConfig};
use crate::live_feed::LiveFeed;
use crate::slate::SlateInfo;

/// What the playout is doing, for status pages and tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlayoutStatus {
    /// The feeder thread is running.
    pub running: bool,
    /// Ticks (program frames) pushed so far.
    pub ticks: u64,
    /// Presentation time of the next tick, in nanoseconds.
    pub running_time_ns: u64,
    /// What is on air: `slate`, `clip PATH` or `live`.
    pub on_air: String,
    /// Program switches so far.
    pub switches: u64,
    /// Time from the last request (or attract-loop decision) to its first frame on air.
    pub last_switch_latency: Option<Duration>,
    /// Ticks that repeated the previous frame because the source had none ready.
    pub repeated_frames: u64,
    /// Frames or audio buffers the encoder was too busy to take.
    pub dropped_frames: u64,
    /// Outputs being fed now.
    pub outputs: Vec<String>,
    /// Outputs that failed and were removed, with the reason.
    pub failed_outputs: Vec<String>,
    /// The most recent errors (bad clips, failed outputs), oldest first.
    pub errors: Vec<String>,
}

/// Rate at which a live generation's frames arrive.
#[derive(Debug, Default)]
pub(crate) struct LiveStats {
    frames: AtomicU64,
    first: OnceLock<Instant>,
}

impl LiveStats {
    pub(crate) fn frame_pushed(&self) {
        self.first.get_or_init(Instant::now);
        self.frames.fetch_add(1, Ordering::Relaxed);
    }

    /// Frames per second since the first one; 0 before two frames.
    pub(crate) fn frames_per_second(&self) -> f64 {
        let frames = self.frames.load(Ordering::Relaxed);
        match self.first.get() {
            Some(first) if frames > 1 => frames as f64 / first.elapsed().as_secs_f64().max(1e-3),
            _ => 0.0,
        }
    }
}

/// Sends commands to a running playout. Cheap to clone and `Send`; no method blocks for more
/// than building a small pipeline, so async code may call them directly.
#[derive(Debug, Clone)]
pub struct PlayoutHandle {
    commands: Sender<Command>,
    status: Arc<Mutex<PlayoutStatus>>,
    format: ClipFormat,
    buffer_frames: usize,
}

impl PlayoutHandle {
    /// Puts the clip at `path` on air as soon as its first frame is decoded; afterwards the
    /// attract loop resumes.
    pub fn show_clip(&self, path: impl Into<PathBuf>) -> Result<(), PipelineError> {
        self.send(Command::ShowClip(path.into(), Instant::now()))
    }

    /// Starts a live generation in `clip` format; push its chunks into the returned feed.
    pub fn start_live(&self, clip: ClipFormat) -> Result<LiveFeed, PipelineError> {
        let stats = Arc::new(LiveStats::default());
        let (feed, source) =
            LiveFeed::start(clip, self.format, self.buffer_frames, Arc::clone(&stats))?;
        self.send(Command::Live(Box::new(source), stats, Instant::now()))?;
        Ok(feed)
    }

    /// Replaces the attract loop's clips; it restarts at the first one.
    pub fn set_playlist(&self, playlist: Vec<PathBuf>) -> Result<(), PipelineError> {
        self.send(Command::SetPlaylist(playlist))
    }

    /// Turns the attract loop on or off (off shows the idle slate between clips).
    pub fn set_attract(&self, on: bool) -> Result<(), PipelineError> {
        self.send(Command::SetAttract(on))
    }

    /// Shows (or updates) the slate, e.g. "Generating…" with progress, until the next clip or
    /// live generation goes on air; `None` hides it.
    pub fn slate(&self, info: Option<SlateInfo>) -> Result<(), PipelineError> {
        self.send(Command::Slate(info))
    }

    /// A snapshot of the playout's status.
    pub fn status(&self) -> PlayoutStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn send(&self, command: Command) -> Result<(), PipelineError> {
        self.commands
            .send(command)
            .map_err(|_| PipelineError::Stopped("the playout has stopped".into()))
    }
}

/// A running playout. Stop it with [`Playout::shutdown`]; dropping it shuts down with a
/// default grace time.
#[derive(Debug)]
pub struct Playout {
    handle: PlayoutHandle,
    thread: Option<JoinHandle<()>>,
    rtsp_url: Option<String>,
}

impl Playout {
    /// Builds the encoder and every configured live output and starts the program.
    pub fn start(cfg: &PlayoutConfig, outputs: &OutputsConfig) -> Result<Playout, PipelineError> {
        crate::init()?;
        cfg.validate()?;
        let (feeder, rtsp_url) = build::build_feeder(cfg, outputs)?;
        let handle = PlayoutHandle {
            commands: mpsc::channel().0,
            status: Arc::clone(&feeder.status),
            format: cfg.format(),
            buffer_frames: feeder.buffer_frames,
        };
        let (commands, receiver) = mpsc::channel();
        let handle = PlayoutHandle { commands, ..handle };
        if let Ok(mut status) = handle.status.lock() {
            status.running = true;
        }
        let thread = std::thread::Builder::new()
            .name("reel-playout".into())
            .spawn(move || Feeder::run(feeder, receiver))
            .map_err(|err| PipelineError::Build(format!("spawning the playout thread: {err}")))?;
        Ok(Playout {
            handle,
            thread: Some(thread),
            rtsp_url,
        })
    }

    /// A handle for sending commands from other threads or tasks.
    pub fn handle(&self) -> PlayoutHandle {
        self.handle.clone()
    }

    /// `rtsp://…` of the RTSP output, with the port actually bound.
    pub fn rtsp_url(&self) -> Option<&str> {
        self.rtsp_url.as_deref()
    }

    /// Ends every stream (HLS writes its final playlist) and stops, waiting at most `timeout`.
    pub fn shutdown(mut self, timeout: Duration) -> Result<(), PipelineError> {
        self.stop(timeout)
    }

    fn stop(&mut self, timeout: Duration) -> Result<(), PipelineError> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        let (reply, outcome) = mpsc::sync_channel(1);
        self.handle.send(Command::Shutdown(reply, timeout))?;
        // One extra tick of slack: the feeder may be waiting for its next frame time.
        let outcome = outcome
            .recv_timeout(timeout + Duration::from_secs(1))
            .map_err(|_| PipelineError::Timeout {
                what: "the playout to shut down",
                waited: timeout,
            })?;
        if thread.join().is_err() {
            return Err(PipelineError::Stopped("the playout thread panicked".into()));
        }
        outcome
    }
}

impl Drop for Playout {
    fn drop(&mut self) {
        if let Err(err) = self.stop(crate::outputs::FINISH_GRACE) {
            tracing::warn!(%err, "playout did not shut down cleanly");
        }
    }
}

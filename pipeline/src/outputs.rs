//! Live outputs, each in a pipeline of its own fed through `appsrc`s, so that one failing
//! output (a full disk under HLS, a vanished display) is torn down alone while the others and the
//! program carry on. All of them share one clock and base time with the playout (see
//! [`Timeline`]), so a buffer's timestamp means the same instant in every pipeline and the
//! encoded buffers can be handed on unchanged.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gst::prelude::*;

use crate::encoders::make_element;
use crate::error::PipelineError;
use crate::live_config::{DisplayConfig, HlsConfig, SrtConfig, UdpConfig};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One clock and one base time for every pipeline of a playout.
#[derive(Debug, Clone)]
pub(crate) struct Timeline {
    pub(crate) clock: gst::Clock,
    pub(crate) base: gst::ClockTime,
}

impl Timeline {
    pub(crate) fn new() -> Timeline {
        let clock = gst::SystemClock::obtain();
        let base = clock.time();
        Timeline { clock, base }
    }

    /// Makes `pipeline` run on this timeline: same clock, fixed base time, so running time
    /// zero is the same instant everywhere, whenever the pipeline starts.
    pub(crate) fn apply(&self, pipeline: &gst::Pipeline) {
        pipeline.use_clock(Some(&self.clock));
        pipeline.set_start_time(gst::ClockTime::NONE);
        pipeline.set_base_time(self.base);
    }

    /// Running time now.
    pub(crate) fn now(&self) -> gst::ClockTime {
        self.clock.time().saturating_sub(self.base)
    }

    /// Blocks until the running time reaches `running`.
    pub(crate) fn wait_until(&self, running: gst::ClockTime) {
        if running <= self.now() {
            return;
        }
        let id = self.clock.new_single_shot_id(self.base + running);
        // Early or unscheduled both just mean: go on with the next tick.
        if let (Err(err), _) = id.wait() {
            tracing::trace!(?err, "clock wait ended early");
        }
    }
}

/// Which stream a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Video,
    Audio,
}

/// One output's inputs. `pipeline` is `None` for RTSP media, which the server owns.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) pipeline: Option<gst::Pipeline>,
    pub(crate) video: Option<gst_app::AppSrc>,
    pub(crate) audio: Option<gst_app::AppSrc>,
    /// H.264 decoders need a keyframe first: deltas are skipped until one comes.
    waiting_key: bool,
}

impl Output {
    pub(crate) fn new(
        name: &str,
        pipeline: Option<gst::Pipeline>,
        video: Option<gst_app::AppSrc>,
        audio: Option<gst_app::AppSrc>,
    ) -> Output {
        Output {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: name.to_owned(),
            pipeline,
            video,
            audio,
            waiting_key: true,
        }
    }

    fn stop(&self) {
        if let Some(pipeline) = &self.pipeline
            && pipeline.set_state(gst::State::Null).is_err()
        {
            tracing::warn!(output = %self.name, "could not stop output pipeline");
        }
    }
}

/// Hands samples to every registered output without ever blocking: a full queue drops the
/// sample (and, for video, everything up to the next keyframe), so a slow client or disk
/// cannot stall the program or the other outputs.
#[derive(Debug, Default)]
pub(crate) struct Fanout {
    outputs: Mutex<Vec<Output>>,
    failed: Mutex<Vec<String>>,
}

impl Fanout {
    pub(crate) fn add(&self, output: Output) {
        if let Ok(mut outputs) = self.outputs.lock() {
            outputs.push(output);
        }
    }

    pub(crate) fn remove(&self, id: u64) {
        if let Ok(mut outputs) = self.outputs.lock() {
            outputs.retain(|o| o.id != id);
        }
    }

    /// Names of the outputs now fed.
    pub(crate) fn names(&self) -> Vec<String> {
        self.outputs
            .lock()
            .map(|o| o.iter().map(|o| o.name.clone()).collect())
            .unwrap_or_default()
    }

    /// Outputs that failed and were removed, with the reason.
    pub(crate) fn failures(&self) -> Vec<String> {
        self.failed.lock().map(|f| f.clone()).unwrap_or_default()
    }

    pub(crate) fn push(&self, stream: Stream, sample: &gst::Sample) {
        let Ok(mut outputs) = self.outputs.lock() else {
            return;
        };
        let delta = sample
            .buffer()
            .is_some_and(|b| b.flags().contains(gst::BufferFlags::DELTA_UNIT));
        for output in outputs.iter_mut() {
            let src = match stream {
                Stream::Video => output.video.as_ref(),
                Stream::Audio => output.audio.as_ref(),
            };
            let Some(src) = src else { continue };
            if stream == Stream::Video {
                if output.waiting_key && delta {
                    continue;
                }
                output.waiting_key = false;
            }
            if src.current_level_bytes() >= src.max_bytes() {
                if stream == Stream::Video {
                    output.waiting_key = true;
                }
                tracing::debug!(output = %output.name, "output queue full; dropping");
                continue;
            }
            if let Err(flow) = src.push_sample(sample) {
                // Flushing happens while an RTSP media changes state: it is not a failure (the
                // media's `unprepared` signal or the output's bus tells that), but what follows
                // must start at a keyframe.
                tracing::debug!(output = %output.name, ?flow, "output did not take a sample");
                if stream == Stream::Video {
                    output.waiting_key = true;
                }
            }
        }
    }

    pub(crate) fn end_of_stream(&self, stream: Stream) {
        let Ok(outputs) = self.outputs.lock() else {
            return;
        };
        for output in outputs.iter() {
            let src = match stream {
                Stream::Video => output.video.as_ref(),
                Stream::Audio => output.audio.as_ref(),
            };
            if let Some(src) = src
                && let Err(flow) = src.end_of_stream()
            {
                tracing::debug!(output = %output.name, ?flow, "EOS not taken");
            }
        }
    }

    /// Removes outputs whose pipeline posted an error; returns the errors for the caller to
    /// report. Never blocks on the network or the disk.
    pub(crate) fn reap_failed(&self) -> Vec<PipelineError> {
        let Ok(mut outputs) = self.outputs.lock() else {
            return Vec::new();
        };
        let mut errors = Vec::new();
        outputs.retain(|output| {
            let error = output.pipeline.as_ref().and_then(crate::bus::pending_error);
            match error {
                Some(err) => {
                    tracing::error!(output = %output.name, %err, "output failed; removed");
                    if let Ok(mut failed) = self.failed.lock() {
                        failed.push(format!("{}: {err}", output.name));
                    }
                    output.stop();
                    errors.push(err);
                    false
                }
                None => true,
            }
        });
        errors
    }

    /// After [`Fanout::end_of_stream`]: waits (up to `deadline`) for each owned pipeline to
    /// finish its files, then stops all of them.
    pub(crate) fn finish(&self, deadline: Instant) {
        let Ok(mut outputs) = self.outputs.lock() else {
            return;
        };
        for output in outputs.drain(..) {
            if let Some(bus) = output.pipeline.as_ref().and_then(|p| p.bus()) {
                let left = deadline.saturating_duration_since(Instant::now());
                let left = gst::ClockTime::from_nseconds(left.as_nanos() as u64);
                let types = [gst::MessageType::Eos, gst::MessageType::Error];
                if bus.timed_pop_filtered(left, &types).is_none() {
                    tracing::warn!(output = %output.name, "no EOS before the deadline");
                }
            }
            output.stop();
        }
    }
}

/// Sets the properties every bridging `appsrc` needs: live, timed by us, bounded.
pub(crate) fn configure_appsrc(src: &gst_app::AppSrc, max_bytes: u64) {
    src.set_format(gst::Format::Time);
    src.set_is_live(true);
    src.set_do_timestamp(false);
    src.set_stream_type(gst_app::AppStreamType::Stream);
    src.set_max_bytes(max_bytes);
    src.set_block(false);
}

/// Encoded inputs get about two seconds at a generous bitrate.
const ENCODED_QUEUE_BYTES: u64 = 2 * 1024 * 1024;

/// Builds an output pipeline from a description whose inputs are `appsrc name=video` and
/// `appsrc name=audio`, after checking that every element exists.
fn launch(
    name: &str,
    elements: &[&str],
    description: &str,
    timeline: &Timeline,
    configure: impl FnOnce(&gst::Bin) -> Result<(), PipelineError>,
) -> Result<Output, PipelineError> {
    for element in elements {
        // make_element reports the package that provides a missing one.
        make_element(element, "probe")?;
    }
    let bin = gst::parse::launch(description)
        .map_err(|err| PipelineError::Build(format!("{name} output: {err}")))?;
    let pipeline = bin
        .downcast::<gst::Pipeline>()
        .map_err(|_| PipelineError::Build(format!("{name} output is not a pipeline")))?;
    pipeline.set_property("name", format!("reel-{name}"));
    let appsrc = |src: &str| {
        pipeline
            .by_name(src)
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
    };
    let (video, audio) = (appsrc("video"), appsrc("audio"));
    for src in video.iter().chain(audio.iter()) {
        configure_appsrc(src, ENCODED_QUEUE_BYTES);
    }
    configure(pipeline.upcast_ref())?;
    timeline.apply(&pipeline);
    if pipeline.set_state(gst::State::Playing).is_err() {
        let err = crate::bus::error_after_failed_state_change(&pipeline, "PLAYING");
        // A pipeline that failed to start still holds sockets or files: release them.
        if pipeline.set_state(gst::State::Null).is_err() {
            tracing::warn!(output = name, "could not stop failed output");
        }
        return Err(err);
    }
    Ok(Output::new(name, Some(pipeline), video, audio))
}

fn set(bin: &gst::Bin, element: &str, property: &str, value: impl Into<gst::glib::Value>) {
    if let Some(e) = bin.by_name(element) {
        e.set_property(property, value);
    }
}

/// Which RTP payloader and TS-compatible stream the audio encoder produces.
pub(crate) fn audio_payloader(audio_encoder: &str) -> &'static str {
    if audio_encoder == "opusenc" {
        "rtpopuspay"
    } else {
        "rtpmp4gpay"
    }
}

/// `hlssink2` with the program's H.264 and AAC.
pub(crate) fn hls(cfg: &HlsConfig, timeline: &Timeline) -> Result<Output, PipelineError> {
    if cfg.target_duration == 0 {
        return Err(PipelineError::Config(
            "outputs.hls.target_duration must be at least 1".into(),
        ));
    }
    std::fs::create_dir_all(&cfg.dir).map_err(|e| PipelineError::io("creating", &cfg.dir, e))?;
    let description = "appsrc name=video ! queue ! sink.video \
                       appsrc name=audio ! queue ! sink.audio hlssink2 name=sink";
    launch("hls", &["hlssink2"], description, timeline, |bin| {
        let path = |name: &str| cfg.dir.join(name).to_string_lossy().into_owned();
        set(bin, "sink", "location", path("segment%05d.ts"));
        set(bin, "sink", "playlist-location", path("playlist.m3u8"));
        set(bin, "sink", "target-duration", cfg.target_duration);
        set(bin, "sink", "max-files", cfg.max_files);
        set(bin, "sink", "playlist-length", cfg.playlist_length);
        Ok(())
    })
}

/// MPEG-TS over an SRT listener.
pub(crate) fn srt(cfg: &SrtConfig, timeline: &Timeline) -> Result<Output, PipelineError> {
    // wait-for-connection=false: without a caller the listener drops data instead of
    // stalling, and callers may come and go.
    let description = "appsrc name=video ! queue ! mux. appsrc name=audio ! queue ! mux. \
                       mpegtsmux name=mux alignment=7 \
                       ! srtsink name=sink wait-for-connection=false sync=false";
    let elements = ["mpegtsmux", "srtsink"];
    launch("srt", &elements, description, timeline, |bin| {
        set(
            bin,
            "sink",
            "uri",
            format!("srt://:{}?mode=listener", cfg.port),
        );
        Ok(())
    })
}

/// RTP over UDP: H.264 on `port`, audio on `port + 2` (RTP's even-port convention).
pub(crate) fn udp(
    cfg: &UdpConfig,
    audio_encoder: &str,
    timeline: &Timeline,
) -> Result<Output, PipelineError> {
    let audio_port = cfg.port.checked_add(2).ok_or_else(|| {
        PipelineError::Config(format!("outputs.udp.port {} leaves no room", cfg.port))
    })?;
    let pay = audio_payloader(audio_encoder);
    let description = format!(
        "appsrc name=video ! rtph264pay config-interval=-1 pt=96 ! udpsink name=vsink sync=false \
         appsrc name=audio ! {pay} pt=97 ! udpsink name=asink sync=false"
    );
    let elements = ["rtph264pay", pay, "udpsink"];
    launch("udp", &elements, &description, timeline, |bin| {
        set(bin, "vsink", "host", cfg.host.as_str());
        set(bin, "vsink", "port", i32::from(cfg.port));
        set(bin, "asink", "host", cfg.host.as_str());
        set(bin, "asink", "port", i32::from(audio_port));
        Ok(())
    })
}

/// The display sinks in probing order; the first installed one is used.
fn display_sink() -> String {
    let session = |var: &str| std::env::var_os(var).is_some();
    let mut candidates = vec!["nvdrmvideosink"];
    if session("WAYLAND_DISPLAY") {
        candidates.push("waylandsink");
    }
    if session("DISPLAY") {
        candidates.push("glimagesink");
    }
    if !session("WAYLAND_DISPLAY") && !session("DISPLAY") {
        candidates.push("kmssink");
    }
    candidates
        .into_iter()
        .find(|name| gst::ElementFactory::find(name).is_some())
        .unwrap_or("autovideosink")
        .to_owned()
}

/// Raw video and audio to a screen and loudspeaker; the sinks sync to the shared clock.
pub(crate) fn display(
    cfg: &DisplayConfig,
    video_caps: &gst::Caps,
    audio_caps: &gst::Caps,
    frame_bytes: u64,
    timeline: &Timeline,
) -> Result<Output, PipelineError> {
    let vsink = match cfg.sink.as_str() {
        crate::AUTO => display_sink(),
        other => other.to_owned(),
    };
    let asink = match cfg.audio_sink.as_str() {
        crate::AUTO => "autoaudiosink".to_owned(),
        other => other.to_owned(),
    };
    let description = format!(
        "appsrc name=video ! queue ! videoconvert ! {vsink} name=vsink \
         appsrc name=audio ! queue ! audioconvert ! audioresample ! {asink} name=asink"
    );
    let elements = [vsink.as_str(), asink.as_str()];
    let mut output = launch("display", &elements, &description, timeline, |bin| {
        set(bin, "video", "caps", video_caps);
        set(bin, "audio", "caps", audio_caps);
        Ok(())
    })?;
    // Raw frames are big: half a second of them at most.
    if let Some(video) = &output.video {
        video.set_max_bytes(frame_bytes * 12);
    }
    output.waiting_key = false;
    Ok(output)
}

/// How long shutdown waits for outputs to write their last segment by default.
pub(crate) const FINISH_GRACE: Duration = Duration::from_secs(5);

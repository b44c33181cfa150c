//! A program source for the playout: a clip file (decodebin) or a live generation (two
//! `appsrc`s fed by a [`crate::LiveFeed`]), converted by GStreamer to the program's size, rate
//! and audio format (Lanczos scaling with borders to keep the aspect ratio, `videorate`,
//! `audioresample`), and pulled without blocking into bounded queues that the playout's feeder
//! thread takes exactly one frame from per tick.

use std::collections::VecDeque;
use std::path::Path;

use gst::prelude::*;
use reel_clip::ClipFormat;

use crate::encoders::{capsfilter, make_element};
use crate::error::PipelineError;
use crate::graph::{add_chain, appsrc, audio_caps, video_caps};

/// Most seconds of audio kept ahead; past this the decoder waits.
const AUDIO_AHEAD_S: u64 = 10;

/// A running conversion pipeline and what it has produced so far.
#[derive(Debug)]
pub(crate) struct Source {
    pipeline: gst::Pipeline,
    video: gst_app::AppSink,
    audio: gst_app::AppSink,
    program: ClipFormat,
    /// Frames with their running time in the source, in nanoseconds.
    frames: VecDeque<(u64, gst::Buffer)>,
    max_frames: usize,
    /// Interleaved samples; `samples_start` is the (per channel) index of the first one.
    samples: VecDeque<f32>,
    samples_start: u64,
    /// Next sample (per channel) the program plays; set from the first frame shown.
    audio_cursor: Option<u64>,
    video_eos: bool,
    /// What is on, for status and logs.
    pub(crate) label: String,
}

impl Source {
    /// Decodes `path` (any container and codecs GStreamer can play).
    pub(crate) fn open_file(
        path: &Path,
        program: ClipFormat,
        max_frames: usize,
    ) -> Result<Source, PipelineError> {
        if !path.is_file() {
            let err = std::io::Error::new(std::io::ErrorKind::NotFound, "no such clip");
            return Err(PipelineError::io("playing", path, err));
        }
        let pipeline = gst::Pipeline::with_name("reel-clip-source");
        let src = make_element("filesrc", "file-src")?;
        src.set_property("location", path.to_string_lossy().as_ref());
        let decode = make_element("decodebin", "decode")?;
        add_chain(&pipeline, &[&src, &decode])?;
        let (video_head, video) = video_branch(&pipeline, program)?;
        let (audio_head, audio) = audio_branch(&pipeline, program)?;
        decode.connect_pad_added(move |_, pad| {
            let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
            let name = caps.structure(0).map(|s| s.name().to_string());
            let head = match name.as_deref() {
                Some(n) if n.starts_with("video/") => &video_head,
                Some(n) if n.starts_with("audio/") => &audio_head,
                _ => return,
            };
            // A second stream of the same kind stays unlinked; decodebin ignores that.
            if let Some(sink) = head.static_pad("sink").filter(|p| !p.is_linked())
                && let Err(err) = pad.link(&sink)
            {
                tracing::warn!(?err, "could not link a decoded stream");
            }
        });
        Source::start(
            pipeline,
            video,
            audio,
            program,
            max_frames,
            path.display().to_string(),
        )
    }

    /// Converts chunks of `clip` format pushed into the returned `appsrc`s (video, audio).
    pub(crate) fn open_live(
        clip: ClipFormat,
        program: ClipFormat,
        max_frames: usize,
    ) -> Result<(Source, gst_app::AppSrc, gst_app::AppSrc), PipelineError> {
        let pipeline = gst::Pipeline::with_name("reel-live-source");
        let (video_head, video) = video_branch(&pipeline, program)?;
        let (audio_head, audio) = audio_branch(&pipeline, program)?;
        // One second of input each; `block` makes the producer wait there (backpressure).
        let frames_per_s = u64::from(clip.fps_num.div_ceil(clip.fps_den).max(2));
        let video_src = appsrc(
            "live-video",
            video_caps(clip)?,
            frames_per_s * clip.rgb_frame_len() as u64,
        );
        let audio_bytes = u64::from(clip.sample_rate) * u64::from(clip.channels) * 4;
        let audio_src = appsrc("live-audio", audio_caps(clip)?, audio_bytes);
        for (src, head) in [(&video_src, &video_head), (&audio_src, &audio_head)] {
            src.set_block(true);
            pipeline
                .add(src)
                .and_then(|()| src.link(head))
                .map_err(|err| PipelineError::Build(format!("live source input: {err}")))?;
        }
        let source = Source::start(pipeline, video, audio, program, max_frames, "live".into())?;
        Ok((source, video_src, audio_src))
    }

    fn start(
        pipeline: gst::Pipeline,
        video: gst_app::AppSink,
        audio: gst_app::AppSink,
        program: ClipFormat,
        max_frames: usize,
        label: String,
    ) -> Result<Source, PipelineError> {
        if pipeline.set_state(gst::State::Playing).is_err() {
            let err = crate::bus::error_after_failed_state_change(&pipeline, "PLAYING");
            if pipeline.set_state(gst::State::Null).is_err() {
                tracing::warn!("could not stop a failed source");
            }
            return Err(err);
        }
        Ok(Source {
            pipeline,
            video,
            audio,
            program,
            frames: VecDeque::new(),
            max_frames: max_frames.max(2),
            samples: VecDeque::new(),
            samples_start: 0,
            audio_cursor: None,
            video_eos: false,
            label,
        })
    }

    /// Takes whatever the converters have ready, without waiting. Errors are the source's
    /// pipeline errors (a corrupt file, a missing decoder).
    pub(crate) fn fill(&mut self) -> Result<(), PipelineError> {
        if let Some(err) = crate::bus::pending_error(&self.pipeline) {
            return Err(err);
        }
        while self.frames.len() < self.max_frames {
            match self.video.try_pull_sample(gst::ClockTime::ZERO) {
                Some(sample) => {
                    if let Some(buffer) = sample.buffer_owned() {
                        self.frames.push_back((running_time_ns(&sample), buffer));
                    }
                }
                None => {
                    self.video_eos = self.video.is_eos();
                    break;
                }
            }
        }
        let channels = usize::from(self.program.channels);
        let ahead = AUDIO_AHEAD_S as usize * self.program.sample_rate as usize * channels;
        while self.samples.len() < ahead {
            let Some(sample) = self.audio.try_pull_sample(gst::ClockTime::ZERO) else {
                break;
            };
            let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) else {
                continue;
            };
            if self.samples.is_empty() {
                let at = running_time_ns(&sample);
                self.samples_start = sample_at(self.program, at);
            }
            // Later buffers are taken as contiguous: resampled streams may jitter by a sample,
            // and a click is worse than a sub-millisecond offset.
            self.samples.extend(
                map.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
        }
        Ok(())
    }

    /// Frames ready to show.
    pub(crate) fn buffered_frames(&self) -> usize {
        self.frames.len()
    }

    /// The queue is as full as it gets.
    pub(crate) fn is_full(&self) -> bool {
        self.frames.len() >= self.max_frames
    }

    /// All frames have been produced (they may still be queued).
    pub(crate) fn input_ended(&self) -> bool {
        self.video_eos
    }

    /// Everything has been shown.
    pub(crate) fn is_done(&self) -> bool {
        self.video_eos && self.frames.is_empty()
    }

    /// One tick: the next frame and `count` samples (per channel) of audio aligned to it;
    /// silence where the source has none. `None` when no frame is ready (an underrun).
    pub(crate) fn next_tick(&mut self, count: u64) -> Option<(gst::Buffer, Vec<f32>)> {
        let (at_ns, frame) = self.frames.pop_front()?;
        let cursor = *self
            .audio_cursor
            .get_or_insert_with(|| sample_at(self.program, at_ns));
        let channels = usize::from(self.program.channels);
        let mut out = vec![0.0; count as usize * channels];
        // Drop audio that is older than the cursor (audio that came late).
        if self.samples_start < cursor {
            let stale = ((cursor - self.samples_start) as usize * channels).min(self.samples.len());
            self.samples.drain(..stale);
            self.samples_start += (stale / channels) as u64;
        }
        let gap = self.samples_start.saturating_sub(cursor).min(count) as usize * channels;
        let take = (out.len() - gap).min(self.samples.len());
        for (slot, sample) in out[gap..gap + take]
            .iter_mut()
            .zip(self.samples.drain(..take))
        {
            *slot = sample;
        }
        self.samples_start += (take / channels) as u64;
        self.audio_cursor = Some(cursor + count);
        Some((frame, out))
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        if self.pipeline.set_state(gst::State::Null).is_err() {
            tracing::warn!(source = %self.label, "could not stop a source");
        }
    }
}

/// The (per channel) sample index at `ns`, rounded to the nearest sample.
fn sample_at(format: ClipFormat, ns: u64) -> u64 {
    ((u128::from(ns) * u128::from(format.sample_rate) + 500_000_000) / 1_000_000_000) as u64
}

/// Running time of a sample's buffer: what `videorate` and edit lists made of its timestamp.
fn running_time_ns(sample: &gst::Sample) -> u64 {
    let pts = sample.buffer().and_then(|b| b.pts());
    let segment = sample
        .segment()
        .and_then(|s| s.downcast_ref::<gst::ClockTime>());
    match (pts, segment) {
        (Some(pts), Some(segment)) => segment.to_running_time(pts).map_or(0, |t| t.nseconds()),
        (Some(pts), None) => pts.nseconds(),
        _ => 0,
    }
}

/// `sync=false`: the feeder paces the program; `async=false`: a file without audio must not
/// hold the pipeline in preroll waiting for an audio sample that never comes.
fn appsink(name: &str, caps: &gst::Caps, max_buffers: u32) -> gst_app::AppSink {
    let sink = gst_app::AppSink::builder()
        .name(name)
        .caps(caps)
        .sync(false)
        .max_buffers(max_buffers)
        .drop(false)
        .build();
    sink.set_async(false);
    sink
}

fn video_branch(
    pipeline: &gst::Pipeline,
    program: ClipFormat,
) -> Result<(gst::Element, gst_app::AppSink), PipelineError> {
    let scale = make_element("videoscale", "video-scale")?;
    scale.set_property_from_str("method", "lanczos");
    // Letterbox instead of stretching a clip of another aspect ratio.
    scale.set_property("add-borders", true);
    let convert = make_element("videoconvert", "video-convert")?;
    let rate = make_element("videorate", "video-rate")?;
    let mut caps = video_caps(program)?;
    caps.make_mut()
        .set("pixel-aspect-ratio", gst::Fraction::new(1, 1));
    let filter = capsfilter("video-format", caps.clone())?;
    let sink = appsink("video-sink", &caps, 4);
    let queue = make_element("queue", "video-queue")?;
    let chain = [&queue, &scale, &convert, &rate, &filter, sink.upcast_ref()];
    add_chain(pipeline, &chain)?;
    Ok((queue, sink))
}

fn audio_branch(
    pipeline: &gst::Pipeline,
    program: ClipFormat,
) -> Result<(gst::Element, gst_app::AppSink), PipelineError> {
    let queue = make_element("queue", "audio-queue")?;
    let convert = make_element("audioconvert", "audio-convert")?;
    let resample = make_element("audioresample", "audio-resample")?;
    let caps = audio_caps(program)?;
    let filter = capsfilter("audio-format", caps.clone())?;
    let sink = appsink("audio-sink", &caps, 64);
    add_chain(
        pipeline,
        &[&queue, &convert, &resample, &filter, sink.upcast_ref()],
    )?;
    Ok((queue, sink))
}

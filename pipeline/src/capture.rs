//! Capture for cameo enrollment: N seconds from a camera and a microphone, written to an MP4
//! file (through [`Mp4Writer`]) and handed to the caller as frames and audio.
//!
//! ```text
//! gst-launch-1.0 -e v4l2src num-buffers=48 ! videoconvert ! videoscale ! videorate \
//!   ! video/x-raw,format=RGB,width=640,height=480,framerate=24/1 ! fakesink \
//!   pulsesrc num-buffers=100 ! audioconvert ! audioresample \
//!   ! audio/x-raw,format=F32LE,rate=48000,channels=1 ! fakesink
//! ```
//!
//! Without a camera, the same with test sources (what the tests configure) runs as it is:
//!
//! ```text
//! gst-launch-1.0 -e videotestsrc is-live=true num-buffers=48 ! videoconvert ! videoscale ! videorate \
//!   ! video/x-raw,format=RGB,width=640,height=480,framerate=24/1 ! fakesink \
//!   audiotestsrc is-live=true num-buffers=100 ! audioconvert ! audioresample \
//!   ! audio/x-raw,format=F32LE,rate=48000,channels=1 ! fakesink
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use gst::prelude::*;
use reel_clip::{AudioChunk, Chunk, ClipFormat, VideoFrame};
use serde::{Deserialize, Serialize};

use crate::config::{AUTO, EncoderConfig};
use crate::error::PipelineError;
use crate::writer::{Mp4Info, Mp4Writer};

/// Where capture reads from and in what format it records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// A launch fragment for the camera, e.g. `v4l2src device=/dev/video0`.
    pub video_source: String,
    /// A launch fragment for the microphone, or `"auto"` (`pulsesrc`, then `alsasrc`, then
    /// `autoaudiosrc`).
    pub audio_source: String,
    /// Recorded width in pixels (even).
    pub width: u32,
    /// Recorded height in pixels (even).
    pub height: u32,
    /// Recorded frame rate.
    pub fps: u32,
    /// Recorded audio rate in Hz.
    pub sample_rate: u32,
    /// Recorded audio channels.
    pub channels: u16,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            video_source: "v4l2src".into(),
            audio_source: AUTO.into(),
            width: 640,
            height: 480,
            fps: 24,
            sample_rate: 48_000,
            channels: 1,
        }
    }
}

/// What [`capture`] recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Captured {
    /// The recorded format.
    pub format: ClipFormat,
    /// Frames, timed from 0.
    pub frames: Vec<VideoFrame>,
    /// Audio, one chunk per frame, on the same timeline.
    pub audio: Vec<AudioChunk>,
    /// The file written.
    pub mp4: Mp4Info,
}

/// How long capture may take beyond its length (camera start-up).
const START_SLACK: Duration = Duration::from_secs(10);

/// Records `seconds` from the configured camera and microphone into `path`.
pub fn capture(
    cfg: &CaptureConfig,
    seconds: f64,
    path: &Path,
    encoder: &EncoderConfig,
) -> Result<Captured, PipelineError> {
    crate::init()?;
    let format = ClipFormat {
        width: cfg.width,
        height: cfg.height,
        fps_num: cfg.fps,
        fps_den: 1,
        sample_rate: cfg.sample_rate,
        channels: cfg.channels,
    };
    crate::graph::output_size(format, &EncoderConfig::default())?;
    let frames = format.frames_for(seconds);
    if frames == 0 {
        return Err(PipelineError::Config(format!(
            "capture of {seconds} s has no frames"
        )));
    }
    let audio_source = match cfg.audio_source.as_str() {
        AUTO => ["pulsesrc", "alsasrc"]
            .into_iter()
            .find(|f| gst::ElementFactory::find(f).is_some())
            .unwrap_or("autoaudiosrc")
            .to_owned(),
        other => other.to_owned(),
    };
    let description = format!(
        "{} ! videoconvert ! videoscale ! videorate ! capsfilter name=vcaps ! appsink name=video \
         {audio_source} ! audioconvert ! audioresample ! capsfilter name=acaps ! appsink name=audio",
        cfg.video_source
    );
    let pipeline = gst::parse::launch(&description)
        .map_err(|err| PipelineError::Build(format!("capture `{description}`: {err}")))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| PipelineError::Build("capture description is not a pipeline".into()))?;
    let by_name = |name: &str| {
        pipeline
            .by_name(name)
            .ok_or_else(|| PipelineError::Build(format!("capture has no `{name}`")))
    };
    by_name("vcaps")?.set_property("caps", crate::graph::video_caps(format)?);
    by_name("acaps")?.set_property("caps", crate::graph::audio_caps(format)?);
    let sink = |name: &str| {
        by_name(name)?
            .downcast::<gst_app::AppSink>()
            .map_err(|_| PipelineError::Build(format!("`{name}` is not an appsink")))
    };
    let (video, audio) = (sink("video")?, sink("audio")?);
    if pipeline.set_state(gst::State::Playing).is_err() {
        let err = crate::bus::error_after_failed_state_change(&pipeline, "PLAYING");
        stop(&pipeline);
        return Err(err);
    }
    let outcome = record(&pipeline, &video, &audio, format, frames, seconds);
    stop(&pipeline);
    let (rgb, samples) = outcome?;

    let mut writer = Mp4Writer::create(path, format, encoder)?;
    let (mut out_frames, mut out_audio) = (Vec::new(), Vec::new());
    let channels = usize::from(format.channels);
    for (index, rgb) in rgb.into_iter().enumerate() {
        let index = index as u64;
        let first = format.samples_for_frames(index);
        let end = format.samples_for_frames(index + 1);
        let slice = samples[first as usize * channels..end as usize * channels].to_vec();
        let frame = format.video_frame(index, rgb);
        let chunk = format.audio_chunk(first, slice);
        writer.push(Chunk::Video(frame.clone()))?;
        writer.push(Chunk::Audio(chunk.clone()))?;
        out_frames.push(frame);
        out_audio.push(chunk);
    }
    let mp4 = writer.finish()?;
    Ok(Captured {
        format,
        frames: out_frames,
        audio: out_audio,
        mp4,
    })
}

fn stop(pipeline: &gst::Pipeline) {
    if pipeline.set_state(gst::State::Null).is_err() {
        tracing::warn!("could not stop the capture pipeline");
    }
}

/// Pulls `frames` frames and the audio that covers them, aligned on running time: audio from
/// before the first frame is dropped, a late microphone start is padded with silence.
fn record(
    pipeline: &gst::Pipeline,
    video: &gst_app::AppSink,
    audio: &gst_app::AppSink,
    format: ClipFormat,
    frames: u64,
    seconds: f64,
) -> Result<(Vec<Vec<u8>>, Vec<f32>), PipelineError> {
    let deadline = Duration::from_secs_f64(seconds.max(0.0)) + START_SLACK;
    let started = Instant::now();
    let channels = usize::from(format.channels);
    let wanted = format.samples_for_frames(frames) as usize * channels;
    let (mut rgb, mut samples) = (Vec::new(), Vec::new());
    let (mut first_video_ns, mut first_audio_ns) = (None, None);
    let poll = gst::ClockTime::from_mseconds(20);
    while (rgb.len() as u64) < frames
        || samples.len() < wanted + aligned_skip(first_video_ns, first_audio_ns, format)
    {
        if let Some(err) = crate::bus::pending_error(pipeline) {
            return Err(err);
        }
        if started.elapsed() > deadline {
            return Err(PipelineError::Timeout {
                what: "the camera and microphone",
                waited: deadline,
            });
        }
        if (rgb.len() as u64) < frames
            && let Some(sample) = video.try_pull_sample(poll)
        {
            first_video_ns.get_or_insert(crate::decode::running_time_ns(&sample));
            let (_, _, data) = crate::decode::packed_rgb(&sample)
                .ok_or_else(|| PipelineError::Build("unreadable camera frame".into()))?;
            rgb.push(data);
        }
        if let Some(sample) = audio.try_pull_sample(poll) {
            first_audio_ns.get_or_insert(crate::decode::running_time_ns(&sample));
            if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
                samples.extend(
                    map.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
            }
        }
    }
    let skip = aligned_skip(first_video_ns, first_audio_ns, format);
    let pad = match (first_video_ns, first_audio_ns) {
        (Some(v), Some(a)) if a > v => {
            ((a - v) * u64::from(format.sample_rate) / 1_000_000_000) as usize * channels
        }
        _ => 0,
    };
    let mut aligned = vec![0.0; pad.min(wanted)];
    aligned.extend(samples.into_iter().skip(skip));
    aligned.resize(wanted, 0.0);
    Ok((rgb, aligned))
}

/// Samples (interleaved) recorded before the first frame, which are dropped.
fn aligned_skip(video_ns: Option<u64>, audio_ns: Option<u64>, format: ClipFormat) -> usize {
    match (video_ns, audio_ns) {
        (Some(v), Some(a)) if v > a => {
            ((v - a) * u64::from(format.sample_rate) / 1_000_000_000) as usize
                * usize::from(format.channels)
        }
        _ => 0,
    }
}

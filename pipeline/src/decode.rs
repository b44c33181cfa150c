//! Decoding a media file back to raw RGB frames and f32 samples, for tests and checks.
//!
//! `decodebin` exposes its pads only once it has seen the streams, so each branch is built in
//! `pad-added`; a branch per possible stream up front would stall preroll on files that lack it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gst::prelude::*;
use gst_video::prelude::*;

use crate::bus;
use crate::encoders::make_element;
use crate::error::PipelineError;

/// How long decoding may make no progress before it gives up.
const STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything decoded from a file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodedMedia {
    /// Width of the video frames in pixels (0 without video).
    pub width: u32,
    /// Height of the video frames in pixels (0 without video).
    pub height: u32,
    /// Packed RGB24 frames, `width * height * 3` bytes each, in presentation order.
    pub frames: Vec<Vec<u8>>,
    /// Running time of each frame in nanoseconds: its timestamp after the container's edit
    /// lists, i.e. when a player shows it.
    pub frame_pts_ns: Vec<u64>,
    /// Audio sample rate in Hz (0 without audio).
    pub sample_rate: u32,
    /// Audio channels (0 without audio).
    pub channels: u32,
    /// Running time of the first audio sample in nanoseconds (see `frame_pts_ns`).
    pub audio_start_ns: u64,
    /// Interleaved f32 samples at the file's own rate, contiguous from `audio_start_ns`.
    pub samples: Vec<f32>,
}

/// Decodes every video frame of `path` to packed RGB24.
pub fn decode_video_frames(path: &Path) -> Result<Vec<Vec<u8>>, PipelineError> {
    Ok(decode_media(path)?.frames)
}

/// Decodes the first video and audio streams of `path`.
pub fn decode_media(path: &Path) -> Result<DecodedMedia, PipelineError> {
    crate::init()?;
    if !path.is_file() {
        let err = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        return Err(PipelineError::io("decoding", path, err));
    }
    let pipeline = gst::Pipeline::with_name("reel-decode");
    let src = make_element("filesrc", "file-src")?;
    src.set_property("location", path.to_string_lossy().as_ref());
    let decodebin = make_element("decodebin", "decode")?;
    pipeline
        .add_many([&src, &decodebin])
        .and_then(|()| src.link(&decodebin))
        .map_err(|err| PipelineError::Build(format!("filesrc ! decodebin: {err}")))?;

    let decoded = Arc::new(Mutex::new(DecodedMedia::default()));
    let weak_pipeline = pipeline.downgrade();
    let sink_data = Arc::clone(&decoded);
    decodebin.connect_pad_added(move |_, pad| {
        let Some(pipeline) = weak_pipeline.upgrade() else {
            return;
        };
        if let Err(err) = add_branch(&pipeline, pad, &sink_data) {
            // Surfaces as a bus error, which the waiting caller reports.
            gst::element_error!(pipeline, gst::CoreError::Negotiation, ("{err}"));
        }
    });

    let outcome = run_to_eos(&pipeline, &decoded);
    if pipeline.set_state(gst::State::Null).is_err() {
        tracing::warn!("could not stop the decode pipeline");
    }
    outcome?;
    let media = decoded.lock().map(|m| m.clone()).map_err(|_| poisoned())?;
    Ok(media)
}

fn run_to_eos(
    pipeline: &gst::Pipeline,
    decoded: &Arc<Mutex<DecodedMedia>>,
) -> Result<(), PipelineError> {
    if pipeline.set_state(gst::State::Playing).is_err() {
        return Err(bus::error_after_failed_state_change(pipeline, "PLAYING"));
    }
    let progress = || {
        decoded
            .lock()
            .map(|m| (m.frames.len(), m.samples.len()))
            .ok()
    };
    bus::wait_for_eos(pipeline, progress, STALL_TIMEOUT)
}

fn poisoned() -> PipelineError {
    PipelineError::Build("a decode callback panicked".into())
}

fn add_branch(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    decoded: &Arc<Mutex<DecodedMedia>>,
) -> Result<(), PipelineError> {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    let media_type = caps
        .structure(0)
        .map(|s| s.name().to_string())
        .unwrap_or_default();
    let elements = if media_type.starts_with("video/") {
        video_branch(Arc::clone(decoded))?
    } else if media_type.starts_with("audio/") {
        audio_branch(Arc::clone(decoded))?
    } else {
        return Ok(());
    };
    pipeline
        .add_many(&elements)
        .map_err(|err| PipelineError::Build(format!("adding {media_type} branch: {err}")))?;
    gst::Element::link_many(&elements)
        .map_err(|err| PipelineError::Build(format!("linking {media_type} branch: {err}")))?;
    for element in &elements {
        element
            .sync_state_with_parent()
            .map_err(|err| PipelineError::Build(format!("starting {media_type} branch: {err}")))?;
    }
    let first = elements.first().and_then(|e| e.static_pad("sink"));
    let first = first.ok_or_else(|| PipelineError::Build("branch has no sink pad".into()))?;
    pad.link(&first)
        .map_err(|err| PipelineError::Build(format!("linking decoder to {media_type}: {err:?}")))?;
    Ok(())
}

fn video_branch(decoded: Arc<Mutex<DecodedMedia>>) -> Result<Vec<gst::Element>, PipelineError> {
    let rgb = gst::Caps::builder("video/x-raw")
        .field("format", "RGB")
        .build();
    let sink = gst_app::AppSink::builder()
        .name("video-sink")
        .caps(&rgb)
        .sync(false)
        .build();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let (width, height, rgb) = packed_rgb(&sample).ok_or(gst::FlowError::Error)?;
                let mut media = decoded.lock().map_err(|_| gst::FlowError::Error)?;
                media.width = width;
                media.height = height;
                media.frames.push(rgb);
                media.frame_pts_ns.push(running_time_ns(&sample));
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let convert = make_element("videoconvert", "video-convert")?;
    Ok(vec![convert, sink.upcast()])
}

/// Copies a frame without the row padding GStreamer may add.
pub(crate) fn packed_rgb(sample: &gst::Sample) -> Option<(u32, u32, Vec<u8>)> {
    let info = gst_video::VideoInfo::from_caps(sample.caps()?).ok()?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer()?, &info).ok()?;
    let row = info.width() as usize * 3;
    let stride = usize::try_from(*frame.plane_stride().first()?).ok()?;
    let data = frame.plane_data(0).ok()?;
    let rgb = data
        .chunks(stride)
        .take(info.height() as usize)
        .flat_map(|r| &r[..row])
        .copied();
    Some((info.width(), info.height(), rgb.collect()))
}

/// A buffer's timestamp as a player schedules it: demuxers express edit lists (encoder delay,
/// B-frame offsets) through the segment, not the raw timestamps.
pub(crate) fn running_time_ns(sample: &gst::Sample) -> u64 {
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

fn audio_branch(decoded: Arc<Mutex<DecodedMedia>>) -> Result<Vec<gst::Element>, PipelineError> {
    let f32le = gst::Caps::builder("audio/x-raw")
        .field("format", "F32LE")
        .field("layout", "interleaved")
        .build();
    let sink = gst_app::AppSink::builder()
        .name("audio-sink")
        .caps(&f32le)
        .sync(false)
        .build();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let info = sample
                    .caps()
                    .and_then(|caps| gst_audio::AudioInfo::from_caps(caps).ok())
                    .ok_or(gst::FlowError::NotNegotiated)?;
                let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
                let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                let mut media = decoded.lock().map_err(|_| gst::FlowError::Error)?;
                media.sample_rate = info.rate();
                media.channels = info.channels();
                if media.samples.is_empty() {
                    media.audio_start_ns = running_time_ns(&sample);
                }
                media.samples.extend(
                    map.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let convert = make_element("audioconvert", "audio-convert")?;
    Ok(vec![convert, sink.upcast()])
}

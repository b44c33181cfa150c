//! Reading a media file's streams back with `GstDiscoverer`, as `gst-discoverer-1.0` does.

use std::path::Path;

use gst_pbutils::prelude::*;
use serde::Serialize;

use crate::error::PipelineError;

/// How long the discoverer may take for one file.
const DISCOVER_TIMEOUT_S: u64 = 10;

/// The streams of a media file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaInfo {
    /// Duration of the longest stream in nanoseconds.
    pub duration_ns: u64,
    /// The first video stream, if any.
    pub video: Option<VideoStreamInfo>,
    /// The first audio stream, if any.
    pub audio: Option<AudioStreamInfo>,
}

/// One video stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VideoStreamInfo {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frame rate numerator.
    pub fps_num: u32,
    /// Frame rate denominator.
    pub fps_den: u32,
    /// Human-readable codec, e.g. `H.264 (High Profile)`.
    pub codec: String,
}

/// One audio stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AudioStreamInfo {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u32,
    /// Human-readable codec, e.g. `MPEG-4 AAC`.
    pub codec: String,
}

/// Analyses `path` and reports its duration and first video and audio streams.
pub fn discover(path: &Path) -> Result<MediaInfo, PipelineError> {
    crate::init()?;
    let failed = |reason: String| PipelineError::Discover {
        path: path.to_owned(),
        reason,
    };
    let absolute =
        std::fs::canonicalize(path).map_err(|err| PipelineError::io("reading", path, err))?;
    let uri = gst::glib::filename_to_uri(&absolute, None).map_err(|err| failed(err.to_string()))?;
    let discoverer = gst_pbutils::Discoverer::new(gst::ClockTime::from_seconds(DISCOVER_TIMEOUT_S))
        .map_err(|err| failed(err.to_string()))?;
    let info = discoverer
        .discover_uri(&uri)
        .map_err(|err| failed(err.to_string()))?;
    if info.result() != gst_pbutils::DiscovererResult::Ok {
        return Err(failed(format!("{:?}", info.result())));
    }
    let video = info.video_streams().first().map(|stream| {
        let fps = stream.framerate();
        VideoStreamInfo {
            width: stream.width(),
            height: stream.height(),
            fps_num: u32::try_from(fps.numer()).unwrap_or(0),
            fps_den: u32::try_from(fps.denom()).unwrap_or(0),
            codec: codec_of(stream.upcast_ref()),
        }
    });
    let audio = info.audio_streams().first().map(|stream| AudioStreamInfo {
        sample_rate: stream.sample_rate(),
        channels: stream.channels(),
        codec: codec_of(stream.upcast_ref()),
    });
    Ok(MediaInfo {
        duration_ns: info.duration().map_or(0, |d| d.nseconds()),
        video,
        audio,
    })
}

fn codec_of(stream: &gst_pbutils::DiscovererStreamInfo) -> String {
    stream
        .caps()
        .map(|caps| gst_pbutils::pb_utils_get_codec_description(&caps).to_string())
        .unwrap_or_default()
}

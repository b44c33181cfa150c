//! The media side of Reel: encodes timed RGB frames and f32 audio from
//! [`reel_clip`] into an H.264 + AAC (or Opus) MP4 file with GStreamer, and reads files back.
//!
//! This crate does not depend on `reel-engines`; both meet in [`reel_clip`] types.
//!
//! # The MP4 pipeline
//!
//! [`Mp4Writer`] builds the equivalent of this launch line, with two `appsrc`s in place of the
//! test sources (`videoscale` and its caps only when an output size is configured; `aacparse`
//! only for AAC encoders; on Jetson `nvvidconv ! video/x-raw(memory:NVMM),format=NV12 !
//! nvv4l2h264enc insert-sps-pps=1` replaces `x264enc`):
//!
//! ```text
//! gst-launch-1.0 -e \
//!   videotestsrc num-buffers=24 ! video/x-raw,format=RGB,width=128,height=128,framerate=12/1 \
//!   ! videoconvert ! video/x-raw,format=I420 \
//!   ! videoscale method=lanczos ! video/x-raw,width=256,height=256,pixel-aspect-ratio=1/1 \
//!   ! x264enc bitrate=4000 ! h264parse ! mp4mux name=mux faststart=true \
//!   ! filesink location=clip.mp4 \
//!   audiotestsrc num-buffers=20 samplesperbuffer=1600 \
//!   ! audio/x-raw,format=F32LE,layout=interleaved,rate=16000,channels=1 \
//!   ! audioconvert ! audioresample ! avenc_aac bitrate=128000 ! aacparse ! mux.
//! ```
//!
//! The writer renders into `.clip.mp4.partial-<pid>-<n>` beside the target and renames it into
//! place only after EOS reached the file and it was synced, so a clip either appears complete
//! or not at all.
//!
//! # Example
//!
//! ```
//! use reel_clip::{Chunk, ClipFormat};
//! use reel_pipeline::{EncoderConfig, Mp4Writer};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let format =
//!     ClipFormat { width: 64, height: 64, fps_num: 8, fps_den: 1, sample_rate: 16_000, channels: 1 };
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("clip.mp4");
//! let mut writer = Mp4Writer::create(&path, format, &EncoderConfig::default())?;
//! for index in 0..8 {
//!     let gray = vec![(index * 30) as u8; format.rgb_frame_len()];
//!     writer.push(Chunk::Video(format.video_frame(index, gray)))?;
//! }
//! let samples = format.samples_for_frames(8) as usize;
//! writer.push(Chunk::Audio(format.audio_chunk(0, vec![0.0; samples])))?;
//! let info = writer.finish()?;
//! assert_eq!(info.frames, 8);
//! assert_eq!(reel_pipeline::discover(&path)?.video.map(|v| v.width), Some(64));
//! # Ok(())
//! # }
//! ```

mod bus;
mod capture;
mod config;
mod decode;
mod discover;
mod encoders;
mod error;
mod graph;
mod live_config;
mod live_encode;
mod live_feed;
mod outputs;
mod partial_file;
pub mod playout;
mod rtsp;
mod slate;
mod source;
mod writer;

use std::sync::OnceLock;

pub use capture::{CaptureConfig, Captured, capture};
pub use config::{AUTO, EncoderConfig};
pub use decode::{DecodedMedia, decode_media, decode_video_frames};
pub use discover::{AudioStreamInfo, MediaInfo, VideoStreamInfo, discover};
pub use encoders::{EncoderChoice, probe_encoders};
pub use error::PipelineError;
pub use live_config::{
    DisplayConfig, HlsConfig, OutputsConfig, PlayoutConfig, RtspConfig, SrtConfig, UdpConfig,
};
pub use live_feed::LiveFeed;
pub use partial_file::remove_stale_partials;
pub use playout::{Playout, PlayoutHandle, PlayoutStatus};
pub use slate::SlateInfo;
pub use writer::{Mp4Info, Mp4Writer};

/// Initialises GStreamer once per process; later calls return the first outcome. Every entry
/// point of this crate calls it, so calling it first is optional but surfaces problems early.
pub fn init() -> Result<(), PipelineError> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| gst::init().map_err(|err| err.to_string()))
        .clone()
        .map_err(PipelineError::Init)
}

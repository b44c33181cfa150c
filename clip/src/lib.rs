//! Types exchanged between `reel-engines` (which produces timed media) and `reel-pipeline`
//! (which encodes it). Neither of those crates depends on the other; both depend on this one,
//! and the daemon composes them.
//!
//! Time is kept in integer nanoseconds and derived from frame or sample indices, never
//! accumulated, so presentation times stay exact over long clips.

use serde::{Deserialize, Serialize};

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Geometry and rates of a clip, as a bundle declares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipFormat {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frame rate numerator (frames per `fps_den` seconds).
    pub fps_num: u32,
    /// Frame rate denominator.
    pub fps_den: u32,
    /// Audio sample rate in Hz.
    pub sample_rate: u32,
    /// Interleaved audio channels.
    pub channels: u16,
}

impl ClipFormat {
    /// Presentation time of frame `index`, in nanoseconds.
    pub fn frame_pts(&self, index: u64) -> u64 {
        (index as u128 * NANOS_PER_SECOND * self.fps_den as u128 / self.fps_num as u128) as u64
    }

    /// Presentation time of audio sample (per channel) `index`, in nanoseconds.
    pub fn sample_pts(&self, index: u64) -> u64 {
        (index as u128 * NANOS_PER_SECOND / self.sample_rate as u128) as u64
    }

    /// Number of video frames in `seconds` of clip, rounded to the nearest frame.
    pub fn frames_for(&self, seconds: f64) -> u64 {
        (seconds * self.fps_num as f64 / self.fps_den as f64)
            .round()
            .max(0.0) as u64
    }

    /// Number of audio samples (per channel) that cover `frames` video frames exactly.
    pub fn samples_for_frames(&self, frames: u64) -> u64 {
        (frames as u128 * self.sample_rate as u128 * self.fps_den as u128 / self.fps_num as u128)
            as u64
    }

    /// Frame rate as a float, for display.
    pub fn fps(&self) -> f64 {
        self.fps_num as f64 / self.fps_den as f64
    }

    /// Bytes in one packed RGB frame.
    pub fn rgb_frame_len(&self) -> usize {
        self.width as usize * self.height as usize * 3
    }
}

/// One decoded video frame: packed RGB24, row-major, no padding.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoFrame {
    /// Frame index from the start of the clip.
    pub index: u64,
    /// Presentation time in nanoseconds.
    pub pts_ns: u64,
    /// Duration in nanoseconds (up to the next frame's presentation time).
    pub duration_ns: u64,
    /// `width * height * 3` bytes.
    pub rgb: Vec<u8>,
}

/// A run of audio samples, interleaved f32 in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct AudioChunk {
    /// Index (per channel) of the first sample from the start of the clip.
    pub first_sample: u64,
    /// Presentation time of the first sample in nanoseconds.
    pub pts_ns: u64,
    /// Duration in nanoseconds.
    pub duration_ns: u64,
    /// Interleaved samples; `len() % channels == 0`.
    pub samples: Vec<f32>,
}

/// A piece of a clip, in presentation order within its own stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    /// A video frame.
    Video(VideoFrame),
    /// A run of audio samples.
    Audio(AudioChunk),
}

impl ClipFormat {
    /// Builds frame `index` with exact timing from this format.
    pub fn video_frame(&self, index: u64, rgb: Vec<u8>) -> VideoFrame {
        let pts_ns = self.frame_pts(index);
        VideoFrame {
            index,
            pts_ns,
            duration_ns: self.frame_pts(index + 1) - pts_ns,
            rgb,
        }
    }

    /// Builds an audio chunk starting at sample `first_sample` with exact timing from this format.
    pub fn audio_chunk(&self, first_sample: u64, samples: Vec<f32>) -> AudioChunk {
        let per_channel = (samples.len() / self.channels.max(1) as usize) as u64;
        let pts_ns = self.sample_pts(first_sample);
        AudioChunk {
            first_sample,
            pts_ns,
            duration_ns: self.sample_pts(first_sample + per_channel) - pts_ns,
            samples,
        }
    }
}

/// What a job is doing now; shown to users and published by the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Not started.
    #[default]
    Queued,
    /// Loading model components.
    Loading,
    /// Running the text encoder.
    EncodingText,
    /// Running the denoiser loop.
    Denoising,
    /// Decoding latents to frames and audio.
    Decoding,
    /// Encoding and muxing media.
    Encoding,
    /// Done.
    Finished,
}

impl Stage {
    /// Stable lowercase name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Stage::Queued => "queued",
            Stage::Loading => "loading",
            Stage::EncodingText => "encoding_text",
            Stage::Denoising => "denoising",
            Stage::Decoding => "decoding",
            Stage::Encoding => "encoding",
            Stage::Finished => "finished",
        }
    }

    /// Parses [`Stage::as_str`] output.
    pub fn parse(s: &str) -> Option<Stage> {
        [
            Stage::Queued,
            Stage::Loading,
            Stage::EncodingText,
            Stage::Denoising,
            Stage::Decoding,
            Stage::Encoding,
            Stage::Finished,
        ]
        .into_iter()
        .find(|stage| stage.as_str() == s)
    }
}

/// Progress of one job: the stage, a step within it, and an overall fraction in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Progress {
    /// Current stage.
    pub stage: Stage,
    /// Step within the stage (1-based once started).
    pub step: u32,
    /// Steps in the stage.
    pub steps: u32,
    /// Whole-job fraction in [0, 1].
    pub fraction: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(fps_num: u32, fps_den: u32) -> ClipFormat {
        ClipFormat {
            width: 4,
            height: 2,
            fps_num,
            fps_den,
            sample_rate: 16_000,
            channels: 1,
        }
    }

    #[test]
    fn frame_times_are_exact_at_ntsc_rates() {
        let f = format(30_000, 1001);
        // 30000 frames of 29.97 fps last exactly 1001 s.
        assert_eq!(f.frame_pts(30_000), 1_001_000_000_000);
        let frame = f.video_frame(1, vec![]);
        assert_eq!(frame.pts_ns, 33_366_666);
        assert_eq!(frame.duration_ns, 33_366_667);
    }

    #[test]
    fn audio_covers_frames_exactly() {
        let f = format(12, 1);
        assert_eq!(f.samples_for_frames(48), 64_000);
        assert_eq!(f.frames_for(4.0), 48);
        let chunk = f.audio_chunk(16_000, vec![0.0; 8000]);
        assert_eq!(chunk.pts_ns, 1_000_000_000);
        assert_eq!(chunk.duration_ns, 500_000_000);
    }

    #[test]
    fn stage_names_round_trip() {
        for stage in [Stage::Queued, Stage::Denoising, Stage::Finished] {
            assert_eq!(Stage::parse(stage.as_str()), Some(stage));
        }
        assert_eq!(Stage::parse("nope"), None);
    }
}

//! Synthetic clips and image comparisons shared by the integration tests.

#![allow(dead_code)] // each test binary uses a different subset

pub mod live;

use std::f32::consts::TAU;

use reel_clip::{Chunk, ClipFormat};
use reel_pipeline::{EncoderConfig, Mp4Writer, PipelineError};

/// 128x128 at 12 fps with 16 kHz mono audio: small enough to keep every test fast.
pub const FORMAT: ClipFormat = ClipFormat {
    width: 128,
    height: 128,
    fps_num: 12,
    fps_den: 1,
    sample_rate: 16_000,
    channels: 1,
};

/// Frames in a two-second clip of [`FORMAT`].
pub const FRAMES: u64 = 24;

/// A smooth, moving pattern: a horizontal sine drifting right, a vertical cosine, a diagonal
/// ramp. Smooth so that 4:2:0 subsampling and H.264 keep it close to the source.
pub fn gradient_frame(format: ClipFormat, index: u64) -> Vec<u8> {
    let (w, h) = (format.width as usize, format.height as usize);
    let phase = index as f32 / 24.0;
    let mut rgb = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
            rgb.push((128.0 + 90.0 * (TAU * (u + phase)).sin()) as u8);
            rgb.push((128.0 + 90.0 * (TAU * v).cos()) as u8);
            rgb.push((40.0 + 170.0 * (u + v) / 2.0) as u8);
        }
    }
    rgb
}

/// A 440 Hz sine at half scale, sample-exact across chunks.
pub fn sine_chunk(format: ClipFormat, first_sample: u64, count: u64) -> Vec<f32> {
    let rate = format.sample_rate as f32;
    (first_sample..first_sample + count)
        .flat_map(|i| {
            let value = 0.5 * (TAU * 440.0 * i as f32 / rate).sin();
            std::iter::repeat_n(value, format.channels as usize)
        })
        .collect()
}

/// The chunks of a clip, video and audio interleaved frame by frame, as an engine emits them.
pub fn interleaved_clip(
    format: ClipFormat,
    frames: u64,
    frame: impl Fn(u64) -> Vec<u8>,
    audio: impl Fn(u64, u64) -> Vec<f32>,
) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    for index in 0..frames {
        chunks.push(Chunk::Video(format.video_frame(index, frame(index))));
        let first = format.samples_for_frames(index);
        let count = format.samples_for_frames(index + 1) - first;
        chunks.push(Chunk::Audio(format.audio_chunk(first, audio(first, count))));
    }
    chunks
}

/// Writes `chunks` to `path` and finishes the file.
pub fn write_clip(
    path: &std::path::Path,
    format: ClipFormat,
    cfg: &EncoderConfig,
    chunks: Vec<Chunk>,
) -> Result<reel_pipeline::Mp4Info, PipelineError> {
    let mut writer = Mp4Writer::create(path, format, cfg)?;
    for chunk in chunks {
        writer.push(chunk)?;
    }
    writer.finish()
}

/// Peak signal-to-noise ratio of two 8-bit images in dB.
pub fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len(), "images differ in size");
    let squared: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum();
    let mse = squared / a.len() as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

/// Names of the files in `dir`.
pub fn file_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("readable dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

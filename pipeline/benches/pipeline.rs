//! Encode+mux throughput of `Mp4Writer` against `gst-launch-1.0` running the same elements, and
//! the time from the last chunk in to a playable MP4. Run: `cargo bench -p reel-pipeline`.
//! (Playout switch latency has its own bench: `cargo bench -p reel-pipeline --bench playout`.)

use std::process::Command;
use std::time::Instant;

use reel_clip::{Chunk, ClipFormat};
use reel_pipeline::{EncoderConfig, Mp4Writer};

const FORMAT: ClipFormat = ClipFormat {
    width: 640,
    height: 360,
    fps_num: 24,
    fps_den: 1,
    sample_rate: 48_000,
    channels: 1,
};
const FRAMES: u64 = 240;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let frames: Vec<Vec<u8>> = (0..FRAMES)
        .map(|i| {
            (0..FORMAT.rgb_frame_len())
                .map(|p| ((p as u64 * 7 + i * 3) % 251) as u8)
                .collect()
        })
        .collect();
    // The same frames for gst-launch, as a raw file: encoders' speed depends on content.
    let raw = dir.path().join("frames.rgb");
    std::fs::write(&raw, frames.concat())?;
    let path = dir.path().join("bench.mp4");
    let started = Instant::now();
    let mut writer = Mp4Writer::create(&path, FORMAT, &EncoderConfig::default())?;
    for (index, rgb) in frames.into_iter().enumerate() {
        let index = index as u64;
        writer.push(Chunk::Video(FORMAT.video_frame(index, rgb)))?;
        let first = FORMAT.samples_for_frames(index);
        let count = FORMAT.samples_for_frames(index + 1) - first;
        writer.push(Chunk::Audio(
            FORMAT.audio_chunk(first, vec![0.1; count as usize]),
        ))?;
    }
    let last_chunk = Instant::now();
    let info = writer.finish()?;
    let finish = last_chunk.elapsed();
    let ours = started.elapsed();

    let launch = format!(
        "filesrc location={} ! rawvideoparse format=rgb width=640 height=360 framerate=24/1 \
         ! videoconvert ! video/x-raw,format=I420 ! {} bitrate=4000 ! h264parse ! mp4mux name=mux faststart=true \
         ! filesink location={} audiotestsrc num-buffers={} samplesperbuffer=2000 \
         ! audio/x-raw,format=F32LE,layout=interleaved,rate=48000,channels=1 ! audioconvert ! audioresample \
         ! {} bitrate=128000 ! aacparse ! mux.",
        raw.display(),
        info.video_encoder,
        dir.path().join("launch.mp4").display(),
        FRAMES,
        info.audio_encoder
    );
    let started = Instant::now();
    let status = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(launch.split_whitespace())
        .status()?;
    let theirs = started.elapsed();
    if !status.success() {
        return Err(format!("gst-launch-1.0 failed: {status}").into());
    }
    let fps = |d: std::time::Duration| FRAMES as f64 / d.as_secs_f64();
    println!(
        "encode+mux {FRAMES} frames 640x360 ({} + {})",
        info.video_encoder, info.audio_encoder
    );
    println!("  Mp4Writer:      {:.1} fps ({ours:.2?})", fps(ours));
    println!("  gst-launch-1.0: {:.1} fps ({theirs:.2?})", fps(theirs));
    println!(
        "  ratio (ours / gst-launch): {:.2}",
        fps(ours) / fps(theirs)
    );
    println!("last chunk in -> playable MP4 (finish): {finish:.2?}");
    Ok(())
}

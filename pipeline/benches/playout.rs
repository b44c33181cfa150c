//! Playout switch latency: from `PlayoutHandle::show_clip` to the clip's first frame on air
//! (the tick that pushes it), as `PlayoutStatus::last_switch_latency` measures it. Each switch
//! opens and decodes a new MP4 file, so this is what a visitor waits between asking for a clip
//! and seeing it. Run: `cargo bench -p reel-pipeline --bench playout`.

use std::path::Path;
use std::time::{Duration, Instant};

use reel_clip::{Chunk, ClipFormat};
use reel_pipeline::{
    DisplayConfig, EncoderConfig, Mp4Writer, OutputsConfig, Playout, PlayoutConfig,
};

const FORMAT: ClipFormat = ClipFormat {
    width: 640,
    height: 360,
    fps_num: 25,
    fps_den: 1,
    sample_rate: 48_000,
    channels: 2,
};
const SWITCHES: usize = 20;

fn write_clip(path: &Path, level: u8) -> Result<(), Box<dyn std::error::Error>> {
    let mut writer = Mp4Writer::create(path, FORMAT, &EncoderConfig::default())?;
    for index in 0..50 {
        let rgb = vec![level.wrapping_add(index as u8); FORMAT.rgb_frame_len()];
        writer.push(Chunk::Video(FORMAT.video_frame(index, rgb)))?;
        let first = FORMAT.samples_for_frames(index);
        let count = FORMAT.samples_for_frames(index + 1) - first;
        let samples = vec![0.1; count as usize * usize::from(FORMAT.channels)];
        writer.push(Chunk::Audio(FORMAT.audio_chunk(first, samples)))?;
    }
    writer.finish()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let clips = [dir.path().join("a.mp4"), dir.path().join("b.mp4")];
    write_clip(&clips[0], 40)?;
    write_clip(&clips[1], 200)?;
    let cfg = PlayoutConfig {
        enabled: true,
        width: FORMAT.width,
        height: FORMAT.height,
        fps: FORMAT.fps_num,
        sample_rate: FORMAT.sample_rate,
        channels: FORMAT.channels,
        attract: false,
        ..PlayoutConfig::default()
    };
    // The display branch on fakesink: the program is produced and paced as on a kiosk.
    let outputs = OutputsConfig {
        display: Some(DisplayConfig {
            sink: "fakesink".into(),
            audio_sink: "fakesink".into(),
        }),
        ..OutputsConfig::default()
    };
    let playout = Playout::start(&cfg, &outputs)?;
    let handle = playout.handle();
    let mut latencies = Vec::new();
    for round in 0..SWITCHES {
        let before = handle.status().switches;
        handle.show_clip(&clips[round % 2])?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            let status = handle.status();
            if status.switches > before {
                break status;
            }
            if Instant::now() > deadline {
                return Err(format!("no switch within 10 s: {status:?}").into());
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        latencies.extend(status.last_switch_latency);
        // Let the clip play a little, as a visitor would, before the next request.
        std::thread::sleep(Duration::from_millis(300));
    }
    let status = handle.status();
    playout.shutdown(Duration::from_secs(10))?;
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = latencies[latencies.len() / 2];
    println!(
        "playout switch latency, {} switches, 640x360 @ 25 fps program, 2 s H.264/AAC clips:",
        latencies.len()
    );
    println!(
        "  median {:.1} ms, min {:.1} ms, max {:.1} ms (one program frame is 40 ms)",
        ms(median),
        ms(latencies[0]),
        ms(latencies[latencies.len() - 1])
    );
    println!(
        "  repeated frames {}, dropped frames {}",
        status.repeated_frames, status.dropped_frames
    );
    Ok(())
}

//! Encodes synthetic clips with real GStreamer elements and reads them back.

mod common;

use common::{FORMAT, FRAMES, gradient_frame, interleaved_clip, psnr, sine_chunk, write_clip};
use reel_clip::{Chunk, ClipFormat};
use reel_pipeline::{EncoderConfig, decode_media, discover};

fn gradient_clip(format: ClipFormat) -> Vec<Chunk> {
    interleaved_clip(
        format,
        FRAMES,
        |i| gradient_frame(format, i),
        |first, n| sine_chunk(format, first, n),
    )
}

#[test]
fn two_second_clip_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("clip.mp4");
    let info = write_clip(
        &path,
        FORMAT,
        &EncoderConfig::default(),
        gradient_clip(FORMAT),
    )
    .expect("clip written");
    assert_eq!(info.frames, FRAMES);
    assert_eq!(info.audio_samples, 32_000);
    assert_eq!(info.bytes, std::fs::metadata(&path).expect("file").len());

    let media = discover(&path).expect("discovered");
    let frame_ns = FORMAT.frame_pts(1);
    assert!(
        media.duration_ns.abs_diff(2_000_000_000) <= frame_ns,
        "{media:?}"
    );
    let video = media.video.expect("video stream");
    assert_eq!(
        (video.width, video.height, video.fps_num, video.fps_den),
        (128, 128, 12, 1)
    );
    assert!(video.codec.contains("H.264"), "{}", video.codec);
    let audio = media.audio.expect("audio stream");
    assert_eq!((audio.sample_rate, audio.channels), (16_000, 1));

    let decoded = decode_media(&path).expect("decoded");
    assert_eq!(decoded.frames.len() as u64, FRAMES);
    for (index, frame) in decoded.frames.iter().enumerate() {
        let db = psnr(frame, &gradient_frame(FORMAT, index as u64));
        assert!(db >= 35.0, "frame {index}: PSNR {db:.1} dB");
    }
    let seconds = decoded.samples.len() as f64 / f64::from(decoded.sample_rate);
    assert!((seconds - 2.0).abs() < 0.1, "{seconds} s of audio");
}

#[test]
fn configured_size_scales_the_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.mp4");
    let cfg = EncoderConfig {
        width: Some(256),
        height: Some(256),
        ..EncoderConfig::default()
    };
    write_clip(&path, FORMAT, &cfg, gradient_clip(FORMAT)).expect("clip written");
    let video = discover(&path)
        .expect("discovered")
        .video
        .expect("video stream");
    assert_eq!((video.width, video.height), (256, 256));
}

#[test]
fn width_alone_keeps_the_aspect_ratio() {
    let format = ClipFormat {
        width: 160,
        height: 96,
        ..FORMAT
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("wide.mp4");
    let cfg = EncoderConfig {
        width: Some(320),
        ..EncoderConfig::default()
    };
    let chunks = interleaved_clip(
        format,
        6,
        |i| gradient_frame(format, i),
        |_, n| vec![0.0; n as usize],
    );
    write_clip(&path, format, &cfg, chunks).expect("clip written");
    let video = discover(&path)
        .expect("discovered")
        .video
        .expect("video stream");
    assert_eq!((video.width, video.height), (320, 192));
}

/// An engine may decode all frames before any audio; the writer must not deadlock on that.
#[test]
fn one_stream_pushed_entirely_before_the_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sequential.mp4");
    let (video, audio): (Vec<_>, Vec<_>) = gradient_clip(FORMAT)
        .into_iter()
        .partition(|c| matches!(c, Chunk::Video(_)));
    let info = write_clip(
        &path,
        FORMAT,
        &EncoderConfig::default(),
        video.into_iter().chain(audio).collect(),
    )
    .expect("clip written");
    assert_eq!(info.frames, FRAMES);
    let media = discover(&path).expect("discovered");
    assert!(media.video.is_some() && media.audio.is_some(), "{media:?}");
}

#[test]
fn other_encoders_produce_playable_files() {
    let pairs = [
        ("openh264enc", "voaacenc", "AAC"),
        ("x264enc", "opusenc", "Opus"),
    ];
    for (video_encoder, audio_encoder, audio_codec) in pairs {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alt.mp4");
        let cfg = EncoderConfig {
            video_encoder: video_encoder.into(),
            audio_encoder: audio_encoder.into(),
            ..EncoderConfig::default()
        };
        let info = write_clip(&path, FORMAT, &cfg, gradient_clip(FORMAT)).expect(video_encoder);
        assert_eq!(
            (info.video_encoder.as_str(), info.audio_encoder.as_str()),
            (video_encoder, audio_encoder)
        );
        let media = discover(&path).expect("discovered");
        let codec = media.audio.expect("audio stream").codec;
        assert!(codec.contains(audio_codec), "{audio_encoder}: {codec}");
        assert_eq!(
            decode_media(&path).expect("decoded").frames.len() as u64,
            FRAMES
        );
    }
}

/// A white frame and a click at the same presentation time come out within one frame.
#[test]
fn flash_and_click_stay_in_sync() {
    const FLASH: u64 = 12;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sync.mp4");
    let click_at = FORMAT.samples_for_frames(FLASH);
    let chunks = interleaved_clip(
        FORMAT,
        FRAMES,
        |i| vec![if i == FLASH { 255 } else { 16 }; FORMAT.rgb_frame_len()],
        |first, n| {
            (first..first + n)
                .map(|s| {
                    if (click_at..click_at + 16).contains(&s) {
                        0.9
                    } else {
                        0.0
                    }
                })
                .collect()
        },
    );
    write_clip(&path, FORMAT, &EncoderConfig::default(), chunks).expect("clip written");

    let decoded = decode_media(&path).expect("decoded");
    let brightness = |f: &Vec<u8>| f.iter().map(|&b| u64::from(b)).sum::<u64>();
    let flash = (0..decoded.frames.len())
        .max_by_key(|&i| brightness(&decoded.frames[i]))
        .expect("frames");
    let flash_ns = decoded.frame_pts_ns[flash];
    let loudest = (0..decoded.samples.len())
        .max_by(|&a, &b| {
            decoded.samples[a]
                .abs()
                .total_cmp(&decoded.samples[b].abs())
        })
        .expect("samples");
    let per_channel = (loudest / decoded.channels as usize) as u64;
    let click_ns =
        decoded.audio_start_ns + per_channel * 1_000_000_000 / u64::from(decoded.sample_rate);
    let frame_ns = FORMAT.frame_pts(1);
    eprintln!("flash at {flash_ns} ns, click at {click_ns} ns");
    assert!(
        flash_ns.abs_diff(click_ns) <= frame_ns,
        "flash at {flash_ns} ns (frame {flash}), click at {click_ns} ns"
    );
}

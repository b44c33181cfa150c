//! Cameo capture with `videotestsrc` and `audiotestsrc` standing in for the camera and the
//! microphone (no camera on the build machine): the file, the frames and the audio handed back.

mod common;

use reel_pipeline::{CaptureConfig, EncoderConfig, PipelineError, capture, discover};

fn test_sources() -> CaptureConfig {
    CaptureConfig {
        video_source: "videotestsrc is-live=true pattern=ball".into(),
        audio_source: "audiotestsrc is-live=true wave=sine freq=440 volume=0.5".into(),
        width: 160,
        height: 120,
        fps: 12,
        sample_rate: 16_000,
        channels: 1,
    }
}

#[test]
fn capture_from_test_sources_hands_back_file_frames_and_audio() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cameo.mp4");
    let captured =
        capture(&test_sources(), 1.5, &path, &EncoderConfig::default()).expect("captured");
    let format = captured.format;
    assert_eq!(
        (format.width, format.height, format.fps_num),
        (160, 120, 12)
    );

    assert_eq!(captured.frames.len(), 18);
    for (index, frame) in captured.frames.iter().enumerate() {
        assert_eq!(frame.index, index as u64);
        assert_eq!(frame.pts_ns, format.frame_pts(index as u64));
        assert_eq!(frame.rgb.len(), format.rgb_frame_len());
    }
    // The ball moves: consecutive frames differ.
    assert_ne!(captured.frames[0].rgb, captured.frames[6].rgb);

    assert_eq!(captured.audio.len(), 18, "one audio chunk per frame");
    let samples: usize = captured.audio.iter().map(|a| a.samples.len()).sum();
    assert_eq!(samples as u64, format.samples_for_frames(18));
    for (index, chunk) in captured.audio.iter().enumerate() {
        assert_eq!(chunk.first_sample, format.samples_for_frames(index as u64));
    }
    // A 0.5 sine has an RMS of about 0.35; the head may be padded with a few ms of silence.
    let all: Vec<f32> = captured
        .audio
        .iter()
        .flat_map(|a| a.samples.clone())
        .collect();
    let rms = (all.iter().map(|s| s * s).sum::<f32>() / all.len() as f32).sqrt();
    assert!((0.3..0.4).contains(&rms), "rms {rms}");

    assert_eq!(captured.mp4.path, path);
    assert_eq!(
        (captured.mp4.frames, captured.mp4.audio_samples),
        (18, 24_000)
    );
    let media = discover(&path).expect("discovered");
    assert!(media.audio.is_some(), "{media:?}");
    let video = media.video.expect("video stream");
    assert_eq!((video.width, video.height), (160, 120));
    assert_eq!(common::file_names(dir.path()), ["cameo.mp4"]);
}

#[test]
fn missing_camera_element_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = CaptureConfig {
        video_source: "nosuchcamerasrc".into(),
        ..test_sources()
    };
    let err = capture(
        &cfg,
        1.0,
        &dir.path().join("x.mp4"),
        &EncoderConfig::default(),
    )
    .expect_err("no such element");
    assert!(matches!(err, PipelineError::Build(_)), "{err}");
    assert!(err.to_string().contains("nosuchcamerasrc"), "{err}");
    assert!(common::file_names(dir.path()).is_empty());
}

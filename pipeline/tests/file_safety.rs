//! The writer never leaves a partial clip behind and reports bad settings clearly.

mod common;

use common::{FORMAT, file_names, gradient_frame, interleaved_clip, sine_chunk};
use reel_clip::Chunk;
use reel_pipeline::{EncoderConfig, Mp4Writer, PipelineError};

fn some_chunks(frames: u64) -> Vec<Chunk> {
    interleaved_clip(
        FORMAT,
        frames,
        |i| gradient_frame(FORMAT, i),
        |first, n| sine_chunk(FORMAT, first, n),
    )
}

#[test]
fn nothing_appears_at_the_final_path_until_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("clip.mp4");
    let mut writer = Mp4Writer::create(&path, FORMAT, &EncoderConfig::default()).expect("writer");
    for chunk in some_chunks(6) {
        writer.push(chunk).expect("pushed");
    }
    assert!(!path.exists(), "final file exists before finish");
    let names = file_names(dir.path());
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with(".clip.mp4.partial-"), "{names:?}");

    writer.finish().expect("finished");
    assert_eq!(file_names(dir.path()), ["clip.mp4"]);
}

#[test]
fn abort_and_drop_leave_no_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("clip.mp4");
    let mut writer = Mp4Writer::create(&path, FORMAT, &EncoderConfig::default()).expect("writer");
    for chunk in some_chunks(4) {
        writer.push(chunk).expect("pushed");
    }
    writer.abort();
    assert!(file_names(dir.path()).is_empty());

    let mut writer = Mp4Writer::create(&path, FORMAT, &EncoderConfig::default()).expect("writer");
    writer.push(some_chunks(1).remove(0)).expect("pushed");
    drop(writer);
    assert!(file_names(dir.path()).is_empty());
}

#[test]
fn finishing_without_frames_fails_and_cleans_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("empty.mp4");
    let writer = Mp4Writer::create(&path, FORMAT, &EncoderConfig::default()).expect("writer");
    let err = writer.finish().expect_err("nothing to write");
    assert!(matches!(err, PipelineError::Chunk(_)), "{err}");
    assert!(file_names(dir.path()).is_empty());
}

#[test]
fn unknown_encoder_is_named_in_the_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = EncoderConfig {
        video_encoder: "nosuchenc264".into(),
        ..EncoderConfig::default()
    };
    let err = Mp4Writer::create(&dir.path().join("x.mp4"), FORMAT, &cfg).expect_err("rejected");
    let message = err.to_string();
    assert!(
        matches!(err, PipelineError::UnsuitableEncoder { .. }),
        "{message}"
    );
    assert!(
        message.contains("nosuchenc264") && message.contains("not installed"),
        "{message}"
    );
    assert!(file_names(dir.path()).is_empty());
}

#[test]
fn element_that_is_no_encoder_is_rejected() {
    let cfg = EncoderConfig {
        audio_encoder: "x264enc".into(),
        ..EncoderConfig::default()
    };
    let err = reel_pipeline::probe_encoders(&cfg).expect_err("rejected");
    assert!(err.to_string().contains("x264enc"), "{err}");
}

#[test]
fn unwritable_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A regular file as the parent directory fails even for root, unlike permission bits.
    let not_a_dir = dir.path().join("plain-file");
    std::fs::write(&not_a_dir, b"x").expect("file");
    let path = not_a_dir.join("clip.mp4");
    let err = Mp4Writer::create(&path, FORMAT, &EncoderConfig::default()).expect_err("rejected");
    assert!(matches!(err, PipelineError::Io { .. }), "{err}");
    assert!(err.to_string().contains("plain-file"), "{err}");

    let missing = dir.path().join("missing").join("clip.mp4");
    let err = Mp4Writer::create(&missing, FORMAT, &EncoderConfig::default()).expect_err("rejected");
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn malformed_chunks_are_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("clip.mp4");
    let mut writer = Mp4Writer::create(&path, FORMAT, &EncoderConfig::default()).expect("writer");
    let short = FORMAT.video_frame(0, vec![0; 10]);
    assert!(matches!(
        writer.push(Chunk::Video(short)),
        Err(PipelineError::Chunk(_))
    ));
    writer
        .push(Chunk::Video(
            FORMAT.video_frame(1, gradient_frame(FORMAT, 1)),
        ))
        .expect("pushed");
    let back_in_time = FORMAT.video_frame(0, gradient_frame(FORMAT, 0));
    assert!(matches!(
        writer.push(Chunk::Video(back_in_time)),
        Err(PipelineError::Chunk(_))
    ));
    writer.abort();
    assert!(file_names(dir.path()).is_empty());
}

#[test]
fn odd_output_size_is_a_config_error() {
    let cfg = EncoderConfig {
        width: Some(255),
        height: Some(256),
        ..EncoderConfig::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Mp4Writer::create(&dir.path().join("x.mp4"), FORMAT, &cfg).expect_err("rejected");
    assert!(matches!(err, PipelineError::Config(_)), "{err}");
}

#[test]
fn clip_without_audio_gets_a_silent_track() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("silent.mp4");
    let mut writer = Mp4Writer::create(&path, FORMAT, &EncoderConfig::default()).expect("writer");
    for index in 0..6 {
        let frame = FORMAT.video_frame(index, gradient_frame(FORMAT, index));
        writer.push(Chunk::Video(frame)).expect("pushed");
    }
    let info = writer.finish().expect("finished");
    assert_eq!((info.frames, info.audio_samples), (6, 8000));
    let media = reel_pipeline::discover(&path).expect("discovered");
    assert!(media.video.is_some() && media.audio.is_some(), "{media:?}");
}

/// The daemon moves writers into blocking tasks.
#[test]
fn writer_can_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<Mp4Writer>();
}

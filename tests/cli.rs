//! `reelctl` as a user meets it: a clip from a prompt, read back by GStreamer's discoverer, and
//! every kind of bad input answered with the right exit code and a message that says what to do.

mod common;

use common::{Setup, files_in, run, text, tiny_bundle};
use reel_engines::Bundle;

#[test]
fn generate_writes_a_playable_mp4_with_both_streams() {
    let setup = Setup::new("");
    let out_dir = setup.dir.path().join("clips");
    let out = out_dir.join("ball.mp4");
    let result = run(setup
        .reelctl()
        .args([
            "generate",
            "a red rubber ball bounces on a wooden floor",
            "--seconds",
            "2",
            "--seed",
            "42",
            "--out",
        ])
        .arg(&out));
    assert!(result.status.success());
    assert_eq!(
        text(&result.stdout).trim(),
        out.display().to_string(),
        "prints the clip's path"
    );
    assert_eq!(
        files_in(&out_dir),
        vec!["ball.mp4"],
        "no temporary files left behind"
    );

    let format = Bundle::open(tiny_bundle()).unwrap().clip_format();
    reel_pipeline::init().unwrap();
    let info = reel_pipeline::discover(&out).unwrap();
    let video = info.video.expect("a video stream");
    let audio = info.audio.expect("an audio stream");
    let frame_ns = 1e9 / format.fps();
    assert!(
        (info.duration_ns as f64 - 2e9).abs() <= frame_ns,
        "duration {} ns is not within one frame of 2 s",
        info.duration_ns
    );
    assert_eq!((video.width, video.height), (format.width, format.height));
    assert_eq!(
        video.fps_num as u64 * format.fps_den as u64,
        format.fps_num as u64 * video.fps_den as u64
    );
    assert!(
        video.codec.to_lowercase().contains("h.264"),
        "video codec {}",
        video.codec
    );
    assert_eq!(audio.sample_rate, format.sample_rate);
    assert_eq!(audio.channels as u16, format.channels);
}

#[test]
fn same_seed_gives_the_same_frames() {
    let setup = Setup::new("");
    let paths: Vec<_> = ["a.mp4", "b.mp4"]
        .iter()
        .map(|n| setup.dir.path().join(n))
        .collect();
    for path in &paths {
        let args = [
            "generate",
            "a blue box slides",
            "--seconds",
            "1",
            "--seed",
            "5",
            "--out",
        ];
        assert!(run(setup.reelctl().args(args).arg(path)).status.success());
    }
    reel_pipeline::init().unwrap();
    let a = reel_pipeline::decode_video_frames(&paths[0]).unwrap();
    let b = reel_pipeline::decode_video_frames(&paths[1]).unwrap();
    assert!(!a.is_empty());
    assert_eq!(a.len(), b.len(), "frame counts differ");
    if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
        let differing = a[i].iter().zip(&b[i]).filter(|(x, y)| x != y).count();
        panic!(
            "frame {i} of {} differs in {differing} of {} bytes",
            a.len(),
            a[i].len()
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let setup = Setup::new("");
    for args in [
        vec!["generate"],
        vec!["frobnicate"],
        vec!["generate", "x", "--seconds", "abc"],
        vec![],
    ] {
        let out = run(setup.reelctl().args(&args));
        assert_eq!(out.status.code(), Some(2), "args {args:?}");
        assert!(!text(&out.stderr).is_empty());
    }
}

#[test]
fn bad_requests_exit_1_with_what_to_do() {
    let setup = Setup::new("");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["generate".into(), "   ".into()], "prompt is empty"),
        (vec!["generate".into(), "x".repeat(5000)], "limit is 2000"),
        (
            vec!["generate".into(), "ball".into(), "--seconds=-1".into()],
            "seconds must be",
        ),
        (
            vec![
                "generate".into(),
                "ball".into(),
                "--seconds".into(),
                "100000".into(),
            ],
            "seconds must be",
        ),
        (
            vec![
                "generate".into(),
                "ball".into(),
                "--bundle".into(),
                "/nonexistent/bundle".into(),
            ],
            "--bundle",
        ),
    ];
    for (args, expected) in cases {
        let out = run(setup.reelctl().args(&args));
        assert_eq!(
            out.status.code(),
            Some(1),
            "args {:?}",
            &args[..2.min(args.len())]
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
    }
}

#[test]
fn bad_configuration_exits_64_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[jobs]\nqueue_capacity = \"lots\"\n", "jobs.queue_capacity"),
        ("[engine]\nbundel = \"/x\"\n", "engine.bundel"),
        ("[jobs]\nmax_attempts = 0\n", "jobs.max_attempts"),
        ("this is not toml", "reeld.toml"),
    ];
    for (content, key) in cases {
        let path = dir.path().join("reeld.toml");
        std::fs::write(&path, content).unwrap();
        let out = run(common::reelctl().arg("--config").arg(&path).args(["jobs"]));
        assert_eq!(out.status.code(), Some(64), "config {content:?}");
        assert!(
            text(&out.stderr).contains(key),
            "expected {key} in the error"
        );
    }
    let out = run(common::reelctl().args(["--config", "/nonexistent/reeld.toml", "jobs"]));
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn a_full_queue_refuses_new_jobs() {
    let setup = Setup::new("queue_capacity = 1\n");
    setup.submit(&["a ball", "--seconds", "1"]);
    let out = run(setup.reelctl().args(["submit", "another ball"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("queue full"));
    let listed = run(setup.reelctl().args(["jobs"]));
    assert!(listed.status.success());
    assert_eq!(
        text(&listed.stdout).lines().count(),
        2,
        "header and the one queued job"
    );
}

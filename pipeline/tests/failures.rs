//! Failures an appliance meets in the field: a plugin that is not installed, a disk that fills
//! up. Each gives an error that names the cause, leaves no partial file, and the process goes
//! on working.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use gst::prelude::*;

use common::live::small_playout;
use common::{FORMAT, file_names, interleaved_clip, sine_chunk, write_clip};
use reel_clip::Chunk;
use reel_pipeline::{EncoderConfig, Mp4Writer, OutputsConfig, PipelineError, Playout, SrtConfig};

/// Set in a child process of this test binary: what the child should do, and where.
const CHILD: &str = "REEL_FAILURES_CHILD";

/// Runs one test of this binary again in a child process with `env` added; asserts it passed.
fn run_child(test: &str, env: &[(&str, &std::ffi::OsStr)], wrapper: Option<&[&str]>) {
    let exe = std::env::current_exe().expect("test binary");
    let mut command = match wrapper {
        Some(args) => {
            let mut command = Command::new(args[0]);
            command.args(&args[1..]).arg(&exe);
            command
        }
        None => Command::new(&exe),
    };
    command.args([test, "--exact", "--nocapture", "--test-threads=1"]);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("child runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "child failed: {}\n{text}",
        output.status
    );
    assert!(text.contains("1 passed"), "the child ran nothing:\n{text}");
}

/// A plugin directory with every system plugin but the one that provides `element`, so the
/// element is missing exactly as on a machine without that package.
fn plugins_without(element: &str, dir: &Path) -> PathBuf {
    gst::init().expect("gst init");
    let factory = gst::ElementFactory::find(element).expect("element installed here");
    let plugin = factory.plugin().expect("plugin");
    let file = plugin.filename().expect("plugin file");
    let system = file.parent().expect("plugin directory");
    let restricted = dir.join("plugins");
    std::fs::create_dir_all(&restricted).expect("plugin dir");
    for entry in std::fs::read_dir(system).expect("plugins") {
        let path = entry.expect("entry").path();
        if path != file && path.extension().is_some_and(|e| e == "so") {
            let link = restricted.join(path.file_name().expect("name"));
            std::os::unix::fs::symlink(&path, link).expect("symlink");
        }
    }
    restricted
}

#[test]
fn missing_element_is_named_with_its_package() {
    if std::env::var_os(CHILD).is_some_and(|v| v == "missing") {
        let outputs = OutputsConfig {
            srt: Some(SrtConfig {
                port: common::live::free_udp_port(),
            }),
            ..OutputsConfig::default()
        };
        let err = Playout::start(&small_playout(Vec::new()), &outputs).expect_err("no srtsink");
        let message = err.to_string();
        assert!(
            matches!(&err, PipelineError::MissingElement { element, .. } if element == "srtsink"),
            "{message}"
        );
        assert!(message.contains("gstreamer1.0-plugins-bad"), "{message}");
        // Everything that does not need the missing plugin still works.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("clip.mp4");
        write_clip(&path, FORMAT, &EncoderConfig::default(), chunks(6)).expect("clip");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugins_without("srtsink", dir.path());
    let registry = dir.path().join("registry.bin");
    run_child(
        "missing_element_is_named_with_its_package",
        &[
            (CHILD, "missing".as_ref()),
            ("GST_PLUGIN_SYSTEM_PATH_1_0", plugins.as_os_str()),
            ("GST_PLUGIN_PATH_1_0", "".as_ref()),
            ("GST_REGISTRY_1_0", registry.as_os_str()),
        ],
        None,
    );
}

fn chunks(frames: u64) -> Vec<Chunk> {
    interleaved_clip(FORMAT, frames, noise_frame, |first, n| {
        sine_chunk(FORMAT, first, n)
    })
}

/// Incompressible frames, so a few seconds of video are far more than 200 kB.
fn noise_frame(index: u64) -> Vec<u8> {
    let mut state = index.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..FORMAT.rgb_frame_len())
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

/// Writes ten seconds of noise into `small` (a nearly full file system): the write must fail
/// with an error naming the cause and leave nothing behind; a clip elsewhere still works.
fn fill_the_disk(small: &Path, elsewhere: &Path) {
    let path = small.join("clip.mp4");
    let cfg = EncoderConfig {
        video_bitrate_kbps: 8000,
        ..EncoderConfig::default()
    };
    let outcome = Mp4Writer::create(&path, FORMAT, &cfg).and_then(|mut writer| {
        for chunk in chunks(120) {
            writer.push(chunk)?;
        }
        writer.finish()
    });
    let err = outcome.expect_err("200 kB cannot hold 10 s of noise at 8 Mbit/s");
    let message = err.to_string();
    eprintln!("full disk: {message}");
    assert!(
        message.contains("No space left") || message.contains("File too large"),
        "{message}"
    );
    assert!(file_names(small).is_empty(), "{:?}", file_names(small));
    let path = elsewhere.join("after.mp4");
    let info = write_clip(&path, FORMAT, &EncoderConfig::default(), chunks(6)).expect("clip");
    assert_eq!(info.frames, 6);
}

#[test]
fn full_disk_is_a_clear_error_and_leaves_no_partial_file() {
    if std::env::var_os(CHILD).is_some_and(|v| v == "fsize") {
        let small = std::env::var_os("REEL_SMALL_DIR").expect("dir");
        let elsewhere = tempfile::tempdir().expect("tempdir");
        // RLIMIT_FSIZE applies to every file: the clip written afterwards must stay under it.
        fill_the_disk(Path::new(&small), elsewhere.path());
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let small = dir.path().join("small");
    std::fs::create_dir(&small).expect("dir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=200k", "tmpfs"])
        .arg(&small)
        .output()
        .is_ok_and(|o| o.status.success());
    if mounted {
        let outcome = std::panic::catch_unwind(|| fill_the_disk(&small, dir.path()));
        let unmounted = Command::new("umount").arg(&small).status();
        assert!(unmounted.is_ok_and(|s| s.success()), "umount {small:?}");
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
        return;
    }
    // Without the right to mount (not root, or in a container), a file size limit gives the
    // same failure to the writer: the kernel refuses the write past 2 MB (EFBIG instead of
    // ENOSPC). SIGXFSZ would kill the child first; an ignored signal stays ignored across exec.
    eprintln!("mount not permitted; limiting the file size with RLIMIT_FSIZE instead");
    run_child(
        "full_disk_is_a_clear_error_and_leaves_no_partial_file",
        &[
            (CHILD, "fsize".as_ref()),
            ("REEL_SMALL_DIR", small.as_os_str()),
        ],
        Some(&[
            "sh",
            "-c",
            "trap '' XFSZ; exec prlimit --fsize=2000000 -- \"$@\"",
            "sh",
        ]),
    );
}

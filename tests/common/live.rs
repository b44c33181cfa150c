//! Independent GStreamer clients for the playout tests: `gst-launch-1.0` processes, free ports,
//! and the continuity check (after `pipeline/tests/common/live.rs`, which tests the pipeline
//! crate on its own).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A TCP port nobody listens on right now.
pub fn free_tcp_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Waits until something accepts TCP connections on `port`, or fails after `limit`.
pub fn wait_for_listener(port: u16, limit: Duration, log: impl Fn() -> String) {
    let deadline = Instant::now() + limit;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {port}:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `gst-launch-1.0 -e` client running in the background, its output going to a file (a pipe
/// nobody reads could fill up and stall it).
pub struct GstClient {
    child: Child,
    log: PathBuf,
}

/// Runs `gst-launch-1.0 -e ARGS` in the background, logging to `log`.
pub fn gst_launch(args: &str, log: &Path) -> GstClient {
    let file = std::fs::File::create(log).expect("log file");
    let child = Command::new("gst-launch-1.0")
        .arg("-e")
        .args(args.split_whitespace())
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log file"))
        .stderr(file)
        .spawn()
        .expect("gst-launch-1.0 runs");
    GstClient {
        child,
        log: log.to_owned(),
    }
}

/// Sends SIGINT (`-e` turns it into EOS) and waits for the exit, killing the client after 5 s.
/// Returns the client's output.
pub fn stop_gst(mut client: GstClient) -> String {
    let pid = client.child.id().to_string();
    let status = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -INT {pid}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while client.child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            client.child.kill().expect("kill");
            client.child.wait().expect("reaped");
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(&client.log).unwrap_or_default()
}

/// Runs a GStreamer command line tool to completion, killed after `limit`.
pub fn run_tool(tool: &str, args: &[&str], limit: Duration) -> (Option<i32>, String) {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} runs: {e}"));
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if child.try_wait().expect("wait").is_none() {
        child.kill().expect("kill");
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.code(), text)
}

/// Mean byte value of a frame.
pub fn brightness(frame: &[u8]) -> f64 {
    frame.iter().map(|&b| f64::from(b)).sum::<f64>() / frame.len().max(1) as f64
}

/// Asserts that timestamps increase and never skip more than one frame, after the first two
/// frames (a receiver that joins mid-stream may lose packets while its jitter buffer starts).
pub fn assert_continuous(pts: &[u64], frame_ns: u64) {
    for pair in pts.windows(2).skip(2) {
        let gap = pair[1].checked_sub(pair[0]).expect("timestamps go back");
        assert!(gap > 0, "repeated timestamp {}", pair[0]);
        // 2 ms of slack: RTP's 90 kHz clock and the muxer's timescale round timestamps.
        assert!(
            gap <= frame_ns + 2_000_000,
            "gap of {gap} ns after {} ns",
            pair[0]
        );
    }
}

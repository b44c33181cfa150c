//! Helpers for the live-output tests: free ports, clips, and real `gst-launch-1.0` clients.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reel_clip::ClipFormat;
use reel_pipeline::{EncoderConfig, PlayoutConfig, PlayoutHandle, PlayoutStatus};

use super::{FORMAT, interleaved_clip, sine_chunk, write_clip};

/// A TCP port nobody listens on right now.
pub fn free_tcp_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// An even UDP port (RTP convention) with the next two free right now.
pub fn free_udp_port() -> u16 {
    loop {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = socket.local_addr().expect("addr").port();
        if port.is_multiple_of(2)
            && port < 65000
            && std::net::UdpSocket::bind(("127.0.0.1", port + 2)).is_ok()
        {
            return port;
        }
    }
}

/// A two-second clip of one flat grey level, with a tone.
pub fn flat_clip(dir: &Path, name: &str, level: u8) -> PathBuf {
    let path = dir.join(name);
    let chunks = interleaved_clip(
        FORMAT,
        24,
        |_| vec![level; FORMAT.rgb_frame_len()],
        |first, n| sine_chunk(FORMAT, first, n),
    );
    write_clip(&path, FORMAT, &EncoderConfig::default(), chunks).expect("clip written");
    path
}

/// A small, fast playout format for tests.
pub fn small_playout(playlist: Vec<PathBuf>) -> PlayoutConfig {
    PlayoutConfig {
        enabled: true,
        width: 160,
        height: 120,
        fps: 12,
        sample_rate: 16_000,
        channels: 1,
        playlist,
        video_bitrate_kbps: 800,
        ..PlayoutConfig::default()
    }
}

/// The program format of [`small_playout`].
pub const PROGRAM: ClipFormat = ClipFormat {
    width: 160,
    height: 120,
    ..FORMAT
};

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

/// Sends SIGINT (gst-launch's -e turns it into EOS) and waits for the exit, killing the client
/// after 5 s: some network sources (srtsrc in 1.22) do not always pass the EOS on, which is why
/// the clients record MPEG-TS, readable without a finished index. Returns the client's output.
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

/// Waits until `done(status)` holds, or fails the test after `limit`.
pub fn wait_for(
    handle: &PlayoutHandle,
    limit: Duration,
    what: &str,
    done: impl Fn(&PlayoutStatus) -> bool,
) -> PlayoutStatus {
    let deadline = Instant::now() + limit;
    loop {
        let status = handle.status();
        if done(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {status:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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

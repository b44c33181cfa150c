//! The kiosk playout in a running `reeld`, checked only with independent GStreamer clients: an
//! `rtspsrc` recording across the switch from the "generating…" slate to the new clip, the HLS
//! playlist played to EOS with `playbin`, and the discoverer on the job's MP4.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::live::{
    GstClient, assert_continuous, free_tcp_port, gst_launch, run_tool, stop_gst, wait_for_listener,
};
use common::{PATIENCE, Setup, reeld_command, run, text};
use reel_daemon::queue::JobState;

/// The program: 320×240 at 12 fps, 16 kHz mono (the tiny bundle's clips are 128×128, so they
/// are letterboxed with black borders).
const FPS: u64 = 12;
const FRAME_NS: u64 = 1_000_000_000 / FPS;
const MOUNT: &str = "/reel";

fn sections(hls: &Path, rtsp_port: u16) -> String {
    format!(
        "[playout]\nenabled = true\nwidth = 320\nheight = 240\nfps = {FPS}\nsample_rate = 16000\n\
         channels = 1\nvideo_bitrate_kbps = 800\n\
         [outputs.hls]\ndir = {hls:?}\ntarget_duration = 1\nmax_files = 0\nplaylist_length = 0\n\
         [outputs.rtsp]\naddress = \"127.0.0.1\"\nport = {rtsp_port}\nmount = \"{MOUNT}\"\n"
    )
}

/// What a decoded program frame shows, told by its top-left corner: the slate's dark blue
/// background, or the black border around a letterboxed clip.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shows {
    Slate,
    Clip,
    Unclear,
}

fn shows(frame: &[u8], width: usize) -> Shows {
    let (mut sum, mut n) = ([0f64; 3], 0.0);
    for y in 0..16 {
        for x in 0..16 {
            let pixel = &frame[(y * width + x) * 3..][..3];
            for (s, &v) in sum.iter_mut().zip(pixel) {
                *s += f64::from(v);
            }
            n += 1.0;
        }
    }
    let [r, _, b] = sum.map(|s| s / n);
    if b > 28.0 && b - r > 12.0 {
        Shows::Slate
    } else if b < 12.0 && r < 12.0 {
        Shows::Clip
    } else {
        Shows::Unclear
    }
}

fn wait_until(limit: Duration, what: &str, log: impl Fn() -> String, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_rtsp_client(dir: &Path, port: u16) -> (GstClient, std::path::PathBuf) {
    let recording = dir.join("rec.ts");
    // As in pipeline/tests/playout.rs: timestamps from RTP alone (buffer-mode=none), and
    // rtpbin's lip-sync correction spread out rather than applied as a jump.
    let line = format!(
        "rtspsrc location=rtsp://127.0.0.1:{port}{MOUNT} protocols=tcp latency=300 buffer-mode=none \
         max-ts-offset-adjustment=1000000 ! rtph264depay ! h264parse ! mpegtsmux \
         ! filesink location={}",
        recording.display()
    );
    (gst_launch(&line, &dir.join("rtsp.log")), recording)
}

#[test]
fn reeld_playout_reaches_independent_clients_across_a_switch() {
    let probe = tempfile::tempdir().unwrap();
    let hls = probe.path().join("hls");
    let port = free_tcp_port();
    let setup = Setup::with_sections("", &sections(&hls, port));
    let reeld = setup.start_reeld();
    let log = || reeld.log_text();
    wait_for_listener(port, PATIENCE, log);

    // (a) An RTSP client that joined before the job records the slate, the switch and the clip.
    let (client, recording) = start_rtsp_client(setup.dir.path(), port);
    std::thread::sleep(Duration::from_secs(3));
    let id = setup.submit(&["a red ball bounces", "--seconds", "2", "--seed", "5"]);
    let job = setup.wait_for(id, "finished", |j| j.state.is_terminal());
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    let clip = job.output.clone().expect("output");
    wait_until(PATIENCE, "the clip on air", log, || {
        log()
            .lines()
            .any(|l| l.contains("on air") && l.contains(&clip))
    });
    // The clip (2 s) plays, then loops: it is now the attract loop's only clip.
    std::thread::sleep(Duration::from_secs(4));
    let client_log = stop_gst(client);

    // (b) SIGTERM ends the streams: reeld exits 0 and the playlist is complete.
    reeld.signal("TERM");
    assert_eq!(reeld.wait(), Some(0));

    let media = reel_pipeline::decode_media(&recording)
        .unwrap_or_else(|e| panic!("{e}\n{client_log}\n{}", setup_log(&setup)));
    assert_eq!((media.width, media.height), (320, 240));
    let span = media.frame_pts_ns.last().expect("frames") - media.frame_pts_ns[0];
    let seen: Vec<Shows> = media.frames.iter().map(|f| shows(f, 320)).collect();
    eprintln!("recorded {} frames over {span} ns: {seen:?}", seen.len());
    assert!(
        span >= 5_000_000_000,
        "only {span} ns recorded\n{client_log}"
    );
    assert_continuous(&media.frame_pts_ns, FRAME_NS);
    let first_clip = seen
        .iter()
        .position(|&s| s == Shows::Clip)
        .unwrap_or_else(|| panic!("the clip never reached the client: {seen:?}"));
    assert!(
        first_clip >= 12 && seen[..first_clip].iter().all(|&s| s == Shows::Slate),
        "slate first, then the clip: {seen:?}"
    );

    let playlist = std::fs::read_to_string(hls.join("playlist.m3u8")).expect("playlist");
    assert!(playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
    let uri = format!("file://{}", hls.join("playlist.m3u8").display());
    let (code, out) = run_tool(
        "gst-launch-1.0",
        &[
            "playbin",
            &format!("uri={uri}"),
            "video-sink=fakesink sync=false",
            "audio-sink=fakesink sync=false",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(0), "playbin on the HLS playlist:\n{out}");
    assert!(out.contains("Got EOS"), "{out}");

    // (c) The job's MP4 is written as before, and the discoverer reads it.
    let (code, out) = run_tool("gst-discoverer-1.0", &[&clip], Duration::from_secs(30));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("video") && out.contains("audio"), "{out}");
}

#[test]
fn bad_playout_configuration_exits_64_and_a_failed_start_exits_1() {
    let setup = Setup::with_sections("", "[playout]\nenabled = true\nwidth = 162\n");
    let out = run(reeld_command().arg("--config").arg(&setup.config));
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("playout.width"));

    // The RTSP port is taken: the playout cannot start, and reeld says why before READY=1.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let hls = setup.dir.path().join("hls");
    let setup = Setup::with_sections("", &sections(&hls, port));
    let out = run(reeld_command().arg("--config").arg(&setup.config));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("playout"));
}

fn setup_log(setup: &Setup) -> String {
    std::fs::read_to_string(setup.dir.path().join("reeld.log")).unwrap_or_default()
}

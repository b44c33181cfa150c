//! `reeld` under a service manager: a notify socket of our own stands in for systemd. READY
//! comes once the daemon is up, STATUS follows the queue, WATCHDOG pings flow while the job loop
//! turns and stop when it is stuck, and STOPPING comes with SIGTERM.

mod common;

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use common::notify_socket::NotifySocket;
use common::{PATIENCE, Setup};
use reel_clip::Stage;
use reel_daemon::queue::JobState;

/// `WATCHDOG_USEC` for the tests: pings every 200 ms.
const WATCHDOG_USEC: &str = "400000";

fn start(setup: &Setup, socket: &NotifySocket) -> common::Reeld {
    setup.start_reeld_with_env(&[
        ("NOTIFY_SOCKET", socket.path().as_os_str()),
        ("WATCHDOG_USEC", OsStr::new(WATCHDOG_USEC)),
    ])
}

#[test]
fn ready_status_watchdog_and_stopping_reach_the_service_manager() {
    let setup = Setup::new("");
    let socket = NotifySocket::bind();
    let reeld = start(&setup, &socket);
    let ready = socket.wait_for("READY", "1", PATIENCE).expect("READY=1");
    assert!(
        ready.get("STATUS").is_some_and(|s| s.contains("queue 0")),
        "{ready:?}"
    );
    // Pinging goes on at about half of WATCHDOG_USEC.
    assert!(
        socket
            .wait_for_count("WATCHDOG", "1", 5, PATIENCE)
            .is_some(),
        "five pings"
    );

    let id = setup.submit(&["a red ball drops", "--seconds", "1"]);
    setup.wait_for(id, "finished", |j| j.state.is_terminal());
    let engine_status = socket.wait_until(PATIENCE, |m| {
        m.get("STATUS")
            .is_some_and(|s| s.contains("engine tiny-random (cpu)"))
    });
    assert!(engine_status.is_some(), "statuses: {:?}", socket.statuses());

    reeld.signal("TERM");
    assert!(socket.wait_for("STOPPING", "1", PATIENCE).is_some());
    assert_eq!(reeld.wait(), Some(0));
    let ready_at = socket.with("READY", "1")[0].at;
    assert!(
        socket.watchdog_pings().iter().all(|&at| at >= ready_at),
        "no ping before READY"
    );
}

#[test]
fn a_stuck_job_loop_stops_the_watchdog_pings_until_it_turns_again() {
    let setup = Setup::new("");
    let slow = common::slow_bundle(setup.dir.path(), 1000);
    let socket = NotifySocket::bind();
    let reeld = start(&setup, &socket);
    socket.wait_for("READY", "1", PATIENCE).expect("READY=1");
    let id = setup.submit(&[
        "a stone sinks",
        "--seconds",
        "10",
        "--bundle",
        slow.to_str().unwrap(),
    ]);
    setup.wait_for(id, "denoising", |j| {
        j.state == JobState::Running && j.progress.stage == Stage::Denoising
    });

    // Another process holds the database's write lock: the job loop's next progress write
    // blocks (SQLite's busy timeout is 5 s), so the loop stops turning.
    let db = rusqlite::Connection::open(setup.state_dir().join("reel.db")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let locked_at = Instant::now();
    std::thread::sleep(Duration::from_millis(3500));
    let pings_while_locked: Vec<Instant> = socket
        .watchdog_pings()
        .into_iter()
        .filter(|&at| at > locked_at)
        .collect();
    db.execute_batch("COMMIT").unwrap();
    let unlocked_at = Instant::now();

    // Liveness goes stale after 1 s; from then on no ping may go out while the loop is stuck.
    let stale_from = locked_at + Duration::from_millis(1500);
    let late: Vec<_> = pings_while_locked
        .iter()
        .filter(|&&at| at > stale_from)
        .collect();
    assert!(
        late.is_empty(),
        "{} pings while the loop was stuck",
        late.len()
    );

    // Unstuck, the loop turns again and pings resume.
    let resumed = socket.wait_until(PATIENCE, |m| m.has("WATCHDOG", "1") && m.at > unlocked_at);
    assert!(resumed.is_some(), "pings resume after the lock is released");
    reeld.signal("TERM");
    assert_eq!(reeld.wait(), Some(0));
}

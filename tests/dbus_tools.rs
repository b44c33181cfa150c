//! The D-Bus API from outside Rust: `busctl` and `gdbus` as independent clients, `reelctl
//! --session`, and reeld's start-up errors when its bus or name is not to be had.

mod common;

use std::time::Instant;

use common::bus::{JOB_IFACE, MANAGER, MANAGER_IFACE, NAME, PrivateBus, stdout_line};
use common::{PATIENCE, Reeld, Setup, reeld_command, run, text};

fn daemon(bus: &PrivateBus, extra_toml: &str) -> (Setup, Reeld) {
    let setup = Setup::on_bus(bus, extra_toml);
    let reeld = setup.start_reeld();
    bus.wait_for_reeld(|| reeld.log_text());
    (setup, reeld)
}

/// Polls a job's `State` with busctl until it is over; returns it.
fn wait_until_over(bus: &PrivateBus, path: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let state = stdout_line(&bus.busctl(&["get-property", NAME, path, JOB_IFACE, "State"]));
        if ["u 3", "u 4", "u 5"].contains(&state.as_str()) {
            return state;
        }
        assert!(Instant::now() < deadline, "{path} never finished: {state}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn busctl_and_gdbus_drive_the_api() {
    let bus = PrivateBus::start();
    let (_setup, _reeld) = daemon(&bus, "");
    let out = bus.busctl(&[
        "call",
        NAME,
        MANAGER,
        MANAGER_IFACE,
        "Generate",
        "sa{sv}",
        "a red ball bounces",
        "2",
        "seconds",
        "d",
        "1",
        "seed",
        "t",
        "3",
    ]);
    assert!(out.status.success());
    let first = stdout_line(&out);
    assert_eq!(first, "o \"/org/reel/Reel1/Job/1\"");
    let path = "/org/reel/Reel1/Job/1";

    // gdbus types the options itself; integers are accepted as seconds.
    let out = bus.gdbus_manager(
        "Generate",
        &["a blue box slides", "{'seconds': <1>, 'seed': <uint64 5>}"],
    );
    assert!(out.status.success());
    assert_eq!(stdout_line(&out), "(objectpath '/org/reel/Reel1/Job/2',)");

    assert_eq!(wait_until_over(&bus, path), "u 3");
    assert_eq!(wait_until_over(&bus, "/org/reel/Reel1/Job/2"), "u 3");
    let output = stdout_line(&bus.busctl(&["get-property", NAME, path, JOB_IFACE, "Output"]));
    assert!(output.ends_with("job-1.mp4\""), "{output}");
    let version = bus.gdbus(
        "call",
        &[
            "--dest",
            NAME,
            "--object-path",
            MANAGER,
            "--method",
            "org.freedesktop.DBus.Properties.Get",
            MANAGER_IFACE,
            "Version",
        ],
    );
    assert!(stdout_line(&version).contains(env!("CARGO_PKG_VERSION")));
    // The manager's properties follow the job's end by a moment.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let props = stdout_line(&bus.busctl(&[
            "get-property",
            NAME,
            MANAGER,
            MANAGER_IFACE,
            "State",
            "QueueLength",
        ]));
        if props == "u 1\nu 0" {
            break; // idle, with an empty queue
        }
        assert!(Instant::now() < deadline, "never idle: {props}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        stdout_line(&bus.gdbus_manager("ListJobs", &[])),
        "([objectpath '/org/reel/Reel1/Job/2', '/org/reel/Reel1/Job/1'],)"
    );
    let managed = bus.gdbus(
        "call",
        &[
            "--dest",
            NAME,
            "--object-path",
            MANAGER,
            "--method",
            "org.freedesktop.DBus.ObjectManager.GetManagedObjects",
        ],
    );
    let managed = stdout_line(&managed);
    assert!(
        managed.contains("'/org/reel/Reel1/Job/1'") && managed.contains("'a blue box slides'"),
        "{managed}"
    );
    let tree = stdout_line(&bus.busctl(&["tree", NAME]));
    assert!(tree.contains("/org/reel/Reel1/Job/2"), "{tree}");
}

#[test]
fn command_line_clients_see_named_errors_and_the_daemon_keeps_serving() {
    let bus = PrivateBus::start();
    let (_setup, _reeld) = daemon(&bus, "");
    let refused = |args: &[&str], name: &str, says: &str| {
        let out = bus.gdbus_manager("Generate", args);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("GDBus.Error:{name}")) && err.contains(says),
            "{err}"
        );
    };
    let invalid = "org.reel.Reel1.Error.InvalidArgument";
    refused(&["", "{}"], invalid, "the prompt is empty");
    refused(
        &["a ball", "{'colour': <'red'>}"],
        invalid,
        "unknown option `colour`",
    );
    refused(
        &["a ball", "{'cameo': <'me'>}"],
        "org.reel.Reel1.Error.NotSupported",
        "option `cameo` is not supported yet",
    );
    refused(
        &["a ball", "{'seconds': <-3.0>}"],
        invalid,
        "seconds must be a positive number",
    );
    refused(&["a ball", "{'seconds': <1e300>}"], invalid, "up to");
    refused(
        &["a ball", "{'seconds': <'4'>}"],
        invalid,
        "option `seconds` must be a number",
    );
    refused(
        &["a ball", "{'seed': <int64 -7>}"],
        invalid,
        "must not be negative",
    );

    // busctl sends whatever signature it is told to.
    let wrong = bus.busctl(&[
        "call",
        NAME,
        MANAGER,
        MANAGER_IFACE,
        "Generate",
        "s",
        "a ball",
    ]);
    assert!(!wrong.status.success());
    assert!(
        text(&wrong.stderr).contains("Signature mismatch"),
        "{}",
        text(&wrong.stderr)
    );
    let wrong = bus.busctl(&[
        "call",
        NAME,
        MANAGER,
        MANAGER_IFACE,
        "Generate",
        "su",
        "a ball",
        "4",
    ]);
    assert!(!wrong.status.success());
    let unknown = bus.busctl(&[
        "get-property",
        NAME,
        "/org/reel/Reel1/Job/77",
        JOB_IFACE,
        "State",
    ]);
    assert!(
        text(&unknown.stderr).contains("Unknown object"),
        "{}",
        text(&unknown.stderr)
    );
    let cancel = bus.gdbus_manager("CancelJob", &["/org/reel/Reel1/Job/77"]);
    assert!(text(&cancel.stderr).contains("GDBus.Error:org.reel.Reel1.Error.NotFound"));
    let read_only = bus.busctl(&[
        "set-property",
        NAME,
        MANAGER,
        MANAGER_IFACE,
        "QueueLength",
        "u",
        "0",
    ]);
    assert!(!read_only.status.success());

    let out = bus.busctl(&[
        "call",
        NAME,
        MANAGER,
        MANAGER_IFACE,
        "Generate",
        "sa{sv}",
        "still here",
        "0",
    ]);
    assert!(out.status.success(), "the daemon still serves");
}

#[test]
fn reelctl_talks_to_reeld_over_the_session_bus() {
    let bus = PrivateBus::start();
    let (setup, _reeld) = daemon(&bus, "");
    let out = run(setup.reelctl().args([
        "--session",
        "generate",
        "a green ball rolls",
        "--seconds",
        "1",
        "--seed",
        "2",
    ]));
    assert!(out.status.success());
    let clip = std::path::PathBuf::from(text(&out.stdout).trim());
    assert!(
        clip.is_file() && clip.starts_with(setup.state_dir()),
        "{}",
        clip.display()
    );
    assert!(text(&out.stderr).contains("denoising"), "progress is shown");

    let out = run(setup
        .reelctl()
        .args(["--session", "submit", "a slow cloud", "--seconds", "1"]));
    assert!(out.status.success());
    let id = text(&out.stdout).trim().to_string();
    assert_eq!(id, "2");
    let out = run(setup.reelctl().args(["--session", "jobs"]));
    assert!(out.status.success() && text(&out.stdout).contains("a green ball rolls"));
    let out = run(setup
        .reelctl()
        .args(["--session", "jobs", "--json", "--limit", "1"]));
    let line: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(line["id"], 2);

    let out = run(setup.reelctl().args(["--session", "submit", ""]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("org.reel.Reel1.Error.InvalidArgument: the prompt is empty")
    );
    let out = run(setup.reelctl().args(["--session", "cancel", "99"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("org.reel.Reel1.Error.NotFound"));
    let out = run(setup
        .reelctl()
        .args(["--session", "generate", "x", "--out", "x.mp4"]));
    assert_eq!(out.status.code(), Some(2));

    // A bus without reeld on it.
    let empty = PrivateBus::start();
    let out = run(setup
        .reelctl()
        .env("DBUS_SESSION_BUS_ADDRESS", &empty.address)
        .args(["--session", "jobs"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is reeld running?"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn reeld_exits_1_naming_the_bus_when_it_cannot_serve() {
    let setup = Setup::new("");
    let out = run(reeld_command()
        .arg("--config")
        .arg(&setup.config)
        .args(["--bus", "session"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot connect to the session bus"),
        "{}",
        text(&out.stderr)
    );

    let bus = PrivateBus::start();
    let (_first, _reeld) = daemon(&bus, "");
    let second = Setup::on_bus(&bus, "");
    let out = run(reeld_command()
        .arg("--config")
        .arg(&second.config)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("org.reel.Reel1 is already owned on the session bus"),
        "{}",
        text(&out.stderr)
    );
    let bad = run(reeld_command()
        .arg("--config")
        .arg(&second.config)
        .args(["--bus", "user"]));
    assert_eq!(bad.status.code(), Some(2), "clap refuses an unknown bus");
}

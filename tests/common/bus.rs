//! A private D-Bus daemon per test (no fixed addresses, nothing shared between tests), the
//! command-line clients `busctl` and `gdbus` pointed at it, and a zbus connection to it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{PATIENCE, run, text};

pub const NAME: &str = "org.reel.Reel1";
pub const MANAGER: &str = "/org/reel/Reel1";
pub const MANAGER_IFACE: &str = "org.reel.Reel1.Manager";
pub const JOB_IFACE: &str = "org.reel.Reel1.Job";

/// `dbus-daemon --session` listening in a temporary directory; stopped on drop.
pub struct PrivateBus {
    pub address: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl PrivateBus {
    pub fn start() -> PrivateBus {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .arg(format!("--address=unix:dir={}", dir.path().display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dbus-daemon starts (Debian package `dbus`; scripts/setup.sh installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line.trim().to_string();
        assert!(
            address.starts_with("unix:"),
            "dbus-daemon printed {address:?}"
        );
        PrivateBus {
            address,
            child,
            _dir: dir,
        }
    }

    /// `busctl --address=… ARGS`.
    pub fn busctl(&self, args: &[&str]) -> Output {
        run(Command::new("busctl")
            .arg(format!("--address={}", self.address))
            .args(args))
    }

    /// `gdbus ARGS… --address …` (gdbus wants the address after the subcommand).
    pub fn gdbus(&self, subcommand: &str, args: &[&str]) -> Output {
        run(Command::new("gdbus")
            .arg(subcommand)
            .args(["--address", &self.address])
            .args(args))
    }

    /// `gdbus call` on the manager.
    pub fn gdbus_manager(&self, method: &str, args: &[&str]) -> Output {
        let method = format!("{MANAGER_IFACE}.{method}");
        let mut all = vec![
            "--dest",
            NAME,
            "--object-path",
            MANAGER,
            "--method",
            &method,
        ];
        all.extend_from_slice(args);
        self.gdbus("call", &all)
    }

    /// Whether someone owns `name` now.
    pub fn has_owner(&self, name: &str) -> bool {
        let out = Command::new("busctl")
            .arg(format!("--address={}", self.address))
            .args([
                "call",
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "NameHasOwner",
                "s",
                name,
            ])
            .output()
            .unwrap();
        text(&out.stdout).trim() == "b true"
    }

    /// Waits until reeld owns its name (it owns it only once every object answers).
    pub fn wait_for_reeld(&self, log: impl Fn() -> String) {
        let deadline = Instant::now() + PATIENCE;
        while !self.has_owner(NAME) {
            assert!(
                Instant::now() < deadline,
                "reeld never owned {NAME}:\n{}",
                log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A zbus connection to this bus (call inside a Tokio runtime).
    pub async fn connect(&self) -> zbus::Connection {
        zbus::connection::Builder::address(self.address.as_str())
            .build()
            .await
            .expect("connects to the private bus")
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}

/// Runs async test code on a runtime of its own (setup and processes stay synchronous).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The last line of stdout, trimmed (busctl and gdbus print one value per call).
pub fn stdout_line(out: &Output) -> String {
    text(&out.stdout).trim().to_string()
}

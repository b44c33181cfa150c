//! Helpers for the end-to-end tests: the built binaries, the committed tiny bundle, ONNX
//! Runtime's library, and a `reeld` process that is killed when the test ends.

#![allow(dead_code)] // each test binary uses a different subset

pub mod broker;
pub mod bus;
pub mod dbus_client;
pub mod live;

pub mod notify_socket;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use reel_daemon::store::{JobRecord, Store};

/// Generous upper bound for anything to happen; tests poll, they never assert on speed.
pub const PATIENCE: Duration = Duration::from_secs(180);

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn tiny_bundle() -> PathBuf {
    workspace_root().join("engines/bundles/tiny-random")
}

/// ONNX Runtime's library: `ORT_DYLIB_PATH` or the copy `scripts/setup.sh` unpacks.
pub fn ort_library() -> PathBuf {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH") {
        return PathBuf::from(path);
    }
    let path = workspace_root().join(".cache/onnxruntime/libonnxruntime.so.1.32.0");
    assert!(
        path.exists(),
        "ONNX Runtime library missing at {}: run scripts/setup.sh",
        path.display()
    );
    path
}

pub fn reelctl() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reelctl"));
    cmd.env("ORT_DYLIB_PATH", ort_library())
        .env_remove("RUST_LOG");
    cmd
}

pub fn reeld_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reeld"));
    cmd.env("ORT_DYLIB_PATH", ort_library())
        .env_remove("RUST_LOG");
    cmd
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command and returns its output, showing both streams if the test fails later.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("command starts");
    eprintln!(
        "--- stdout\n{}--- stderr\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// A copy of the tiny bundle whose sampler takes `steps` steps, so a job runs long enough to be
/// interrupted on purpose.
pub fn slow_bundle(dir: &Path, steps: u32) -> PathBuf {
    let target = dir.join("slow-bundle");
    std::fs::create_dir_all(&target).unwrap();
    for entry in std::fs::read_dir(tiny_bundle()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
    }
    let manifest = target.join("bundle.toml");
    let mut table: toml::Table = std::fs::read_to_string(&manifest).unwrap().parse().unwrap();
    let scheduler = table
        .get_mut("scheduler")
        .and_then(|s| s.as_table_mut())
        .expect("[scheduler]");
    scheduler.insert("steps".into(), toml::Value::Integer(steps as i64));
    std::fs::write(&manifest, toml::to_string(&table).unwrap()).unwrap();
    target
}

/// A state directory with a configuration file for `reeld` and `reelctl`.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    /// The private bus reeld serves on, if any (`DBUS_SESSION_BUS_ADDRESS` for both binaries).
    pub bus_address: Option<String>,
}

impl Setup {
    /// Without D-Bus: test machines have no system bus. `extra_toml` lands in `[jobs]`.
    pub fn new(extra_toml: &str) -> Setup {
        Setup::with_dbus("bus = \"none\"", None, extra_toml)
    }

    /// Serving `org.reel.Reel1` on `bus`, with the group check (no polkit on a private bus).
    pub fn on_bus(bus: &bus::PrivateBus, extra_toml: &str) -> Setup {
        Setup::with_dbus(
            "bus = \"session\"\nauthorization = \"group\"",
            Some(bus.address.clone()),
            extra_toml,
        )
    }

    /// Without D-Bus, with more sections (e.g. `[mqtt]`) after `[jobs]`.
    pub fn with_sections(jobs_toml: &str, sections: &str) -> Setup {
        let setup = Setup::new(jobs_toml);
        let mut text = std::fs::read_to_string(&setup.config).unwrap();
        text.push('\n');
        text.push_str(sections);
        std::fs::write(&setup.config, text).unwrap();
        setup
    }

    fn with_dbus(dbus_toml: &str, bus_address: Option<String>, extra_toml: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("reeld.toml");
        let toml = format!(
            "state_dir = {:?}\n[engine]\nbundle = {:?}\n[dbus]\n{dbus_toml}\n[jobs]\npoll_interval_ms = 20\n{extra_toml}",
            dir.path().join("state"),
            tiny_bundle()
        );
        std::fs::write(&config, toml).unwrap();
        Setup {
            dir,
            config,
            bus_address,
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn reelctl(&self) -> Command {
        let mut cmd = reelctl();
        cmd.arg("--config").arg(&self.config);
        if let Some(address) = &self.bus_address {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", address);
        }
        cmd
    }

    /// `reelctl submit` and the new job's id.
    pub fn submit(&self, args: &[&str]) -> i64 {
        let out = run(self.reelctl().arg("submit").args(args));
        assert!(out.status.success(), "submit failed");
        text(&out.stdout)
            .trim()
            .parse()
            .expect("submit prints the job id")
    }

    pub fn job(&self, id: i64) -> JobRecord {
        Store::open(&self.state_dir().join("reel.db"))
            .unwrap()
            .job(id)
            .unwrap()
    }

    /// Polls the job until `done` holds for it.
    pub fn wait_for(&self, id: i64, what: &str, done: impl Fn(&JobRecord) -> bool) -> JobRecord {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let job = self.job(id);
            if done(&job) {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} never became {what}: {job:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn start_reeld(&self) -> Reeld {
        self.start_reeld_with_env(&[])
    }

    /// Starts `reeld` with extra environment variables (e.g. `NOTIFY_SOCKET`).
    pub fn start_reeld_with_env(&self, env: &[(&str, &std::ffi::OsStr)]) -> Reeld {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("reeld.log"))
            .unwrap();
        let mut cmd = reeld_command();
        if let Some(address) = &self.bus_address {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", address);
        }
        cmd.envs(env.iter().copied());
        let child = cmd
            .arg("--config")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("reeld starts");
        Reeld {
            child: Some(child),
            log: self.dir.path().join("reeld.log"),
        }
    }
}

/// A running `reeld`, killed on drop.
pub struct Reeld {
    child: Option<Child>,
    log: PathBuf,
}

impl Reeld {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// SIGKILL: no chance to clean up, as in a crash or power loss.
    pub fn kill_hard(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Waits for exit and returns the exit code.
    pub fn wait(mut self) -> Option<i32> {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "reeld did not exit:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Reeld {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _killed = child.kill();
            let _reaped = child.wait();
            eprintln!("--- reeld log\n{}", self.log_text());
        }
    }
}

/// Files in `dir` (recursively not needed: media lands flat).
pub fn files_in(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
        Err(_) => Vec::new(),
    }
}

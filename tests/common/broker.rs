//! A real mosquitto for the MQTT tests, on a free loopback port, with a generated
//! configuration; optionally TLS-only with a password file and certificates made by the
//! `openssl` CLI. `mosquitto_sub` / `mosquitto_pub` are the independent clients.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::PATIENCE;

pub const USER: &str = "reel";
pub const PASSWORD: &str = "s3cret-pass";

/// Certificates and keys of a test PKI.
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

pub struct Broker {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub pki: Option<Pki>,
    conf: PathBuf,
    child: Option<Child>,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs (apt install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_pki(dir: &Path) -> Pki {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let req = |key: &str, out: &str, subj: &str, x509: bool| {
        let mut args = vec!["req"];
        if x509 {
            args.extend(["-x509", "-days", "2"]);
        }
        args.extend(ec);
        args.extend(["-keyout", key, "-out", out, "-subj", subj]);
        openssl(dir, &args);
    };
    req("ca.key", "ca.crt", "/CN=reel-test-ca", true);
    for (name, usage) in [("server", "serverAuth"), ("client", "clientAuth")] {
        let ext = format!(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage={usage}\n"
        );
        std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        req(
            &format!("{name}.key"),
            &format!("{name}.csr"),
            &format!("/CN=reel-test-{name}"),
            false,
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &format!("{name}.crt"),
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
    }
    Pki {
        ca: dir.join("ca.crt"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.crt"),
        client_key: dir.join("client.key"),
    }
}

/// A port nobody listens on right now (the broker may still lose a race for it: `start` retries).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Broker {
    /// Plain TCP, anonymous clients allowed.
    pub fn start() -> Broker {
        Broker::launch(false)
    }

    /// TLS only, with a password file and client certificates required.
    pub fn start_secure() -> Broker {
        Broker::launch(true)
    }

    fn launch(secure: bool) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let pki = secure.then(|| make_pki(dir.path()));
        if secure {
            let passwd = dir.path().join("passwd");
            let status = Command::new("mosquitto_passwd")
                .args(["-c", "-b"])
                .arg(&passwd)
                .args([USER, PASSWORD])
                .status()
                .unwrap();
            assert!(status.success(), "mosquitto_passwd");
        }
        Broker::retry(dir, pki, secure)
    }

    /// Tries free ports until mosquitto gets one.
    fn retry(dir: tempfile::TempDir, pki: Option<Pki>, secure: bool) -> Broker {
        let mut broker = Broker {
            port: free_port(),
            conf: dir.path().join("mosquitto.conf"),
            pki,
            child: None,
            dir,
        };
        for _ in 0..10 {
            broker.write_conf(secure);
            if broker.spawn() {
                return broker;
            }
            broker.port = free_port();
        }
        panic!("mosquitto did not start on any free port");
    }

    fn write_conf(&self, secure: bool) {
        let dir = self.dir.path();
        // As root, mosquitto would drop to user `mosquitto`, who cannot read the temp dir.
        let mut conf = format!(
            "user root\npersistence false\nper_listener_settings true\nlog_dest stderr\nlistener {} 127.0.0.1\n",
            self.port
        );
        match &self.pki {
            Some(pki) if secure => conf.push_str(&format!(
                "allow_anonymous false\npassword_file {}\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
                dir.join("passwd").display(),
                pki.ca.display(),
                pki.server_cert.display(),
                pki.server_key.display()
            )),
            _ => conf.push_str("allow_anonymous true\n"),
        }
        std::fs::write(&self.conf, conf).unwrap();
    }

    /// Starts mosquitto and waits for its port; false if it exited (port taken).
    fn spawn(&mut self) -> bool {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("mosquitto.log"))
            .unwrap();
        let mut child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mosquitto starts (apt install mosquitto)");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if child.try_wait().unwrap().is_some() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                self.child = Some(child);
                return true;
            }
            assert!(Instant::now() < deadline, "mosquitto never listened");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.pki.is_some() { "mqtts" } else { "mqtt" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// SIGKILL: the broker forgets everything (no persistence).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts again on the same port.
    pub fn restart(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        while !self.spawn() {
            assert!(Instant::now() < deadline, "mosquitto did not restart");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// Connection options for the mosquitto clients: TLS and credentials where needed.
    pub fn client_args(&self) -> Vec<String> {
        let mut args = vec![
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
        ];
        if let Some(pki) = &self.pki {
            for (flag, path) in [
                ("--cafile", &pki.ca),
                ("--cert", &pki.client_cert),
                ("--key", &pki.client_key),
            ] {
                args.push(flag.into());
                args.push(path.display().to_string());
            }
            args.extend(["-u".into(), USER.into(), "-P".into(), PASSWORD.into()]);
        }
        args
    }

    /// `mosquitto_pub` once; `extra` may add `-r`, `-f FILE`, …
    pub fn publish(&self, topic: &str, payload: &str, extra: &[&str]) {
        let mut cmd = Command::new("mosquitto_pub");
        cmd.args(self.client_args()).args(["-q", "1", "-t", topic]);
        if !extra.contains(&"-f") {
            cmd.args(["-m", payload]);
        }
        let out = cmd.args(extra).output().unwrap();
        assert!(
            out.status.success(),
            "mosquitto_pub: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A `mosquitto_sub -v` on `topics`, read line by line.
    pub fn subscribe(&self, topics: &[&str]) -> Subscriber {
        let mut cmd = Command::new("mosquitto_sub");
        cmd.args(self.client_args()).args(["-v", "-q", "1"]);
        for t in topics.iter().copied().chain(["reel-test/ready"]) {
            cmd.args(["-t", t]);
        }
        let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let (topic, payload) = line.split_once(' ').unwrap_or((&line, ""));
                if tx.send((topic.to_string(), payload.to_string())).is_err() {
                    return;
                }
            }
        });
        let sub = Subscriber {
            child,
            lines,
            backlog: RefCell::new(VecDeque::new()),
        };
        // Subscribed once our own marker comes back; retained messages that arrive first are
        // kept for `wait`.
        let deadline = Instant::now() + PATIENCE;
        loop {
            self.publish("reel-test/ready", "x", &[]);
            while let Ok(line) = sub.lines.recv_timeout(Duration::from_millis(200)) {
                if line.0 == "reel-test/ready" {
                    return sub;
                }
                sub.backlog.borrow_mut().push_back(line);
            }
            assert!(Instant::now() < deadline, "mosquitto_sub never subscribed");
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _killed = child.kill();
            let _reaped = child.wait();
            eprintln!("--- mosquitto log\n{}", self.log_text());
        }
    }
}

/// Lines from a running `mosquitto_sub -v`.
pub struct Subscriber {
    child: Child,
    lines: mpsc::Receiver<(String, String)>,
    /// Lines read before the subscription was confirmed.
    backlog: RefCell<VecDeque<(String, String)>>,
}

impl Subscriber {
    /// The next message on `topic` whose payload satisfies `want`. Earlier messages on `topic`
    /// are skipped; messages on other topics stay for later waits, since the daemon's messages
    /// on different topics may arrive in any order.
    pub fn wait(&self, topic: &str, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut other_topics = Vec::new();
        let mut backlog = std::mem::take(&mut *self.backlog.borrow_mut());
        let found = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = match backlog.pop_front() {
                Some(line) => Ok(line),
                None => self.lines.recv_timeout(left),
            };
            match next {
                Ok((t, payload)) if t == topic && want(&payload) => break Some(payload),
                Ok((t, _)) if t == topic => {}
                Ok(line) => other_topics.push(line),
                Err(_) => break None,
            }
        };
        let mut kept: VecDeque<_> = other_topics.into();
        kept.extend(backlog);
        *self.backlog.borrow_mut() = kept;
        found.unwrap_or_else(|| panic!("no message on {topic}: {what}"))
    }

    /// The next JSON message on `topic` satisfying `want`.
    pub fn wait_json(
        &self,
        topic: &str,
        what: &str,
        want: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let payload = self.wait(topic, what, |p| {
            serde_json::from_str(p).is_ok_and(|v: serde_json::Value| want(&v))
        });
        serde_json::from_str(&payload).unwrap()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}

//! A stand-in for systemd's notify socket: a Unix datagram socket in a temporary directory that
//! records every `sd_notify` message with the time it arrived. Start `reeld` with
//! `NOTIFY_SOCKET=<path>` (and `WATCHDOG_USEC`) and assert on what it said, and when.
//!
//! ```ignore
//! let socket = NotifySocket::bind();
//! let mut reeld = reeld_command();
//! reeld.env("NOTIFY_SOCKET", socket.path()).env("WATCHDOG_USEC", "2000000");
//! let ready = socket.wait_for("READY", "1", PATIENCE).expect("READY=1");
//! ```

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One datagram: `KEY=VALUE` lines, as `sd_notify(3)` sends them.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// When it was received.
    pub at: Instant,
    /// The assignments in the order sent.
    pub fields: Vec<(String, String)>,
}

impl Notification {
    fn parse(at: Instant, datagram: &[u8]) -> Notification {
        let text = String::from_utf8_lossy(datagram);
        let fields = text
            .lines()
            .filter(|line| !line.is_empty())
            .map(|line| match line.split_once('=') {
                Some((key, value)) => (key.to_string(), value.to_string()),
                None => (line.to_string(), String::new()),
            })
            .collect();
        Notification { at, fields }
    }

    /// The value of `key` in this datagram (the last one if repeated).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether it carries `key=value`.
    pub fn has(&self, key: &str, value: &str) -> bool {
        self.fields.iter().any(|(k, v)| k == key && v == value)
    }
}

#[derive(Debug, Default)]
struct Received {
    messages: Vec<Notification>,
}

/// The listening socket and the thread that records what arrives. Dropping it stops the thread
/// and removes the directory.
#[derive(Debug)]
pub struct NotifySocket {
    dir: tempfile::TempDir,
    path: PathBuf,
    received: Arc<(Mutex<Received>, Condvar)>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

/// How often the reader thread looks at its stop flag.
const READ_TICK: Duration = Duration::from_millis(50);

impl NotifySocket {
    /// Binds `notify.sock` in a fresh temporary directory and starts recording.
    pub fn bind() -> NotifySocket {
        let dir = tempfile::Builder::new()
            .prefix("reel-notify-")
            .tempdir()
            .expect("temporary directory for the notify socket");
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        socket
            .set_read_timeout(Some(READ_TICK))
            .expect("read timeout on the notify socket");
        let received = Arc::new((Mutex::new(Received::default()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let received = Arc::clone(&received);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("notify-socket".into())
                .spawn(move || read_loop(&socket, &received, &stop))
                .expect("spawn the notify socket reader")
        };
        NotifySocket {
            dir,
            path,
            received,
            stop,
            reader: Some(reader),
        }
    }

    /// The socket's path: the value for `NOTIFY_SOCKET`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory holding the socket.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every message so far, oldest first.
    pub fn messages(&self) -> Vec<Notification> {
        self.received.0.lock().unwrap().messages.clone()
    }

    /// Messages carrying `key=value`, oldest first.
    pub fn with(&self, key: &str, value: &str) -> Vec<Notification> {
        self.messages()
            .into_iter()
            .filter(|m| m.has(key, value))
            .collect()
    }

    /// `WATCHDOG=1` arrival times, oldest first.
    pub fn watchdog_pings(&self) -> Vec<Instant> {
        self.with("WATCHDOG", "1").iter().map(|m| m.at).collect()
    }

    /// Every `STATUS=` text so far, oldest first.
    pub fn statuses(&self) -> Vec<String> {
        self.messages()
            .iter()
            .filter_map(|m| m.get("STATUS").map(str::to_string))
            .collect()
    }

    /// Waits up to `timeout` for the first message (already received or yet to come) that
    /// satisfies `pred`.
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&Notification) -> bool,
    ) -> Option<Notification> {
        let deadline = Instant::now() + timeout;
        let (lock, cond) = &*self.received;
        let mut received = lock.lock().unwrap();
        loop {
            if let Some(found) = received.messages.iter().find(|m| pred(m)) {
                return Some(found.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            received = cond.wait_timeout(received, left).unwrap().0;
        }
    }

    /// Waits up to `timeout` for a message carrying `key=value`.
    pub fn wait_for(&self, key: &str, value: &str, timeout: Duration) -> Option<Notification> {
        self.wait_until(timeout, |m| m.has(key, value))
    }

    /// Waits up to `timeout` until `count` messages carrying `key=value` have arrived, and
    /// returns them.
    pub fn wait_for_count(
        &self,
        key: &str,
        value: &str,
        count: usize,
        timeout: Duration,
    ) -> Option<Vec<Notification>> {
        let deadline = Instant::now() + timeout;
        let (lock, cond) = &*self.received;
        let mut received = lock.lock().unwrap();
        loop {
            let matching: Vec<Notification> = received
                .messages
                .iter()
                .filter(|m| m.has(key, value))
                .cloned()
                .collect();
            if matching.len() >= count {
                return Some(matching);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            received = cond.wait_timeout(received, left).unwrap().0;
        }
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(reader) = self.reader.take()
            && reader.join().is_err()
            && !std::thread::panicking()
        {
            panic!("the notify socket reader thread panicked");
        }
    }
}

fn read_loop(socket: &UnixDatagram, received: &(Mutex<Received>, Condvar), stop: &AtomicBool) {
    // sd_notify messages are small; systemd itself accepts at most a page-sized datagram.
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::SeqCst) {
        match socket.recv(&mut buf) {
            Ok(len) => {
                let message = Notification::parse(Instant::now(), &buf[..len]);
                let (lock, cond) = received;
                lock.lock().unwrap().messages.push(message);
                cond.notify_all();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => panic!("notify socket: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(socket: &NotifySocket, text: &str) {
        let client = UnixDatagram::unbound().unwrap();
        client.send_to(text.as_bytes(), socket.path()).unwrap();
    }

    #[test]
    fn records_ready_status_watchdog_and_stopping_in_order() {
        let socket = NotifySocket::bind();
        send(
            &socket,
            "READY=1\nSTATUS=queue 0 | idle | engine not loaded\n",
        );
        send(&socket, "WATCHDOG=1\n");
        send(&socket, "WATCHDOG=1\n");
        send(&socket, "STOPPING=1\nSTATUS=stopping\n");

        let all = socket
            .wait_for_count("STOPPING", "1", 1, Duration::from_secs(10))
            .map(|_| socket.messages())
            .expect("STOPPING=1 arrives");
        assert_eq!(all.len(), 4);
        assert!(all[0].has("READY", "1"));
        assert_eq!(
            all[0].get("STATUS"),
            Some("queue 0 | idle | engine not loaded")
        );
        assert_eq!(socket.watchdog_pings().len(), 2);
        assert!(all.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(
            socket.statuses(),
            vec!["queue 0 | idle | engine not loaded", "stopping"]
        );
    }

    #[test]
    fn wait_for_sees_a_message_sent_later_from_another_thread() {
        let socket = NotifySocket::bind();
        let path = socket.path().to_path_buf();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            let client = UnixDatagram::unbound().unwrap();
            client.send_to(b"READY=1", &path).unwrap();
        });
        let ready = socket.wait_for("READY", "1", Duration::from_secs(10));
        sender.join().unwrap();
        assert!(ready.is_some());
    }

    #[test]
    fn wait_for_gives_up_after_the_timeout() {
        let socket = NotifySocket::bind();
        send(&socket, "STATUS=starting");
        assert!(
            socket
                .wait_for("READY", "1", Duration::from_millis(200))
                .is_none()
        );
        assert_eq!(socket.messages().len(), 1);
    }

    #[test]
    fn parses_values_with_equals_signs_and_lines_without() {
        let n = Notification::parse(Instant::now(), b"STATUS=a=b\nODD\n\n");
        assert_eq!(n.get("STATUS"), Some("a=b"));
        assert!(n.has("ODD", ""));
        assert_eq!(n.fields.len(), 2);
    }

    #[test]
    fn the_socket_goes_away_with_the_helper() {
        let socket = NotifySocket::bind();
        let dir = socket.dir().to_path_buf();
        assert!(socket.path().exists());
        drop(socket);
        assert!(!dir.exists());
    }
}

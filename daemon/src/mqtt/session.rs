//! The MQTT protocol state, without I/O: topic names and what an incoming message is, the
//! de-duplication of requests by transaction, the bounded queue kept while disconnected, and
//! the reconnect backoff. Time comes in as `now`; the I/O task in `client.rs` stays thin.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::Transaction;

/// The topics of one device.
#[derive(Debug, Clone)]
pub struct Topics {
    base: String,
    discovery_prefix: String,
    node_id: String,
}

/// What an incoming message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A request to carry out: `<base>/request/<verb>`.
    Request(String),
    /// A request the broker kept (retained): never carried out, only cleared.
    RetainedRequest(String),
    /// Home Assistant came (back) online: send discovery again.
    HomeAssistantOnline,
    /// Anything else (our own responses echoed, HA going offline).
    Ignore,
}

impl Topics {
    /// Topics under `base`; `client_id` names the device for Home Assistant.
    pub fn new(base: &str, discovery_prefix: &str, client_id: &str) -> Topics {
        let node_id = client_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Topics {
            base: base.to_string(),
            discovery_prefix: discovery_prefix.to_string(),
            node_id,
        }
    }

    /// The base topic.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The device's id in Home Assistant.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// `online` / `offline`, retained; the last will says `offline`.
    pub fn available(&self) -> String {
        format!("{}/available", self.base)
    }

    /// Retained JSON state.
    pub fn state(&self) -> String {
        format!("{}/state", self.base)
    }

    /// What reeld subscribes to for requests.
    pub fn request_filter(&self) -> String {
        format!("{}/request/+", self.base)
    }

    /// Where the request for `verb` goes.
    pub fn request(&self, verb: &str) -> String {
        format!("{}/request/{verb}", self.base)
    }

    /// Where `verb`'s answers go.
    pub fn response(&self, verb: &str) -> String {
        format!("{}/response/{verb}", self.base)
    }

    /// A job's progress events.
    pub fn job(&self, id: i64) -> String {
        format!("{}/jobs/{id}", self.base)
    }

    /// Home Assistant's birth and will topic.
    pub fn ha_status(&self) -> String {
        format!("{}/status", self.discovery_prefix)
    }

    /// The retained device discovery document.
    pub fn discovery(&self) -> String {
        format!("{}/device/{}/config", self.discovery_prefix, self.node_id)
    }

    /// Classifies a message by topic, retain flag and payload.
    pub fn classify(&self, topic: &str, retain: bool, payload: &[u8]) -> Inbound {
        if let Some(verb) = topic
            .strip_prefix(self.base.as_str())
            .and_then(|rest| rest.strip_prefix("/request/"))
            .filter(|verb| !verb.contains('/'))
        {
            return if retain {
                Inbound::RetainedRequest(verb.to_string())
            } else {
                Inbound::Request(verb.to_string())
            };
        }
        if topic == self.ha_status() && payload == b"online" {
            return Inbound::HomeAssistantOnline;
        }
        Inbound::Ignore
    }
}

/// What to do with a request carrying a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// First time: carry it out.
    New,
    /// Being carried out now: the one answer will do.
    InFlight,
    /// Carried out already: send this answer again, do not run it again.
    Answered(Value),
}

/// Remembers recent transactions per verb, bounded in count (least recently used go first) and
/// in age.
#[derive(Debug)]
pub struct Dedup {
    capacity: usize,
    ttl: Duration,
    entries: HashMap<(String, Transaction), (Instant, Option<Value>)>,
    order: VecDeque<(String, Transaction)>,
}

impl Dedup {
    /// Keeps at most `capacity` transactions, each for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Dedup {
        Dedup {
            capacity: capacity.max(1),
            ttl,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Records that `transaction` for `verb` arrived at `now`, and says what to do with it.
    pub fn begin(&mut self, verb: &str, transaction: &Transaction, now: Instant) -> Seen {
        self.expire(now);
        let key = (verb.to_string(), transaction.clone());
        if let Some((_, answer)) = self.entries.get(&key) {
            let seen = match answer {
                Some(answer) => Seen::Answered(answer.clone()),
                None => Seen::InFlight,
            };
            self.touch(&key);
            return seen;
        }
        while self.entries.len() >= self.capacity {
            match self.order.pop_front() {
                Some(oldest) => self.entries.remove(&oldest),
                None => break,
            };
        }
        self.entries.insert(key.clone(), (now, None));
        self.order.push_back(key);
        Seen::New
    }

    /// Stores the answer to a transaction begun earlier.
    pub fn finish(&mut self, verb: &str, transaction: &Transaction, answer: Value) {
        let key = (verb.to_string(), transaction.clone());
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.1 = Some(answer);
        }
    }

    /// Transactions remembered now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn touch(&mut self, key: &(String, Transaction)) {
        if let Some(at) = self.order.iter().position(|k| k == key) {
            let key = self.order.remove(at).expect("position is in range");
            self.order.push_back(key);
        }
    }

    fn expire(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.entries
            .retain(|_, (at, _)| now.saturating_duration_since(*at) < ttl);
        let entries = &self.entries;
        self.order.retain(|k| entries.contains_key(k));
    }
}

/// A message to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// QoS 1 (at least once) or 0.
    pub at_least_once: bool,
    /// Kept by the broker.
    pub retain: bool,
}

/// Messages waiting for the broker, bounded. A retained message replaces a queued one on the
/// same topic (only the latest state matters); when full, the oldest non-retained message
/// (progress, answers) goes first.
#[derive(Debug)]
pub struct Outbox {
    capacity: usize,
    queue: VecDeque<Outgoing>,
    dropped: u64,
}

impl Outbox {
    /// Holds at most `capacity` messages.
    pub fn new(capacity: usize) -> Outbox {
        Outbox {
            capacity: capacity.max(1),
            queue: VecDeque::new(),
            dropped: 0,
        }
    }

    /// Queues `message`, making room if needed.
    pub fn push(&mut self, message: Outgoing) {
        if message.retain
            && let Some(queued) = self
                .queue
                .iter_mut()
                .find(|m| m.retain && m.topic == message.topic)
        {
            *queued = message;
            return;
        }
        if self.queue.len() >= self.capacity {
            let victim = self.queue.iter().position(|m| !m.retain).unwrap_or(0);
            self.queue.remove(victim);
            self.dropped += 1;
        }
        self.queue.push_back(message);
    }

    /// Puts a message that could not be handed over back at the front.
    pub fn push_front(&mut self, message: Outgoing) {
        if self.queue.len() >= self.capacity {
            self.dropped += 1;
            return;
        }
        self.queue.push_front(message);
    }

    /// The next message to send.
    pub fn pop(&mut self) -> Option<Outgoing> {
        self.queue.pop_front()
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Messages dropped for lack of room so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Reconnect delays: doubling from `base` up to `max`, each scaled by a random factor in
/// [0.5, 1) so a fleet that lost its broker at once does not come back at once.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// A schedule from `base` to `max`.
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max,
            failures: 0,
        }
    }

    /// The delay before the next attempt, given a random number in [0, 1).
    pub fn next_delay(&mut self, random: f64) -> Duration {
        let factor = 2u32.saturating_pow(self.failures.min(20));
        let ceiling = self.base.saturating_mul(factor).min(self.max);
        self.failures = self.failures.saturating_add(1);
        ceiling.mul_f64(0.5 + random.clamp(0.0, 1.0) * 0.5)
    }

    /// Connected: start from `base` again next time.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;

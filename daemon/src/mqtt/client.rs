//! The I/O side of MQTT: a poller task that owns rumqttc's event loop for the daemon's life,
//! and a protocol task that turns incoming messages into API calls and job events into
//! publications. Decisions live in [`super::session`]; this file only moves bytes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reel_clip::{Progress, Stage};
use rumqttc::{AsyncClient, ClientError, EventLoop, QoS};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, oneshot};

use super::documents::{self, StateInputs};
use super::poller::{self, Net};
use super::session::{Dedup, Inbound, Outbox, Outgoing, Seen, Topics};
use crate::api::{self, Api, Transaction};
use crate::events::{JobEvent, ServiceHandle};
use crate::queue::JobState;

/// The state is published at most this often, and checked against the store this often when
/// nothing happens (jobs submitted with `reelctl` announce no event).
const STATE_INTERVAL: Duration = Duration::from_millis(250);
const STATE_RECHECK: Duration = Duration::from_secs(2);
/// Progress events of one job go out at most this often, except on a change of stage.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// Transactions remembered for de-duplication, and for how long.
const DEDUP_CAPACITY: usize = 1024;
const DEDUP_TTL: Duration = Duration::from_secs(600);

/// What the protocol task is told.
#[derive(Debug)]
pub(super) struct Settings {
    pub topics: Topics,
    pub queue_capacity: usize,
    pub discovery: bool,
}

/// An answer computed by a request task.
struct Answer {
    verb: String,
    transaction: Option<Transaction>,
    doc: Value,
}

struct Protocol {
    settings: Settings,
    client: AsyncClient,
    api: Arc<Api>,
    outbox: Outbox,
    dedup: Dedup,
    connected: bool,
    /// Failed attempts since the last connection.
    failures: u32,
    answers: mpsc::Sender<Answer>,
    /// The running job's latest progress, fresher than the store's throttled copy.
    live: Option<(i64, Progress)>,
    last_progress: Option<(i64, Instant, Stage)>,
    state_dirty: bool,
    last_state: Option<Value>,
}

/// Runs until `stop` fires (then says goodbye) or is dropped.
pub(super) async fn run(
    settings: Settings,
    client: AsyncClient,
    eventloop: EventLoop,
    api: Arc<Api>,
    handle: ServiceHandle,
    mut stop: oneshot::Receiver<()>,
) {
    let (net_tx, mut net) = mpsc::channel(256);
    let poller = tokio::spawn(poller::poll(eventloop, net_tx));
    let (answers, mut answered) = mpsc::channel(256);
    let mut events = handle.subscribe();
    let mut protocol = Protocol {
        outbox: Outbox::new(settings.queue_capacity),
        settings,
        client,
        api,
        dedup: Dedup::new(DEDUP_CAPACITY, DEDUP_TTL),
        connected: false,
        failures: 0,
        answers,
        live: None,
        last_progress: None,
        state_dirty: true,
        last_state: None,
    };
    let mut tick = tokio::time::interval(STATE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rechecked = Instant::now();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(report) = net.recv() => protocol.on_net(report).await,
            Some(answer) = answered.recv() => protocol.on_answer(answer),
            event = events.recv() => match event {
                Ok(event) => protocol.on_job_event(event),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "MQTT fell behind the job events");
                    protocol.state_dirty = true;
                }
                Err(RecvError::Closed) => break,
            },
            _ = tick.tick() => {
                if protocol.state_dirty || rechecked.elapsed() >= STATE_RECHECK {
                    protocol.refresh_state(false).await;
                    rechecked = Instant::now();
                }
            }
        }
        protocol.flush();
    }
    protocol.goodbye(&mut net).await;
    poller.abort();
}

impl Protocol {
    async fn on_net(&mut self, report: Net) {
        match report {
            Net::Connected => {
                tracing::info!(base = self.settings.topics.base(), "MQTT connected");
                self.connected = true;
                self.failures = 0;
                self.on_connect().await;
            }
            Net::Down(why) => {
                // Said once per outage; the retries that follow are only debug lines.
                if self.connected {
                    tracing::warn!("MQTT connection lost: {why}; reconnecting");
                } else if self.failures == 0 {
                    tracing::warn!("MQTT connection failed: {why}; retrying with backoff");
                } else {
                    tracing::debug!("MQTT connection failed again: {why}");
                }
                self.failures += 1;
                self.connected = false;
            }
            Net::Message {
                topic,
                retain,
                payload,
            } => self.on_message(&topic, retain, payload),
        }
    }

    /// Subscribes (sessions are clean) and republishes everything retained: the broker may
    /// have restarted and lost it all.
    async fn on_connect(&mut self) {
        let topics = &self.settings.topics;
        for filter in [topics.request_filter(), topics.ha_status()] {
            if let Err(e) = self.client.try_subscribe(filter, QoS::AtLeastOnce) {
                tracing::warn!("cannot subscribe: {e}");
            }
        }
        let available = message(topics.available(), b"online".to_vec(), true, true);
        self.outbox.push(available);
        if self.settings.discovery {
            self.push_discovery();
        }
        self.refresh_state(true).await;
    }

    fn on_message(&mut self, topic: &str, retain: bool, payload: Vec<u8>) {
        // An empty payload is how retained messages are deleted, ours included: never a request.
        if payload.is_empty() {
            return;
        }
        let verb = match self.settings.topics.classify(topic, retain, &payload) {
            Inbound::Request(verb) => verb,
            Inbound::RetainedRequest(_) => {
                tracing::warn!(
                    topic,
                    "ignoring a retained request (it would run on every reconnect); clearing it"
                );
                self.outbox
                    .push(message(topic.to_string(), Vec::new(), true, true));
                return;
            }
            Inbound::HomeAssistantOnline => {
                if self.settings.discovery {
                    self.push_discovery();
                }
                return;
            }
            Inbound::Ignore => return,
        };
        let envelope = api::parse(&verb, &payload);
        if let Some(t) = &envelope.transaction {
            match self.dedup.begin(&verb, t, Instant::now()) {
                Seen::New => {}
                Seen::InFlight => return,
                Seen::Answered(doc) => {
                    tracing::debug!(verb, "repeated transaction: answering again, not running");
                    self.publish_answer(&verb, doc);
                    return;
                }
            }
        }
        let (api, answers) = (self.api.clone(), self.answers.clone());
        tokio::spawn(async move {
            let response = match envelope.request {
                Ok(request) => api.handle(request).await,
                Err(e) => Err(e),
            };
            let doc = api::response_json(&response, envelope.transaction.as_ref());
            let answer = Answer {
                verb,
                transaction: envelope.transaction,
                doc,
            };
            if answers.send(answer).await.is_err() {
                tracing::debug!("MQTT stopped before a request was answered");
            }
        });
    }

    fn on_answer(&mut self, answer: Answer) {
        if let Some(t) = &answer.transaction {
            self.dedup.finish(&answer.verb, t, answer.doc.clone());
        }
        self.publish_answer(&answer.verb, answer.doc);
        // A request may have changed the queue, the prompt or the bundle.
        self.state_dirty = true;
    }

    fn publish_answer(&mut self, verb: &str, doc: Value) {
        let topic = self.settings.topics.response(verb);
        self.outbox
            .push(message(topic, doc.to_string().into_bytes(), true, false));
    }

    fn on_job_event(&mut self, event: JobEvent) {
        self.state_dirty = true;
        match &event {
            JobEvent::Started { id, .. } => self.live = Some((*id, Progress::default())),
            JobEvent::Progress { id, progress } => {
                self.live = Some((*id, *progress));
                let now = Instant::now();
                let due = self.last_progress.is_none_or(|(last, at, stage)| {
                    last != *id || stage != progress.stage || now - at >= PROGRESS_INTERVAL
                });
                if !due {
                    return;
                }
                self.last_progress = Some((*id, now, progress.stage));
            }
            JobEvent::Ended { id, .. } => {
                if self.live.is_some_and(|(live, _)| live == *id) {
                    self.live = None;
                }
            }
        }
        let (id, doc) = documents::job_event(&event);
        let topic = self.settings.topics.job(id);
        self.outbox
            .push(message(topic, doc.to_string().into_bytes(), false, false));
    }

    fn push_discovery(&mut self) {
        let doc = documents::discovery(&self.settings.topics, &self.api.bundle_choices());
        let topic = self.settings.topics.discovery();
        self.outbox
            .push(message(topic, doc.to_string().into_bytes(), true, true));
    }

    /// Rebuilds the state from the store and the live progress; queues it if it changed (or
    /// always, after a reconnect).
    async fn refresh_state(&mut self, force: bool) {
        self.state_dirty = false;
        let live = self.live;
        let found = self
            .api
            .with_store(move |store| {
                let active = store.active_summaries()?;
                let running = active.iter().find(|j| j.state == JobState::Running);
                let current = match running {
                    Some(job) => Some(store.job(job.id)?),
                    None => None,
                };
                Ok((active, current))
            })
            .await;
        let (active, current) = match found {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!("cannot read the queue for the MQTT state: {e}");
                return;
            }
        };
        let current = current.map(|job| {
            let progress = match live {
                Some((id, p)) if id == job.id => p,
                _ => job.progress,
            };
            (job.id, job.prompt, progress)
        });
        let engine_state = if self.api.is_stopping() {
            "stopping"
        } else if current.is_some() {
            "busy"
        } else {
            "idle"
        };
        let bundle = self.api.current_bundle();
        let doc = documents::state(&StateInputs {
            engine_state,
            bundle_name: bundle
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            bundle_path: bundle.display().to_string(),
            providers: self.api.settings().providers.clone(),
            queued: active
                .iter()
                .filter(|j| j.state == JobState::Queued)
                .count(),
            capacity: self.api.settings().jobs.queue_capacity,
            current,
            prompt: self.api.pending_prompt(),
        });
        if force || self.last_state.as_ref() != Some(&doc) {
            let topic = self.settings.topics.state();
            self.outbox
                .push(message(topic, doc.to_string().into_bytes(), true, true));
            self.last_state = Some(doc);
        }
    }

    /// Hands queued messages to rumqttc while connected. Messages handed over while the link
    /// is down would be lost with the old session, so they wait here instead.
    fn flush(&mut self) {
        while self.connected {
            let Some(m) = self.outbox.pop() else { return };
            let qos = if m.at_least_once {
                QoS::AtLeastOnce
            } else {
                QoS::AtMostOnce
            };
            match self
                .client
                .try_publish(m.topic.clone(), qos, m.retain, m.payload.clone())
            {
                Ok(()) => {}
                Err(ClientError::TryRequest(_) | ClientError::Request(_)) => {
                    // rumqttc's channel is full: try again on the next turn of the loop.
                    self.outbox.push_front(m);
                    return;
                }
            }
        }
    }

    /// Says `offline` and disconnects, so the broker does not need the last will.
    async fn goodbye(&mut self, net: &mut mpsc::Receiver<Net>) {
        if !self.connected {
            return;
        }
        let topic = self.settings.topics.available();
        let sent = self
            .client
            .publish(topic, QoS::AtLeastOnce, true, "offline")
            .await
            .and(self.client.disconnect().await);
        if let Err(e) = sent {
            tracing::warn!("cannot say goodbye to the broker: {e}");
            return;
        }
        // The poller reports an error once the DISCONNECT is on the wire.
        let drained = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(report) = net.recv().await {
                if matches!(report, Net::Down(_)) {
                    return;
                }
            }
        });
        if drained.await.is_err() {
            tracing::warn!("the broker did not see our goodbye in time");
        }
        tracing::info!("MQTT disconnected");
    }
}

fn message(topic: String, payload: Vec<u8>, at_least_once: bool, retain: bool) -> Outgoing {
    Outgoing {
        topic,
        payload,
        at_least_once,
        retain,
    }
}

//! The poller: the one task that owns rumqttc's event loop for the daemon's life and reports
//! what matters to the protocol task in `client.rs`.

use std::time::Duration;

use rumqttc::{Event, EventLoop, Packet};
use tokio::sync::mpsc;

use super::session::Backoff;

/// What the poller reports.
pub(super) enum Net {
    Connected,
    Down(String),
    Message {
        topic: String,
        retain: bool,
        payload: Vec<u8>,
    },
}

/// Owns the event loop: polling again after an error is what reconnects, after a jittered
/// backoff so a fleet does not hammer a broker that just came back.
pub(super) async fn poll(mut eventloop: EventLoop, net: mpsc::Sender<Net>) {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(30));
    loop {
        let report = match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff.reset();
                Net::Connected
            }
            Ok(Event::Incoming(Packet::Publish(p))) => Net::Message {
                topic: p.topic,
                retain: p.retain,
                payload: p.payload.to_vec(),
            },
            Ok(_) => continue,
            Err(e) => {
                let delay = backoff.next_delay(fastrand::f64());
                if net.send(Net::Down(e.to_string())).await.is_err() {
                    return;
                }
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        if net.send(report).await.is_err() {
            return;
        }
    }
}

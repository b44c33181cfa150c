//! MQTT request → response latency at a fixed request rate: publishes `<base>/request/<verb>`
//! with a numbered transaction every 1/rate seconds and times each until its answer arrives on
//! `<base>/response/<verb>`. Run by `scripts/bench-mqtt`, which starts mosquitto and reeld; by
//! hand:
//!
//! ```sh
//! cargo run --release --example bench_mqtt -- --port 1883 --base reel/bench --rate 100 --seconds 10 --verb health
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn number(name: &str, default: &str) -> u64 {
    let value = arg(name, default);
    value
        .parse()
        .unwrap_or_else(|_| panic!("{name} takes a number, got {value}"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = number("--port", "1883") as u16;
    let base = arg("--base", "reel/bench");
    let verb = arg("--verb", "health");
    let rate = number("--rate", "100");
    let seconds = number("--seconds", "10");
    let mut options = MqttOptions::new("reel-bench", "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(options, 1024);
    eventloop.network_options.set_tcp_nodelay(true);
    client
        .subscribe(format!("{base}/response/{verb}"), QoS::AtMostOnce)
        .await?;
    // Subscribed once the broker says so.
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = eventloop.poll().await? {
            break;
        }
    }
    let total = rate * seconds;
    let mut sent: HashMap<u64, Instant> = HashMap::new();
    let mut latencies = Vec::with_capacity(total as usize);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let mut next = 0u64;
    let topic = format!("{base}/request/{verb}");
    let deadline = tokio::time::sleep(Duration::from_secs(seconds + 5));
    tokio::pin!(deadline);
    while (latencies.len() as u64) < total {
        tokio::select! {
            _ = tick.tick(), if next < total => {
                let payload = format!("{{\"transaction\":{next}}}");
                sent.insert(next, Instant::now());
                client.try_publish(topic.clone(), QoS::AtMostOnce, false, payload)?;
                next += 1;
            }
            event = eventloop.poll() => {
                if let Event::Incoming(Packet::Publish(p)) = event? {
                    let doc: serde_json::Value = serde_json::from_slice(&p.payload)?;
                    let at = doc["transaction"].as_u64().and_then(|t| sent.remove(&t));
                    if let Some(at) = at {
                        latencies.push(at.elapsed());
                    }
                }
            }
            () = &mut deadline => break,
        }
    }
    latencies.sort();
    if latencies.is_empty() {
        return Err("no answers".into());
    }
    println!(
        "{verb} at {rate}/s for {seconds} s: {} answered, {} missing; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        total - latencies.len() as u64,
        percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&latencies, 99.0).as_secs_f64() * 1e3,
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    );
    Ok(())
}

//! `Generate` acknowledgement latency: N clients, each on its own bus connection, call
//! `Generate` M times in a row and time each call from send to reply (the job queued, not run).
//! Run by `scripts/bench-dbus`, which starts a private bus and reeld; by hand:
//!
//! ```sh
//! DBUS_SESSION_BUS_ADDRESS=... cargo run --release --example bench_dbus -- --clients 50 --calls 20
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reel_daemon::dbus::ManagerProxy;
use zbus::OwnedVariant;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, got {v}"))
        })
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn client(id: usize, calls: usize) -> zbus::Result<Vec<Duration>> {
    let connection = zbus::Connection::session().await?;
    let manager = ManagerProxy::new(&connection).await?;
    let mut options = HashMap::new();
    options.insert("seconds".to_string(), OwnedVariant::from(1.0));
    let mut latencies = Vec::with_capacity(calls);
    for call in 0..calls {
        let started = Instant::now();
        manager
            .generate(
                format!("client {id} call {call}: a ball bounces"),
                options.clone(),
            )
            .await
            .map_err(|e| zbus::Error::Failure(e.to_string()))?;
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}

#[tokio::main]
async fn main() -> zbus::Result<()> {
    let clients = arg("--clients", 1);
    let calls = arg("--calls", 200);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|id| tokio::spawn(client(id, calls)))
        .collect();
    let mut all = Vec::with_capacity(clients * calls);
    for task in tasks {
        all.extend(
            task.await
                .map_err(|e| zbus::Error::Failure(e.to_string()))??,
        );
    }
    let wall = started.elapsed();
    all.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "clients={clients} calls={} p50={:.2}ms p99={:.2}ms max={:.2}ms throughput={:.0}/s",
        all.len(),
        ms(percentile(&all, 50.0)),
        ms(percentile(&all, 99.0)),
        ms(*all.last().unwrap_or(&Duration::ZERO)),
        all.len() as f64 / wall.as_secs_f64()
    );
    Ok(())
}

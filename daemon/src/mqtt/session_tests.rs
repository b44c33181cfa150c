use serde_json::json;

use super::*;

fn msg(topic: &str, retain: bool) -> Outgoing {
    Outgoing {
        topic: topic.into(),
        payload: topic.as_bytes().to_vec(),
        at_least_once: true,
        retain,
    }
}

#[test]
fn topics_classify_requests_retained_requests_and_ha_birth() {
    let t = Topics::new("reel/abc", "homeassistant", "reel-abc");
    assert_eq!(
        t.classify("reel/abc/request/generate", false, b"{}"),
        Inbound::Request("generate".into())
    );
    assert_eq!(
        t.classify("reel/abc/request/generate", true, b"{}"),
        Inbound::RetainedRequest("generate".into())
    );
    assert_eq!(
        t.classify("reel/abc/request/a/b", false, b""),
        Inbound::Ignore
    );
    assert_eq!(
        t.classify("reel/abcd/request/x", false, b""),
        Inbound::Ignore
    );
    assert_eq!(
        t.classify("reel/abc/response/generate", false, b""),
        Inbound::Ignore
    );
    assert_eq!(
        t.classify("homeassistant/status", false, b"online"),
        Inbound::HomeAssistantOnline
    );
    assert_eq!(
        t.classify("homeassistant/status", true, b"offline"),
        Inbound::Ignore
    );
    assert_eq!(t.discovery(), "homeassistant/device/reel-abc/config");
    assert_eq!(Topics::new("b", "ha", "reel/x y").node_id(), "reel_x_y");
}

#[test]
fn a_transaction_runs_once_and_its_answer_is_repeated() {
    let now = Instant::now();
    let mut dedup = Dedup::new(2, Duration::from_secs(60));
    let t = Transaction::Number(1);
    assert_eq!(dedup.begin("generate", &t, now), Seen::New);
    assert_eq!(dedup.begin("generate", &t, now), Seen::InFlight);
    // The same transaction on another verb is another request.
    assert_eq!(dedup.begin("cancel", &t, now), Seen::New);
    dedup.finish("generate", &t, json!({"status": "ok"}));
    assert_eq!(
        dedup.begin("generate", &t, now),
        Seen::Answered(json!({"status": "ok"}))
    );
    // Past the TTL it is forgotten.
    let later = now + Duration::from_secs(61);
    assert_eq!(dedup.begin("generate", &t, later), Seen::New);
}

#[test]
fn dedup_is_bounded_and_forgets_the_least_recently_used() {
    let now = Instant::now();
    let mut dedup = Dedup::new(2, Duration::from_secs(60));
    let (a, b, c) = (
        Transaction::Text("a".into()),
        Transaction::Text("b".into()),
        Transaction::Text("c".into()),
    );
    dedup.begin("v", &a, now);
    dedup.begin("v", &b, now);
    dedup.begin("v", &a, now); // a is now the most recent
    dedup.begin("v", &c, now); // b goes
    assert_eq!(dedup.len(), 2);
    assert_eq!(dedup.begin("v", &a, now), Seen::InFlight);
    assert_eq!(dedup.begin("v", &b, now), Seen::New);
}

#[test]
fn outbox_is_bounded_keeps_latest_state_and_drops_progress_first() {
    let mut outbox = Outbox::new(3);
    outbox.push(msg("state", true));
    outbox.push(msg("jobs/1", false));
    outbox.push(msg("jobs/2", false));
    let mut newer = msg("state", true);
    newer.payload = b"newer".to_vec();
    outbox.push(newer);
    assert_eq!(outbox.len(), 3, "a retained topic is coalesced");
    outbox.push(msg("available", true));
    assert_eq!(outbox.dropped(), 1);
    let topics: Vec<String> = std::iter::from_fn(|| outbox.pop())
        .map(|m| m.topic)
        .collect();
    assert_eq!(topics, ["state", "jobs/2", "available"]);
    let mut outbox = Outbox::new(1);
    outbox.push(msg("a", false));
    outbox.push_front(msg("b", false));
    assert_eq!((outbox.len(), outbox.dropped()), (1, 1));
}

#[test]
fn backoff_doubles_with_jitter_up_to_the_ceiling_and_resets() {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
    assert_eq!(backoff.next_delay(0.0), Duration::from_millis(50));
    assert_eq!(backoff.next_delay(0.0), Duration::from_millis(100));
    let third = backoff.next_delay(0.999);
    assert!(third > Duration::from_millis(390) && third < Duration::from_millis(400));
    for _ in 0..30 {
        assert!(backoff.next_delay(0.999) <= Duration::from_secs(2));
    }
    backoff.reset();
    assert_eq!(backoff.next_delay(1.0), Duration::from_millis(100));
}

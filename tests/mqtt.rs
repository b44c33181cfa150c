//! The MQTT API against a real mosquitto, with `mosquitto_pub` / `mosquitto_sub` as independent
//! clients: every verb, the last will, a broker restart mid-job, retained commands, malformed
//! payloads, TLS with a password and client certificates.

mod common;

use std::process::Command;

use common::broker::{Broker, Subscriber};
use common::{Setup, slow_bundle, tiny_bundle};
use serde_json::{Value, json};

const BASE: &str = "reel/test";

fn topic(rest: &str) -> String {
    format!("{BASE}/{rest}")
}

fn mqtt_section(broker: &Broker, extra: &str) -> String {
    let mut section = format!(
        "[mqtt]\nenabled = true\nurl = {:?}\nbase_topic = {BASE:?}\nclient_id = \"reel-test\"\nkeepalive_secs = 5\n",
        broker.url()
    );
    if let Some(pki) = &broker.pki {
        section.push_str(&format!(
            "ca_file = {:?}\ncert_file = {:?}\nkey_file = {:?}\n",
            pki.ca, pki.client_cert, pki.client_key
        ));
    }
    section.push_str(extra);
    section
}

fn setup(broker: &Broker, extra: &str) -> Setup {
    Setup::with_sections("", &mqtt_section(broker, extra))
}

/// Sends `payload` to `verb` and waits for the answer with the same transaction.
fn request(broker: &Broker, sub: &Subscriber, verb: &str, payload: Value) -> Value {
    let transaction = payload["transaction"].clone();
    assert!(
        !transaction.is_null(),
        "give every test request a transaction"
    );
    broker.publish(
        &topic(&format!("request/{verb}")),
        &payload.to_string(),
        &[],
    );
    sub.wait_json(&topic(&format!("response/{verb}")), verb, |v| {
        v["transaction"] == transaction
    })
}

fn wait_online(sub: &Subscriber) {
    sub.wait(&topic("available"), "online", |p| p == "online");
}

#[test]
fn every_verb_round_trips_and_state_and_discovery_are_retained() {
    let broker = Broker::start();
    let setup = setup(&broker, "");
    let _reeld = setup.start_reeld();
    let sub = broker.subscribe(&[&format!("{BASE}/#"), "homeassistant/device/+/config"]);
    wait_online(&sub);
    let discovery = sub.wait_json("homeassistant/device/reel-test/config", "discovery", |_| {
        true
    });
    assert_eq!(discovery["cmps"]["generate"]["p"], "button");
    assert!(
        discovery["cmps"]["bundle"]["options"]
            .as_array()
            .unwrap()
            .contains(&json!("tiny-random"))
    );
    sub.wait_json(&topic("state"), "state", |v| v["engine"]["state"] == "idle");

    let health = request(&broker, &sub, "health", json!({"transaction": 1}));
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["data"]["version"], env!("CARGO_PKG_VERSION"));

    let selected = request(
        &broker,
        &sub,
        "bundle",
        json!({"name": "tiny-random", "transaction": 2}),
    );
    assert_eq!(selected["data"]["name"], "tiny-random", "{selected}");
    let refused = request(
        &broker,
        &sub,
        "bundle",
        json!({"name": "nope", "transaction": 3}),
    );
    assert_eq!(
        (refused["status"].as_str(), refused["field"].as_str()),
        (Some("error"), Some("name"))
    );

    let generated = request(
        &broker,
        &sub,
        "generate",
        json!({"prompt": "a red ball bounces", "seconds": 1, "seed": 3, "transaction": "g1"}),
    );
    assert_eq!(generated["status"], "ok", "{generated}");
    let id = generated["data"]["id"].as_i64().unwrap();
    let ended = sub.wait_json(&topic(&format!("jobs/{id}")), "job ended", |v| {
        v["event"] == "ended"
    });
    assert_eq!(ended["state"], "succeeded", "{ended}");

    let job = request(&broker, &sub, "jobs", json!({"id": id, "transaction": 4}));
    assert_eq!(job["data"]["state"], "succeeded");
    let list = request(&broker, &sub, "jobs", json!({"limit": 5, "transaction": 5}));
    assert_eq!(list["data"]["jobs"][0]["id"], id);
    let cancel = request(&broker, &sub, "cancel", json!({"id": id, "transaction": 6}));
    assert_eq!(cancel["data"]["outcome"], "already_finished", "{cancel}");
    let missing = request(
        &broker,
        &sub,
        "cancel",
        json!({"id": 999, "transaction": 7}),
    );
    assert_eq!(
        (missing["code"].as_str(), missing["field"].as_str()),
        (Some("not_found"), Some("id"))
    );

    // Home Assistant's way: a prompt from the text entity, then the button's empty object.
    let prompt = request(
        &broker,
        &sub,
        "prompt",
        json!({"prompt": "a cork floats", "transaction": 8}),
    );
    assert_eq!(prompt["status"], "ok");
    sub.wait_json(&topic("state"), "state with the prompt", |v| {
        v["prompt"] == "a cork floats"
    });
    let pressed = request(
        &broker,
        &sub,
        "generate",
        json!({"seconds": 1, "transaction": 9}),
    );
    assert_eq!(pressed["data"]["prompt"], "a cork floats", "{pressed}");

    for (n, verb) in ["post", "unpost", "playout", "feed"]
        .into_iter()
        .enumerate()
    {
        let answer = request(
            &broker,
            &sub,
            verb,
            json!({"loop": true, "transaction": 100 + n}),
        );
        assert_eq!(answer["code"], "not_supported", "{answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{verb} is not supported yet"))
        );
    }
}

#[test]
fn the_last_will_says_offline_when_reeld_is_killed() {
    let broker = Broker::start();
    let setup = setup(&broker, "");
    let reeld = setup.start_reeld();
    let sub = broker.subscribe(&[&topic("available")]);
    wait_online(&sub);
    reeld.kill_hard();
    sub.wait(&topic("available"), "offline after SIGKILL", |p| {
        p == "offline"
    });
}

#[test]
fn a_broker_restart_mid_job_is_survived_and_nothing_runs_twice() {
    let mut broker = Broker::start();
    let setup = setup(&broker, "");
    let slow = slow_bundle(setup.dir.path(), 400);
    let _reeld = setup.start_reeld();
    let sub = broker.subscribe(&[&format!("{BASE}/#")]);
    wait_online(&sub);
    let selected = request(
        &broker,
        &sub,
        "bundle",
        json!({"path": slow, "transaction": 1}),
    );
    assert_eq!(selected["status"], "ok", "{selected}");
    let generate = json!({"prompt": "a slow ball", "seconds": 4, "seed": 1, "transaction": "once"});
    let first = request(&broker, &sub, "generate", generate.clone());
    let id = first["data"]["id"].as_i64().unwrap();
    sub.wait_json(&topic(&format!("jobs/{id}")), "job started", |v| {
        v["event"] == "progress"
    });
    drop(sub);
    broker.kill();
    broker.restart();
    // The new broker knows nothing: what it has, reeld republished.
    let sub = broker.subscribe(&[&format!("{BASE}/#")]);
    wait_online(&sub);
    sub.wait_json(&topic("state"), "state republished", |v| {
        v["version"].is_string()
    });
    let job = setup.wait_for(id, "finished", |j| j.state.is_terminal());
    assert_eq!(job.state.as_str(), "succeeded", "{job:?}");
    assert_eq!(job.attempts, 1);
    // The client, unsure whether its request arrived, sends it again.
    let again = request(&broker, &sub, "generate", generate);
    assert_eq!(again["data"]["id"], id, "answered from memory: {again}");
    let store = reel_daemon::store::Store::open(&setup.state_dir().join("reel.db")).unwrap();
    assert_eq!(store.list_jobs(10).unwrap().len(), 1, "the job ran once");
}

#[test]
fn a_retained_command_is_never_run() {
    let broker = Broker::start();
    broker.publish(
        &topic("request/generate"),
        &json!({"prompt": "retained", "transaction": 99}).to_string(),
        &["-r"],
    );
    let setup = setup(&broker, "");
    let _reeld = setup.start_reeld();
    let sub = broker.subscribe(&[&format!("{BASE}/#")]);
    wait_online(&sub);
    // Requests are taken in order, so once health is answered the retained one was seen.
    let health = request(&broker, &sub, "health", json!({"transaction": 1}));
    assert_eq!(health["data"]["queue"], 0, "{health}");
    let store = reel_daemon::store::Store::open(&setup.state_dir().join("reel.db")).unwrap();
    assert!(store.list_jobs(10).unwrap().is_empty());
    // reeld cleared it, so no later subscriber gets it either.
    let out = Command::new("mosquitto_sub")
        .args(broker.client_args())
        .args([
            "-t",
            &topic("request/generate"),
            "--retained-only",
            "-W",
            "2",
        ])
        .output()
        .unwrap();
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn malformed_payloads_are_answered_with_errors_naming_the_field() {
    let broker = Broker::start();
    let setup = setup(&broker, "");
    let _reeld = setup.start_reeld();
    let sub = broker.subscribe(&[&format!("{BASE}/#")]);
    wait_online(&sub);
    let huge = setup.dir.path().join("huge.json");
    std::fs::write(&huge, format!("{{\"prompt\":\"{}\"}}", "a".repeat(1 << 20))).unwrap();
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let cases: [(&str, &[&str], &str); 6] = [
        ("not json at all", &[], "payload"),
        ("{\"seconds\": \"four\"}", &[], "seconds"),
        ("{\"prompt\": 42}", &[], "prompt"),
        ("{\"transaction\": {\"a\": 1}}", &[], "transaction"),
        (&deep, &[], "payload"),
        ("", &["-f", huge.to_str().unwrap()], "payload"),
    ];
    for (payload, extra, field) in cases {
        broker.publish(&topic("request/generate"), payload, extra);
        let answer = sub.wait_json(&topic("response/generate"), field, |_| true);
        assert_eq!(answer["status"], "error", "{answer}");
        assert_eq!(answer["field"], field, "{answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains(&format!("`{field}`"))
        );
    }
    broker.publish(&topic("request/launch"), "{}", &[]);
    let answer = sub.wait_json(&topic("response/launch"), "unknown verb", |_| true);
    assert_eq!(answer["code"], "unknown_verb");
    // Still alive and well.
    assert_eq!(
        request(&broker, &sub, "health", json!({"transaction": 1}))["status"],
        "ok"
    );
}

#[test]
fn tls_with_password_works_and_wrong_password_or_plain_tcp_is_refused() {
    let broker = Broker::start_secure();
    let password = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(password.path(), format!("{}\n", common::broker::PASSWORD)).unwrap();
    let extra = format!(
        "username = {:?}\npassword_file = {:?}\n",
        common::broker::USER,
        password.path()
    );
    let setup = setup(&broker, &extra);
    let _reeld = setup.start_reeld();
    let sub = broker.subscribe(&[&format!("{BASE}/#")]);
    wait_online(&sub);
    assert_eq!(
        request(&broker, &sub, "health", json!({"transaction": 1}))["status"],
        "ok"
    );

    // mosquitto_sub with a wrong password, and without TLS, is turned away.
    let mut wrong = broker.client_args();
    let at = wrong.iter().position(|a| a == "-P").unwrap();
    wrong[at + 1] = "wrong".into();
    let plain = ["-h", "127.0.0.1", "-p", &broker.port.to_string()].map(String::from);
    for args in [wrong, plain.to_vec()] {
        let out = Command::new("mosquitto_sub")
            .args(&args)
            .args(["-t", "x", "-C", "1", "-W", "5"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} connected");
    }

    // reeld with a wrong password, or speaking plain MQTT to the TLS port, never comes online.
    std::fs::write(password.path(), "wrong\n").unwrap();
    let bad = setup_with_url(&broker, &extra, None);
    let plain = setup_with_url(
        &broker,
        "",
        Some(format!("mqtt://127.0.0.1:{}", broker.port)),
    );
    let (bad_reeld, plain_reeld) = (bad.start_reeld(), plain.start_reeld());
    for (reeld, what) in [(&bad_reeld, "NotAuthorized"), (&plain_reeld, "connection")] {
        let deadline = std::time::Instant::now() + common::PATIENCE;
        while !reeld.log_text().contains("MQTT connection failed") {
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: no failure logged"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(
            !reeld.log_text().contains("MQTT connected"),
            "{}",
            reeld.log_text()
        );
    }
    assert!(
        bad_reeld.log_text().contains("NotAuthorized"),
        "{}",
        bad_reeld.log_text()
    );
}

/// Another reeld on the same broker, with its own client id and optionally another URL.
fn setup_with_url(broker: &Broker, extra: &str, url: Option<String>) -> Setup {
    let mut section =
        mqtt_section(broker, extra).replace("reel-test", &format!("reel-test-{}", url.is_some()));
    if let Some(url) = url {
        section = section.replace(&broker.url(), &url);
        section = section
            .lines()
            .filter(|l| {
                !l.ends_with("file = \"\"")
                    && !l.starts_with("ca_file")
                    && !l.starts_with("cert_file")
                    && !l.starts_with("key_file")
            })
            .collect::<Vec<_>>()
            .join("\n");
        section.push('\n');
    }
    section = section.replace(
        &format!("base_topic = {BASE:?}"),
        "base_topic = \"reel/other\"",
    );
    let setup = Setup::with_sections("", &section);
    assert!(tiny_bundle().exists());
    setup
}

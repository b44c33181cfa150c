//! The JSON documents reeld publishes: the retained state, job events and Home Assistant's
//! device discovery. Pure functions of their inputs.

use reel_clip::Progress;
use serde_json::{Value, json};

use super::session::Topics;
use crate::events::JobEvent;

/// What the retained state is built from.
#[derive(Debug, Clone)]
pub struct StateInputs {
    /// `idle`, `busy` or `stopping`.
    pub engine_state: &'static str,
    /// Name of the bundle later jobs get.
    pub bundle_name: String,
    /// Its directory.
    pub bundle_path: String,
    /// Configured execution providers.
    pub providers: Vec<String>,
    /// Jobs queued (not running).
    pub queued: usize,
    /// `jobs.queue_capacity`.
    pub capacity: u32,
    /// The running job: id, prompt, and its latest progress.
    pub current: Option<(i64, String, Progress)>,
    /// The prompt set with `prompt`.
    pub prompt: String,
}

/// `<base>/state`.
pub fn state(inputs: &StateInputs) -> Value {
    let current = inputs.current.as_ref().map(|(id, prompt, p)| {
        json!({
            "id": id,
            "prompt": prompt,
            "stage": p.stage.as_str(),
            "progress": p.fraction,
            "step": p.step,
            "steps": p.steps,
        })
    });
    let running = usize::from(inputs.current.is_some());
    json!({
        "engine": {"state": inputs.engine_state},
        "bundle": {"name": inputs.bundle_name, "path": inputs.bundle_path},
        "providers": inputs.providers,
        "queue": {
            "length": inputs.queued + running,
            "queued": inputs.queued,
            "capacity": inputs.capacity,
        },
        "current_job": current,
        "progress": inputs.current.as_ref().map_or(0.0, |(_, _, p)| (p.fraction * 1000.0).round() / 10.0),
        "prompt": inputs.prompt,
        // Playout is not wired into reeld yet (#5): reported, not controllable.
        "playout": {"loop": false, "supported": false},
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// `<base>/jobs/<id>`: one event.
pub fn job_event(event: &JobEvent) -> (i64, Value) {
    match event {
        JobEvent::Started { id, attempt } => (
            *id,
            json!({"id": id, "event": "started", "state": "running", "attempt": attempt}),
        ),
        JobEvent::Progress { id, progress } => (
            *id,
            json!({
                "id": id,
                "event": "progress",
                "state": "running",
                "stage": progress.stage.as_str(),
                "progress": progress.fraction,
                "step": progress.step,
                "steps": progress.steps,
            }),
        ),
        JobEvent::Ended {
            id,
            state,
            error,
            output,
        } => (
            *id,
            json!({
                "id": id,
                "event": "ended",
                "state": state.as_str(),
                "error": error,
                "output": output,
            }),
        ),
    }
}

/// Home Assistant device discovery: one retained document for the device and its entities.
pub fn discovery(topics: &Topics, bundles: &[String]) -> Value {
    let node = topics.node_id();
    let request = |verb: &str| topics.request(verb);
    let id = |what: &str| format!("{node}_{what}");
    json!({
        "dev": {
            "ids": [node],
            "name": format!("Reel {node}"),
            "mf": "Reel",
            "mdl": "Reel edge appliance",
            "sw": env!("CARGO_PKG_VERSION"),
        },
        "o": {"name": "reeld", "sw": env!("CARGO_PKG_VERSION")},
        "state_topic": topics.state(),
        "availability_topic": topics.available(),
        "payload_available": "online",
        "payload_not_available": "offline",
        "qos": 1,
        "cmps": {
            "prompt": {
                "p": "text",
                "unique_id": id("prompt"),
                "name": "Prompt",
                "command_topic": request("prompt"),
                "command_template": "{\"prompt\": {{ value | tojson }}}",
                "value_template": "{{ value_json.prompt }}",
                "max": 255,
            },
            "generate": {
                "p": "button",
                "unique_id": id("generate"),
                "name": "Generate",
                "command_topic": request("generate"),
                "payload_press": "{}",
            },
            "state": {
                "p": "sensor",
                "unique_id": id("state"),
                "name": "State",
                "value_template": "{{ value_json.engine.state }}",
            },
            "progress": {
                "p": "sensor",
                "unique_id": id("progress"),
                "name": "Progress",
                "unit_of_measurement": "%",
                "value_template": "{{ value_json.progress }}",
            },
            "queue": {
                "p": "sensor",
                "unique_id": id("queue"),
                "name": "Queue",
                "value_template": "{{ value_json.queue.length }}",
            },
            "attract_loop": {
                "p": "switch",
                "unique_id": id("attract_loop"),
                "name": "Attract loop",
                "command_topic": request("playout"),
                "payload_on": "{\"loop\": true}",
                "payload_off": "{\"loop\": false}",
                "state_on": "ON",
                "state_off": "OFF",
                "value_template": "{{ 'ON' if value_json.playout.loop else 'OFF' }}",
            },
            "bundle": {
                "p": "select",
                "unique_id": id("bundle"),
                "name": "Bundle",
                "command_topic": request("bundle"),
                "command_template": "{\"name\": {{ value | tojson }}}",
                "value_template": "{{ value_json.bundle.name }}",
                "options": bundles,
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use reel_clip::Stage;

    use super::*;
    use crate::queue::JobState;

    #[test]
    fn discovery_has_the_device_and_every_entity() {
        let topics = Topics::new("reel/x", "homeassistant", "reel-x");
        let doc = discovery(&topics, &["tiny-random".into()]);
        assert_eq!(doc["dev"]["ids"][0], "reel-x");
        assert_eq!(doc["state_topic"], "reel/x/state");
        let platforms: Vec<&str> = doc["cmps"]
            .as_object()
            .unwrap()
            .values()
            .map(|c| c["p"].as_str().unwrap())
            .collect();
        for p in ["text", "button", "sensor", "switch", "select"] {
            assert!(platforms.contains(&p), "{p}");
        }
        assert_eq!(doc["cmps"]["bundle"]["options"][0], "tiny-random");
    }

    #[test]
    fn state_and_events_carry_progress() {
        let progress = Progress {
            stage: Stage::Denoising,
            step: 2,
            steps: 8,
            fraction: 0.4567,
        };
        let doc = state(&StateInputs {
            engine_state: "busy",
            bundle_name: "tiny".into(),
            bundle_path: "/b/tiny".into(),
            providers: vec!["cpu".into()],
            queued: 2,
            capacity: 16,
            current: Some((3, "a ball".into(), progress)),
            prompt: String::new(),
        });
        assert_eq!(doc["queue"]["length"], 3);
        assert_eq!(doc["current_job"]["stage"], "denoising");
        assert_eq!(doc["progress"], 45.7);
        let (id, event) = job_event(&JobEvent::Ended {
            id: 3,
            state: JobState::Succeeded,
            error: None,
            output: Some("/m/job-3.mp4".into()),
        });
        assert_eq!((id, &event["state"]), (3, &json!("succeeded")));
    }
}

//! Requests of the remote API, parsed from JSON without I/O. The same schema serves MQTT
//! (`<base>/request/<verb>`) and, later, the kiosk page's WebSocket (#11). Every refusal names
//! the field, so a client can fix the request without reading our code; the parser is fuzzed
//! (`tests/fuzz.rs`).

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::fields::{
    invalid, job_id, kind, nesting_depth, optional, required, seconds, string, truncate, unsigned,
};
use super::{ApiError, ErrorCode};

/// Payloads above this are refused before they are parsed.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// Deepest nesting of arrays and objects accepted; none of our requests needs more than 2.
pub const MAX_DEPTH: usize = 16;
/// Longest textual transaction id.
pub const MAX_TRANSACTION_CHARS: usize = 128;
/// Most jobs one `jobs` request lists.
pub const MAX_JOBS_LIMIT: u64 = 100;
/// Longest bundle name or path.
const MAX_BUNDLE_CHARS: usize = 4096;

/// What a request asks for; the topic (or WebSocket message) names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// Queue a clip.
    Generate,
    /// Remember a prompt for a later `generate` without one (Home Assistant's text entity).
    Prompt,
    /// Cancel a job.
    Cancel,
    /// List jobs, or show one.
    Jobs,
    /// Publish a clip to the studio feed (#8).
    Post,
    /// Withdraw a posted clip (#8).
    Unpost,
    /// Attract loop, playlist, show a clip (#5).
    Playout,
    /// Feed preferences (#8).
    Feed,
    /// Select the bundle for later jobs.
    Bundle,
    /// Liveness and versions.
    Health,
}

impl Verb {
    /// Every verb, in documentation order.
    pub const ALL: [Verb; 10] = [
        Verb::Generate,
        Verb::Prompt,
        Verb::Cancel,
        Verb::Jobs,
        Verb::Post,
        Verb::Unpost,
        Verb::Playout,
        Verb::Feed,
        Verb::Bundle,
        Verb::Health,
    ];

    /// The verb's name in topics and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Generate => "generate",
            Verb::Prompt => "prompt",
            Verb::Cancel => "cancel",
            Verb::Jobs => "jobs",
            Verb::Post => "post",
            Verb::Unpost => "unpost",
            Verb::Playout => "playout",
            Verb::Feed => "feed",
            Verb::Bundle => "bundle",
            Verb::Health => "health",
        }
    }

    /// The verb named `name`, if any.
    pub fn parse(name: &str) -> Option<Verb> {
        Verb::ALL.into_iter().find(|v| v.as_str() == name)
    }
}

/// The client's id for a request, echoed in the answer and used to de-duplicate redeliveries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Transaction {
    /// `"transaction": 23`
    Number(i64),
    /// `"transaction": "a1"`
    Text(String),
}

impl Transaction {
    /// As it goes back into a response.
    pub fn to_json(&self) -> Value {
        match self {
            Transaction::Number(n) => Value::from(*n),
            Transaction::Text(s) => Value::from(s.as_str()),
        }
    }
}

/// Which bundle `bundle` selects.
#[derive(Debug, Clone, PartialEq)]
pub enum BundleTarget {
    /// A folder name beside the configured default bundle (Home Assistant's select sends these).
    Name(String),
    /// An absolute directory.
    Path(PathBuf),
}

/// A validated request.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Queue a clip; without a prompt, the one set with `prompt` is used.
    Generate {
        /// What to show.
        prompt: Option<String>,
        /// Clip length; `None` means the bundle's default.
        seconds: Option<f64>,
        /// Noise seed; `None` means a random one.
        seed: Option<u64>,
    },
    /// Remember a prompt.
    Prompt {
        /// The prompt (may be empty: clears it).
        prompt: String,
    },
    /// Cancel job `id`.
    Cancel {
        /// The job.
        id: i64,
    },
    /// The newest `limit` jobs, or job `id` alone.
    Jobs {
        /// How many.
        limit: u32,
        /// One job only.
        id: Option<i64>,
    },
    /// Liveness and versions.
    Health,
    /// Select the bundle for later jobs.
    Bundle {
        /// Which one.
        target: BundleTarget,
    },
    /// A verb whose feature is not built yet.
    NotYet(Verb),
}

/// A parsed message: its transaction (when one could be read) and the request or why not.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The transaction to echo.
    pub transaction: Option<Transaction>,
    /// The request, or the error to answer with.
    pub request: Result<Request, ApiError>,
}

/// Parses `payload` for `verb` (the topic's last level). An empty payload means `{}`.
pub fn parse(verb: &str, payload: &[u8]) -> Envelope {
    let refused = |error| Envelope {
        transaction: None,
        request: Err(error),
    };
    let Some(verb) = Verb::parse(verb) else {
        let known: Vec<&str> = Verb::ALL.iter().map(|v| v.as_str()).collect();
        return refused(ApiError::new(
            ErrorCode::UnknownVerb,
            None,
            format!(
                "unknown verb `{}`; known verbs: {}",
                truncate(verb, 64),
                known.join(", ")
            ),
        ));
    };
    let object = match parse_object(payload) {
        Ok(object) => object,
        Err(error) => return refused(error),
    };
    let transaction = match object.get("transaction").map(transaction) {
        Some(Ok(t)) => Some(t),
        Some(Err(error)) => return refused(error),
        None => None,
    };
    Envelope {
        transaction,
        request: request(verb, &object),
    }
}

fn parse_object(payload: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(invalid(
            "payload",
            format!(
                "is {} bytes; the limit is {MAX_PAYLOAD_BYTES}",
                payload.len()
            ),
        ));
    }
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    if nesting_depth(payload) > MAX_DEPTH {
        return Err(invalid(
            "payload",
            format!("is nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(invalid(
            "payload",
            format!("must be a JSON object; got {}", kind(&other)),
        )),
        Err(e) => Err(invalid("payload", format!("is not JSON: {e}"))),
    }
}

fn transaction(value: &Value) -> Result<Transaction, ApiError> {
    match value {
        Value::Number(n) => n.as_i64().map(Transaction::Number).ok_or_else(|| {
            invalid(
                "transaction",
                format!("must be an integer or a string; got {n}"),
            )
        }),
        Value::String(s) if s.chars().count() <= MAX_TRANSACTION_CHARS => {
            Ok(Transaction::Text(s.clone()))
        }
        Value::String(_) => Err(invalid(
            "transaction",
            format!("is longer than {MAX_TRANSACTION_CHARS} characters"),
        )),
        other => Err(invalid(
            "transaction",
            format!("must be an integer or a string; got {}", kind(other)),
        )),
    }
}

fn request(verb: Verb, object: &Map<String, Value>) -> Result<Request, ApiError> {
    let allowed: &[&str] = match verb {
        Verb::Generate => &["prompt", "seconds", "seed"],
        Verb::Prompt => &["prompt"],
        Verb::Cancel => &["id"],
        Verb::Jobs => &["limit", "id"],
        Verb::Bundle => &["name", "path"],
        Verb::Health => &[],
        // Their fields are not designed yet: anything goes, and the answer is `not_supported`.
        Verb::Post | Verb::Unpost | Verb::Playout | Verb::Feed => return Ok(Request::NotYet(verb)),
    };
    // Sorted (serde_json's map is ordered) so the same bad request always gets the same answer.
    if let Some(key) = object
        .keys()
        .find(|k| *k != "transaction" && !allowed.contains(&k.as_str()))
    {
        let known = if allowed.is_empty() {
            "none besides `transaction`".to_string()
        } else {
            allowed.join(", ")
        };
        return Err(invalid(
            &truncate(key, 64),
            format!("is not a field of `{}`; known: {known}", verb.as_str()),
        ));
    }
    Ok(match verb {
        Verb::Generate => Request::Generate {
            prompt: optional(object, "prompt", string)?,
            seconds: optional(object, "seconds", seconds)?,
            seed: optional(object, "seed", |f, v| unsigned(f, v, u64::MAX))?,
        },
        Verb::Prompt => Request::Prompt {
            prompt: required(object, "prompt", string)?,
        },
        Verb::Cancel => Request::Cancel {
            id: required(object, "id", job_id)?,
        },
        Verb::Jobs => Request::Jobs {
            limit: optional(object, "limit", |f, v| unsigned(f, v, MAX_JOBS_LIMIT))?
                .map_or(20, |n| n.max(1) as u32),
            id: optional(object, "id", job_id)?,
        },
        Verb::Bundle => Request::Bundle {
            target: bundle_target(object)?,
        },
        _ => Request::Health,
    })
}

fn bundle_target(object: &Map<String, Value>) -> Result<BundleTarget, ApiError> {
    let name = optional(object, "name", string)?;
    let path = optional(object, "path", string)?;
    match (name, path) {
        (Some(_), Some(_)) => Err(invalid("path", "give `name` or `path`, not both".into())),
        (None, None) => Err(invalid(
            "name",
            "is missing; give a bundle's folder `name` or an absolute `path`".into(),
        )),
        (Some(name), None) => {
            let plain = !name.is_empty()
                && name != "."
                && name != ".."
                && !name.contains('/')
                && name.chars().count() <= MAX_BUNDLE_CHARS;
            if plain {
                Ok(BundleTarget::Name(name))
            } else {
                Err(invalid(
                    "name",
                    "must be a folder name (no `/`, not `.` or `..`)".into(),
                ))
            }
        }
        (None, Some(path)) => {
            let path = PathBuf::from(path);
            if path.is_absolute() && path.as_os_str().len() <= MAX_BUNDLE_CHARS {
                Ok(BundleTarget::Path(path))
            } else {
                Err(invalid("path", "must be an absolute directory path".into()))
            }
        }
    }
}

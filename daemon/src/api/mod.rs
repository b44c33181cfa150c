//! The transport-neutral remote API: JSON requests in, JSON responses out. MQTT uses it now
//! (`crate::mqtt`); the kiosk page's HTTP/WebSocket server (#11) will share the same schema.
//!
//! A response is `{"status":"ok","data":…,"transaction":…}` or
//! `{"status":"error","error":"…","code":"…","field":"…","transaction":…}`; `field` is there when
//! one field is to blame, `transaction` when the request carried one.

mod fields;
mod handler;
mod request;
mod selection;

pub use handler::{Api, ApiSettings};
pub use request::{
    BundleTarget, Envelope, MAX_DEPTH, MAX_JOBS_LIMIT, MAX_PAYLOAD_BYTES, MAX_TRANSACTION_CHARS,
    Request, Transaction, Verb, parse,
};
pub use selection::{SELECTED_BUNDLE_FILE, available_bundles, read_selected, write_selected};

use serde_json::{Value, json};

/// Machine-readable error kinds, stable for clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request is malformed or a value is out of range; `field` names it.
    Invalid,
    /// No such verb.
    UnknownVerb,
    /// The verb exists but its feature is not built yet.
    NotSupported,
    /// The queue is full.
    QueueFull,
    /// No such job.
    NotFound,
    /// reeld is draining for shutdown.
    ShuttingDown,
    /// Anything else went wrong inside reeld.
    Failed,
}

impl ErrorCode {
    /// The code's name in responses.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Invalid => "invalid",
            ErrorCode::UnknownVerb => "unknown_verb",
            ErrorCode::NotSupported => "not_supported",
            ErrorCode::QueueFull => "queue_full",
            ErrorCode::NotFound => "not_found",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Failed => "failed",
        }
    }
}

/// Why a request was refused or failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The kind.
    pub code: ErrorCode,
    /// The field to blame, if one is.
    pub field: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

impl ApiError {
    /// A new error.
    pub fn new(code: ErrorCode, field: Option<String>, message: String) -> ApiError {
        ApiError {
            code,
            field,
            message,
        }
    }
}

/// The outcome of a request, before the transaction is attached.
pub type Response = Result<Value, ApiError>;

/// The response document for `response` to a request with `transaction`.
pub fn response_json(response: &Response, transaction: Option<&Transaction>) -> Value {
    let mut doc = match response {
        Ok(data) => json!({"status": "ok", "data": data}),
        Err(e) => {
            let mut doc = json!({"status": "error", "error": e.message, "code": e.code.as_str()});
            if let Some(field) = &e.field {
                doc["field"] = Value::from(field.as_str());
            }
            doc
        }
    };
    if let Some(t) = transaction {
        doc["transaction"] = t.to_json();
    }
    doc
}

#[cfg(test)]
mod tests;

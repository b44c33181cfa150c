//! Field readers for the request parser: each names the field in its refusal.

use serde_json::{Map, Value};

use super::{ApiError, ErrorCode};

/// Deepest bracket nesting outside strings; checked before parsing so a hostile payload costs
/// one linear scan.
pub(super) fn nesting_depth(payload: &[u8]) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in payload {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

pub(super) type FieldParser<T> = fn(&str, &Value) -> Result<T, ApiError>;

pub(super) fn optional<T>(
    object: &Map<String, Value>,
    field: &str,
    parse: FieldParser<T>,
) -> Result<Option<T>, ApiError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => parse(field, value).map(Some),
    }
}

pub(super) fn required<T>(
    object: &Map<String, Value>,
    field: &str,
    parse: FieldParser<T>,
) -> Result<T, ApiError> {
    optional(object, field, parse)?.ok_or_else(|| invalid(field, "is missing".into()))
}

pub(super) fn string(field: &str, value: &Value) -> Result<String, ApiError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        other => Err(invalid(
            field,
            format!("must be a string; got {}", kind(other)),
        )),
    }
}

pub(super) fn seconds(field: &str, value: &Value) -> Result<f64, ApiError> {
    match value.as_f64() {
        Some(s) if s.is_finite() && s > 0.0 => Ok(s),
        Some(s) => Err(invalid(
            field,
            format!("must be a positive number; got {s}"),
        )),
        None => Err(invalid(
            field,
            format!("must be a number; got {}", kind(value)),
        )),
    }
}

pub(super) fn unsigned(field: &str, value: &Value, max: u64) -> Result<u64, ApiError> {
    match value.as_u64() {
        Some(n) if n <= max => Ok(n),
        _ => Err(invalid(
            field,
            format!("must be an integer from 0 to {max}; got {}", short(value)),
        )),
    }
}

pub(super) fn job_id(field: &str, value: &Value) -> Result<i64, ApiError> {
    match value.as_i64() {
        Some(n) if n > 0 => Ok(n),
        _ => Err(invalid(
            field,
            format!(
                "must be a job id (a positive integer); got {}",
                short(value)
            ),
        )),
    }
}

pub(super) fn invalid(field: &str, message: String) -> ApiError {
    ApiError::new(
        ErrorCode::Invalid,
        Some(field.to_string()),
        format!("field `{field}` {message}"),
    )
}

/// The JSON type of `value`, for messages.
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for a message, cut short: the answer must not echo a megabyte back.
pub(super) fn short(value: &Value) -> String {
    truncate(&value.to_string(), 40)
}

pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

use serde_json::json;

use super::*;

fn refusal(verb: &str, payload: &str) -> ApiError {
    parse(verb, payload.as_bytes()).request.unwrap_err()
}

#[test]
fn requests_parse_with_their_transaction() {
    let envelope = parse(
        "generate",
        br#"{"prompt":"a red ball","seconds":2,"seed":7,"transaction":23}"#,
    );
    assert_eq!(envelope.transaction, Some(Transaction::Number(23)));
    assert_eq!(
        envelope.request.unwrap(),
        Request::Generate {
            prompt: Some("a red ball".into()),
            seconds: Some(2.0),
            seed: Some(7)
        }
    );
    let envelope = parse("cancel", br#"{"id":4,"transaction":"t-1"}"#);
    assert_eq!(envelope.transaction, Some(Transaction::Text("t-1".into())));
    assert_eq!(envelope.request.unwrap(), Request::Cancel { id: 4 });
    assert_eq!(
        parse("jobs", b"").request.unwrap(),
        Request::Jobs {
            limit: 20,
            id: None
        }
    );
    assert_eq!(parse("health", b" {} ").request.unwrap(), Request::Health);
    assert_eq!(
        parse("bundle", br#"{"name":"tiny-random"}"#)
            .request
            .unwrap(),
        Request::Bundle {
            target: BundleTarget::Name("tiny-random".into())
        }
    );
    assert_eq!(
        parse("playout", br#"{"loop":true}"#).request.unwrap(),
        Request::NotYet(Verb::Playout)
    );
}

#[test]
fn refusals_name_the_field() {
    let cases = [
        (
            "generate",
            r#"{"seconds":"four"}"#,
            "seconds",
            "must be a number",
        ),
        ("generate", r#"{"seconds":-1}"#, "seconds", "positive"),
        ("generate", r#"{"seed":-1}"#, "seed", "integer from 0"),
        ("generate", r#"{"prompt":5}"#, "prompt", "must be a string"),
        (
            "generate",
            r#"{"colour":"red"}"#,
            "colour",
            "not a field of `generate`",
        ),
        ("cancel", r#"{}"#, "id", "is missing"),
        ("cancel", r#"{"id":0}"#, "id", "positive integer"),
        ("jobs", r#"{"limit":1000}"#, "limit", "0 to 100"),
        ("bundle", r#"{"name":"../etc"}"#, "name", "folder name"),
        ("bundle", r#"{"path":"rel/dir"}"#, "path", "absolute"),
        (
            "generate",
            r#"{"transaction":[1]}"#,
            "transaction",
            "integer or a string",
        ),
        ("generate", "not json", "payload", "not JSON"),
        ("generate", "[1,2]", "payload", "JSON object"),
    ];
    for (verb, payload, field, text) in cases {
        let e = refusal(verb, payload);
        assert_eq!(e.code, ErrorCode::Invalid, "{payload}");
        assert_eq!(e.field.as_deref(), Some(field), "{payload}: {e}");
        assert!(e.message.contains(text), "{payload}: {e}");
        assert!(e.message.contains(&format!("`{field}`")), "{e}");
    }
}

#[test]
fn hostile_payloads_are_refused_cheaply() {
    let big = vec![b' '; MAX_PAYLOAD_BYTES + 1];
    assert!(
        parse("generate", &big)
            .request
            .unwrap_err()
            .message
            .contains("bytes")
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let e = refusal("generate", &deep);
    assert!(e.message.contains("nested deeper"), "{e}");
    // Brackets inside strings are not nesting.
    let quoted = format!(r#"{{"prompt":"{}"}}"#, "[".repeat(100));
    assert!(parse("generate", quoted.as_bytes()).request.is_ok());
    assert_eq!(refusal("launch", "{}").code, ErrorCode::UnknownVerb);
}

#[test]
fn responses_carry_status_code_field_and_transaction() {
    let t = Transaction::Number(9);
    let ok = response_json(&Ok(json!({"id": 1})), Some(&t));
    assert_eq!(
        ok,
        json!({"status": "ok", "data": {"id": 1}, "transaction": 9})
    );
    let err = response_json(&Err(refusal("cancel", "{}")), None);
    assert_eq!(err["status"], "error");
    assert_eq!(err["code"], "invalid");
    assert_eq!(err["field"], "id");
    assert!(err.get("transaction").is_none());
}

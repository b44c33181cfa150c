//! Property tests ("fuzzing") of the two parsers that read untrusted text: the remote API's
//! request parser and the bundle manifest parser. Neither may panic, whatever the input, and a
//! request that parses must be within its documented ranges.
//!
//! CI runs the default case count (256 per property). The long run, ≥ 10⁶ inputs per property:
//! `PROPTEST_CASES=1000000 cargo test --release --workspace --test fuzz`.
//! `daemon/fuzz-corpus/` holds inputs worth keeping, replayed by the `corpus_*` tests.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use proptest::prelude::*;
use reel_daemon::api::{self, MAX_JOBS_LIMIT, Request, Verb};
use reel_engines::Bundle;

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz-corpus")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

/// What must hold for any input.
fn check_request(verb: &str, payload: &[u8]) {
    let envelope = api::parse(verb, payload);
    let doc = api::response_json(
        &envelope.request.clone().map(|_| serde_json::Value::Null),
        envelope.transaction.as_ref(),
    );
    assert!(doc["status"].is_string());
    match envelope.request {
        Ok(Request::Generate { seconds, .. }) => {
            assert!(seconds.is_none_or(|s| s.is_finite() && s > 0.0));
        }
        Ok(Request::Cancel { id }) => assert!(id > 0),
        Ok(Request::Jobs { limit, id }) => {
            assert!((1..=MAX_JOBS_LIMIT as u32).contains(&limit));
            assert!(id.is_none_or(|id| id > 0));
        }
        Ok(_) => {}
        Err(e) => assert!(!e.message.is_empty() && e.message.len() < 1024, "{e}"),
    }
}

/// The committed bundle's manifest, read once: the seed the mutations start from.
static TINY_MANIFEST: LazyLock<String> = LazyLock::new(|| {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-corpus/manifest/tiny-random.toml"),
    )
    .unwrap()
});

fn verb() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..Verb::ALL.len()).prop_map(|i| Verb::ALL[i].as_str().to_string()),
        any::<String>(),
    ]
}

/// JSON values with the API's field names, to get past the parser's first checks.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::vec((field(), inner), 0..5)
                .prop_map(|pairs| serde_json::Value::Object(pairs.into_iter().collect())),
        ]
    })
}

fn field() -> impl Strategy<Value = String> {
    let names = [
        "prompt",
        "seconds",
        "seed",
        "id",
        "limit",
        "name",
        "path",
        "transaction",
        "loop",
    ];
    prop_oneof![
        4 => (0..names.len()).prop_map(move |i| names[i].to_string()),
        1 => any::<String>(),
    ]
}

proptest! {
    #[test]
    fn request_parser_never_panics_on_bytes(verb in verb(), payload in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_request(&verb, &payload);
    }

    #[test]
    fn request_parser_never_panics_on_json(verb in verb(), value in json_value()) {
        check_request(&verb, value.to_string().as_bytes());
    }

    #[test]
    fn manifest_parser_never_panics_on_text(text in any::<String>()) {
        // Only the absence of a panic matters here; refusals are expected.
        let parsed = Bundle::parse_manifest(&text, Path::new("fuzz.toml"));
        prop_assert!(parsed.is_err() || text.contains('='));
    }

    #[test]
    fn manifest_parser_never_panics_on_mutated_manifests(
        cut in any::<prop::sample::Index>(),
        splice in any::<String>(),
        drop_line in any::<prop::sample::Index>(),
    ) {
        let lines: Vec<&str> = TINY_MANIFEST.lines().collect();
        let skip = drop_line.index(lines.len());
        let without: String = lines.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, l)| format!("{l}\n")).collect();
        let mut at = cut.index(without.len() + 1);
        while !without.is_char_boundary(at) {
            at -= 1;
        }
        let mutated = format!("{}{}{}", &without[..at], splice, &without[at..]);
        let outcome = Bundle::parse_manifest(&mutated, Path::new("fuzz.toml"));
        prop_assert!(outcome.is_ok() || outcome.is_err());
    }
}

#[test]
fn corpus_requests_are_answered_without_panicking() {
    for file in corpus("request") {
        let payload = std::fs::read(&file).unwrap();
        for verb in Verb::ALL {
            check_request(verb.as_str(), &payload);
        }
    }
    let ok = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz-corpus/request/generate-ok.json"),
    )
    .unwrap();
    assert!(api::parse("generate", &ok).request.is_ok());
}

#[test]
fn corpus_manifests_parse_or_are_refused_without_panicking() {
    for file in corpus("manifest") {
        let text = std::fs::read_to_string(&file).unwrap();
        let parsed = Bundle::parse_manifest(&text, &file);
        assert_eq!(
            parsed.is_ok(),
            file.ends_with("tiny-random.toml"),
            "{}: {parsed:?}",
            file.display()
        );
    }
}

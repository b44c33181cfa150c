//! Helpers shared by the integration tests. Each test binary uses a different subset.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use reel_engines::{ORT_DYLIB_ENV, RuntimeConfig, tiny_bundle_dir};
use tempfile::TempDir;

/// The ONNX Runtime library `scripts/setup.sh` extracts.
const CACHED_LIBRARY: &str = ".cache/onnxruntime/libonnxruntime.so.1.32.0";

/// A CPU runtime config with a real ONNX Runtime library: `ORT_DYLIB_PATH`, else the one
/// `scripts/setup.sh` puts in the workspace cache. Without either the test fails: these tests
/// exist to run real sessions, and passing without one would hide that nothing ran.
pub fn runtime_config() -> RuntimeConfig {
    let from_env = std::env::var_os(ORT_DYLIB_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let library = from_env.unwrap_or_else(|| workspace.join(CACHED_LIBRARY));
    assert!(
        library.is_file(),
        "ONNX Runtime library not found at {}: run scripts/setup.sh (or set {ORT_DYLIB_ENV})",
        library.display()
    );
    RuntimeConfig {
        ort_library: Some(library),
        intra_threads: 1,
        ..RuntimeConfig::default()
    }
}

/// A private copy of the tiny bundle that a test may damage.
pub fn copy_tiny_bundle() -> TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(tiny_bundle_dir()).expect("tiny bundle exists") {
        let entry = entry.expect("dir entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy bundle file");
    }
    dir
}

/// Rewrites the copy's bundle.toml with `edit`, asserting that the edit changed something.
pub fn edit_manifest(dir: &Path, edit: impl FnOnce(&str) -> String) {
    let path = dir.join("bundle.toml");
    let before = std::fs::read_to_string(&path).expect("read manifest");
    let after = edit(&before);
    assert_ne!(before, after, "the manifest edit matched nothing");
    std::fs::write(&path, after).expect("write manifest");
}

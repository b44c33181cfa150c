//! Errors of this crate. Every message says what went wrong and, where there is one, what to do.

use std::path::PathBuf;

use crate::verify::Mismatch;

/// A bundle directory or its manifest is unusable.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The bundle directory does not exist or is not a directory.
    #[error(
        "bundle directory {0} does not exist or is not a directory; pass the folder that holds bundle.toml"
    )]
    MissingDir(PathBuf),

    /// The directory has no `bundle.toml`.
    #[error("{0} is missing: a bundle directory must contain its manifest, bundle.toml")]
    MissingManifest(PathBuf),

    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// `bundle.toml` is not valid TOML or does not match the manifest schema (unknown key,
    /// wrong type, missing key). The message names the key and position.
    #[error("{path}: {message}")]
    Parse {
        /// The manifest file.
        path: PathBuf,
        /// The parser's message, with the offending key and line.
        message: String,
    },

    /// The manifest was written for a format this build does not read.
    #[error(
        "{path}: format_version = {found} is not supported (this build reads version {supported}); upgrade reel or use a bundle made for this version"
    )]
    UnsupportedFormat {
        /// The manifest file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },

    /// A value in the manifest parses but makes no sense (zero fps, unknown scheduler, a
    /// component the pipeline needs is missing...).
    #[error("{path}: invalid value for `{key}`: {reason}")]
    Invalid {
        /// The manifest file.
        path: PathBuf,
        /// Dotted key of the offending value, e.g. `clip.fps_num`.
        key: String,
        /// Why it is rejected.
        reason: String,
    },

    /// A file the manifest names is not in the bundle directory.
    #[error(
        "{path} is missing; the manifest key `{key}` names it (re-copy the bundle or fix the manifest)"
    )]
    MissingFile {
        /// Dotted manifest key that names the file.
        key: String,
        /// The path that was expected.
        path: PathBuf,
    },

    /// `tokenizer.json` exists but cannot be loaded.
    #[error("tokenizer {path} cannot be loaded: {reason}")]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// The tokenizers crate's message.
        reason: String,
    },

    /// [`crate::Bundle::verify`] found ONNX files that do not match the manifest. Each
    /// mismatch is listed on its own line.
    #[error("bundle {bundle} does not match its ONNX files:\n{}", list_mismatches(.mismatches))]
    Verification {
        /// Bundle name.
        bundle: String,
        /// One entry per problem found.
        mismatches: Vec<Mismatch>,
    },

    /// ONNX Runtime could not be initialised to verify the bundle.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

fn list_mismatches(mismatches: &[Mismatch]) -> String {
    mismatches
        .iter()
        .map(|m| format!("  - {m}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// ONNX Runtime cannot be loaded or a session cannot be created.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// No ONNX Runtime library was configured and `ORT_DYLIB_PATH` is unset.
    #[error(
        "no ONNX Runtime library configured: set ort_library under [engine.runtime] in reeld.toml, or ORT_DYLIB_PATH, to libonnxruntime.so.*, or run scripts/setup.sh to fetch one into .cache/onnxruntime/"
    )]
    LibraryNotConfigured,

    /// The configured library file does not exist.
    #[error(
        "ONNX Runtime library {0} does not exist; run scripts/setup.sh or fix ort_library under [engine.runtime] in reeld.toml / ORT_DYLIB_PATH"
    )]
    LibraryMissing(PathBuf),

    /// The library exists but could not be loaded (wrong architecture, missing libstdc++...).
    #[error("cannot load ONNX Runtime from {path}: {reason}")]
    LibraryLoad {
        /// The library file.
        path: PathBuf,
        /// The loader's message.
        reason: String,
    },

    /// The ONNX Runtime environment could not be created.
    #[error("cannot create the ONNX Runtime environment: {0}")]
    Environment(String),

    /// A model file could not be turned into a session (corrupt file, unsupported operator,
    /// out of memory).
    #[error("cannot load {component} from {path}: {reason}")]
    Session {
        /// Component name from the manifest.
        component: String,
        /// The ONNX file.
        path: PathBuf,
        /// ONNX Runtime's message.
        reason: String,
    },
}

/// A generation job failed. After any of these the engine can run the next job.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The bundle is unusable.
    #[error(transparent)]
    Bundle(#[from] BundleError),

    /// ONNX Runtime could not be loaded or a model could not be loaded into it.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),

    /// The request itself is invalid (empty prompt, duration out of range...). Fix the request.
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// The prompt could not be tokenised.
    #[error("cannot tokenise the prompt: {0}")]
    Tokenize(String),

    /// A model run failed or returned tensors of an unexpected shape. Usually a bundle problem:
    /// run `Bundle::verify` to see which file does not match its manifest.
    #[error("{component} failed: {reason}")]
    Inference {
        /// Component name from the manifest.
        component: String,
        /// What failed.
        reason: String,
    },

    /// The job was cancelled through its [`crate::CancelToken`].
    #[error("generation cancelled")]
    Cancelled,

    /// The `on_chunk` consumer refused a chunk (for example, the encoder stopped); the job was
    /// abandoned.
    #[error("the media consumer stopped the job: {0}")]
    Consumer(String),

    /// A bug: a panic inside the engine was caught at the crate boundary. Please report it with
    /// the log; the engine has dropped its sessions and reloads them for the next job.
    #[error("internal error in the engine (please report): {0}")]
    Internal(String),
}

//! Text prompt → timed RGB frames and f32 PCM, through diffusion models in ONNX Runtime.
//!
//! A *bundle* is a directory with a `bundle.toml` manifest (see [`manifest`]), a tokenizer and
//! ONNX components. [`Bundle::open`] validates it without loading models,
//! [`Bundle::verify`] loads every model and checks it against the manifest, and an [`Engine`]
//! runs generation jobs one after another:
//!
//! ```no_run
//! use reel_engines::{Bundle, CancelToken, Engine, GenerateRequest, RuntimeConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bundle = Bundle::open("engines/bundles/tiny-random")?;
//! let mut engine = Engine::load(bundle, &RuntimeConfig::default())?;
//! let request = GenerateRequest {
//!     prompt: "a red paper boat floating on a dark lake".into(),
//!     seconds: Some(1.0),
//!     seed: 7,
//!     steps: None,
//!     guidance: None,
//! };
//! let summary = engine.generate(&request, &CancelToken::new(), &mut |_progress| {}, &mut |_chunk| Ok(()))?;
//! assert_eq!(summary.frames, 12);
//! # Ok(())
//! # }
//! ```
//!
//! ONNX Runtime is loaded at run time from `RuntimeConfig::ort_library` or `ORT_DYLIB_PATH`
//! (`scripts/setup.sh` fetches one). The tiny random-weight bundle in `engines/bundles/tiny-random`
//! (made by `scripts/make-tiny-bundle.py`) runs on any CPU.

mod bundle;
mod cancel;
mod components;
mod engine;
mod error;
mod job;
pub mod manifest;
mod media;
pub mod rng;
mod runtime;
pub mod scheduler;
mod text;
mod validate;
mod verify;

pub use bundle::{Bundle, ComponentReport, MANIFEST_FILE};
pub use cancel::CancelToken;
pub use engine::{Engine, GenerateRequest, GenerateSummary, MAX_PROMPT_CHARS, MAX_STEPS};
pub use error::{BundleError, EngineError, RuntimeError};
pub use job::StageTimings;
pub use manifest::Manifest;
pub use runtime::{ORT_DYLIB_ENV, ProviderKind, Runtime, RuntimeConfig};
pub use verify::Mismatch;

/// The tiny random-weight bundle shipped in this crate, for tests and demos.
pub fn tiny_bundle_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("bundles")
        .join("tiny-random")
}

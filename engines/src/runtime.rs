//! ONNX Runtime loading (once per process) and session creation with execution-provider
//! fallback that reports where each component really runs.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::ep::{self, ExecutionProviderDispatch};
use ort::session::Session;
use ort::session::builder::SessionBuilder;
use serde::{Deserialize, Serialize};

use crate::error::RuntimeError;
use crate::manifest::ComponentSpec;

/// Environment variable naming the ONNX Runtime shared library when the config does not.
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// An execution provider, in the order of preference given by [`RuntimeConfig::providers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// NVIDIA TensorRT (uses the manifest's tensorrt_min/opt/max profiles). Spelled `tensorrt`.
    #[serde(rename = "tensorrt")]
    TensorRt,
    /// NVIDIA CUDA.
    Cuda,
    /// The CPU; always available.
    Cpu,
}

impl ProviderKind {
    /// Stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::TensorRt => "tensorrt",
            ProviderKind::Cuda => "cuda",
            ProviderKind::Cpu => "cpu",
        }
    }
}

/// How to run ONNX models. Deserialises from the daemon's config (snake_case keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// `libonnxruntime.so.*` to load; falls back to `ORT_DYLIB_PATH`.
    pub ort_library: Option<PathBuf>,
    /// Providers to try, best first. The CPU is always the last resort even if not listed.
    pub providers: Vec<ProviderKind>,
    /// Threads per session for intra-op parallelism; 0 lets ONNX Runtime choose.
    pub intra_threads: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            ort_library: None,
            providers: vec![ProviderKind::Cpu],
            intra_threads: 0,
        }
    }
}

impl RuntimeConfig {
    /// The library this config selects: the config's path, else `ORT_DYLIB_PATH`.
    pub fn library_path(&self) -> Result<PathBuf, RuntimeError> {
        let path = match &self.ort_library {
            Some(path) => path.clone(),
            None => std::env::var_os(ORT_DYLIB_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .ok_or(RuntimeError::LibraryNotConfigured)?,
        };
        if !path.is_file() {
            return Err(RuntimeError::LibraryMissing(path));
        }
        Ok(path)
    }
}

/// The process-wide environment. ONNX Runtime allows one per process and ort refuses a second
/// `init_from`, so the first successful load wins and later ones reuse it.
struct LoadedLibrary {
    path: PathBuf,
    environment: Environment,
}

static LIBRARY: OnceLock<LoadedLibrary> = OnceLock::new();
static LIBRARY_INIT: Mutex<()> = Mutex::new(());

fn load_library(path: &Path) -> Result<&'static LoadedLibrary, RuntimeError> {
    if let Some(loaded) = LIBRARY.get() {
        return Ok(loaded);
    }
    // Serialise first loads so two threads do not both call init_from.
    let _guard = LIBRARY_INIT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(loaded) = LIBRARY.get() {
        return Ok(loaded);
    }
    let builder = ort::init_from(path).map_err(|e| RuntimeError::LibraryLoad {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let environment = builder
        .with_name("reel")
        .with_telemetry(false)
        .build()
        .map_err(|e| RuntimeError::Environment(e.to_string()))?;
    tracing::info!(library = %path.display(), "ONNX Runtime loaded");
    Ok(LIBRARY.get_or_init(|| LoadedLibrary {
        path: path.to_owned(),
        environment,
    }))
}

/// A loaded ONNX Runtime plus the provider preferences to create sessions with. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Runtime {
    environment: Environment,
    config: RuntimeConfig,
}

/// A session and the provider it was created for.
#[derive(Debug)]
pub(crate) struct LoadedSession {
    pub session: Session,
    pub provider: ProviderKind,
}

impl Runtime {
    /// Loads ONNX Runtime (once per process) from the library `config` selects.
    pub fn new(config: &RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let path = config.library_path()?;
        let loaded = load_library(&path)?;
        if loaded.path != path {
            tracing::warn!(
                loaded = %loaded.path.display(),
                requested = %path.display(),
                "ONNX Runtime is already loaded from another file; a process can load only one, keeping it"
            );
        }
        Ok(Runtime {
            environment: loaded.environment.clone(),
            config: config.clone(),
        })
    }

    /// The configuration this runtime creates sessions with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Creates a session for `component` from `path`, trying providers in order and falling back
    /// to the CPU. The returned provider is the one that registered successfully.
    pub(crate) fn load_session(
        &self,
        component: &str,
        spec: &ComponentSpec,
        path: &Path,
    ) -> Result<LoadedSession, RuntimeError> {
        let session_error = |reason: String| RuntimeError::Session {
            component: component.to_owned(),
            path: path.to_owned(),
            reason,
        };
        let mut builder =
            Session::builder(&self.environment).map_err(|e| session_error(e.to_string()))?;
        if self.config.intra_threads > 0 {
            // Error<SessionBuilder> is not Send: keep only its message.
            builder = builder
                .with_intra_threads(self.config.intra_threads)
                .map_err(|e| session_error(e.to_string()))?;
        }
        let (builder, provider) = self.register_provider(component, spec, builder);
        let mut builder = builder;
        let session = builder
            .commit_from_file(path)
            .map_err(|e| session_error(e.to_string()))?;
        tracing::info!(component, provider = provider.as_str(), "session ready");
        Ok(LoadedSession { session, provider })
    }

    /// Registers the first configured accelerator that accepts the session. Registration errors
    /// are logged, not fatal: the CPU provider is always there underneath.
    fn register_provider(
        &self,
        component: &str,
        spec: &ComponentSpec,
        mut builder: SessionBuilder,
    ) -> (SessionBuilder, ProviderKind) {
        for &kind in &self.config.providers {
            let dispatch = match kind {
                ProviderKind::Cpu => return (builder, ProviderKind::Cpu),
                ProviderKind::Cuda => ep::CUDA::default().build(),
                ProviderKind::TensorRt => tensorrt_provider(spec),
            };
            match builder.with_execution_providers([dispatch.error_on_failure()]) {
                Ok(registered) => return (registered, kind),
                Err(e) => {
                    tracing::warn!(component, provider = kind.as_str(), error = %e, "provider unavailable, trying the next");
                    builder = e.recover();
                }
            }
        }
        (builder, ProviderKind::Cpu)
    }
}

/// TensorRT with the manifest's optimisation profiles (`name:1x8x1x16x16,...`).
fn tensorrt_provider(spec: &ComponentSpec) -> ExecutionProviderDispatch {
    let profile = |pick: fn(&crate::manifest::TensorSpec) -> Option<&Vec<i64>>| {
        spec.inputs
            .iter()
            .filter_map(|t| {
                let dims = pick(t)?;
                let dims: Vec<String> = dims.iter().map(i64::to_string).collect();
                Some(format!("{}:{}", t.name, dims.join("x")))
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let (min, opt, max) = (
        profile(|t| t.tensorrt_min.as_ref()),
        profile(|t| t.tensorrt_opt.as_ref()),
        profile(|t| t.tensorrt_max.as_ref()),
    );
    let mut trt = ep::TensorRT::default();
    if !min.is_empty() {
        trt = trt
            .with_profile_min_shapes(min)
            .with_profile_opt_shapes(opt)
            .with_profile_max_shapes(max);
    }
    trt.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_from_toml_with_cpu_by_default() {
        let config: RuntimeConfig =
            toml::from_str("providers = [\"tensorrt\", \"cuda\", \"cpu\"]\nintra_threads = 2")
                .unwrap();
        assert_eq!(
            config.providers,
            [
                ProviderKind::TensorRt,
                ProviderKind::Cuda,
                ProviderKind::Cpu
            ]
        );
        assert_eq!(config.intra_threads, 2);
        let empty: RuntimeConfig = toml::from_str("").unwrap();
        assert_eq!(empty, RuntimeConfig::default());
        assert_eq!(empty.providers, [ProviderKind::Cpu]);
        assert!(toml::from_str::<RuntimeConfig>("provider = [\"cpu\"]").is_err());
    }

    #[test]
    fn a_missing_library_is_reported_before_loading() {
        let config = RuntimeConfig {
            ort_library: Some("/nonexistent/libonnxruntime.so".into()),
            ..Default::default()
        };
        let error = Runtime::new(&config).unwrap_err();
        assert!(
            matches!(&error, RuntimeError::LibraryMissing(p) if p.ends_with("libonnxruntime.so"))
        );
        assert!(error.to_string().contains("scripts/setup.sh"));
    }
}

//! The public generation API: load a bundle once, run jobs one after another.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use ort::session::RunOptions;
use reel_clip::{Chunk, ClipFormat, Progress, Stage};

use crate::bundle::{Bundle, ComponentReport};
use crate::cancel::CancelToken;
use crate::components::JointComponents;
use crate::error::{EngineError, RuntimeError};
use crate::job::{Job, JobPlan, StageTimings};
use crate::runtime::{Runtime, RuntimeConfig};
use crate::text::PromptTokenizer;

/// Longest prompt accepted, in characters.
pub const MAX_PROMPT_CHARS: usize = 4000;

/// Most denoising steps a request may ask for.
pub const MAX_STEPS: u32 = 1000;

/// One clip to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    /// What the clip shows and sounds like; 1..=4000 characters.
    pub prompt: String,
    /// Clip length; `None` uses the bundle's `clip.default_seconds`. Must be in (0, max_seconds].
    pub seconds: Option<f64>,
    /// Noise seed; equal seeds and settings give identical clips.
    pub seed: u64,
    /// Denoising steps; `None` uses `scheduler.steps`.
    pub steps: Option<u32>,
    /// Guidance scale in [1, 30]; `None` uses `scheduler.guidance`. 1.0 turns guidance off.
    pub guidance: Option<f32>,
}

/// What a finished job produced.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateSummary {
    /// Video frames handed out.
    pub frames: u64,
    /// Audio samples per channel handed out.
    pub audio_samples: u64,
    /// Clip length in nanoseconds (end of the last frame).
    pub duration_ns: u64,
    /// Steps run.
    pub steps: u32,
    /// Guidance scale used.
    pub guidance: f32,
    /// Seed used.
    pub seed: u64,
    /// Prompt tokens given to the text encoder.
    pub prompt_tokens: usize,
    /// Whether the prompt was cut to the text encoder's length.
    pub prompt_truncated: bool,
    /// Where each component ran.
    pub providers: Vec<ComponentReport>,
    /// Wall time per stage.
    pub timings: StageTimings,
}

/// A loaded bundle ready to generate clips. `Send`: run it on a worker thread, one job at a time.
#[derive(Debug)]
pub struct Engine {
    bundle: Bundle,
    runtime: Runtime,
    tokenizer: PromptTokenizer,
    /// `None` until first loaded, and again after a caught panic so the next job starts clean.
    components: Option<JointComponents>,
}

impl Engine {
    /// Loads ONNX Runtime per `config`, the tokenizer and every component session.
    pub fn load(bundle: Bundle, config: &RuntimeConfig) -> Result<Engine, EngineError> {
        let runtime = Runtime::new(config)?;
        Engine::with_runtime(bundle, runtime)
    }

    /// Like [`Engine::load`] with an already loaded runtime.
    pub fn with_runtime(bundle: Bundle, runtime: Runtime) -> Result<Engine, EngineError> {
        let tokenizer_path = bundle.file_path(&bundle.manifest().tokenizer.file);
        let tokenizer = PromptTokenizer::load(&tokenizer_path, &bundle.manifest().tokenizer)?;
        let mut engine = Engine {
            bundle,
            runtime,
            tokenizer,
            components: None,
        };
        engine.ensure_loaded()?;
        Ok(engine)
    }

    /// The bundle this engine runs.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The format of every clip this engine makes.
    pub fn clip_format(&self) -> ClipFormat {
        self.bundle.clip_format()
    }

    /// Where each component runs (empty while sessions are not loaded).
    pub fn providers(&self) -> Vec<ComponentReport> {
        self.components
            .as_ref()
            .map(JointComponents::reports)
            .unwrap_or_default()
    }

    fn ensure_loaded(&mut self) -> Result<&mut JointComponents, RuntimeError> {
        match &mut self.components {
            Some(components) => Ok(components),
            slot @ None => Ok(slot.insert(JointComponents::load(&self.bundle, &self.runtime)?)),
        }
    }

    /// Generates one clip. Frames and audio go to `on_chunk` as soon as they are decoded, each
    /// stream in presentation order; progress goes to `on_progress`. Returning `Err` from
    /// `on_chunk` abandons the job with [`EngineError::Consumer`]. Cancelling `cancel` ends the
    /// job with [`EngineError::Cancelled`] within one model run. On any error the engine stays
    /// usable for the next job.
    pub fn generate(
        &mut self,
        request: &GenerateRequest,
        cancel: &CancelToken,
        on_progress: &mut dyn FnMut(Progress),
        on_chunk: &mut dyn FnMut(Chunk) -> Result<(), String>,
    ) -> Result<GenerateSummary, EngineError> {
        // A panic must not cross into the daemon's worker; the sessions it touched are dropped.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            self.generate_inner(request, cancel, on_progress, on_chunk)
        }));
        outcome.unwrap_or_else(|panic| {
            self.components = None;
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            tracing::error!(%message, "panic caught in generate");
            Err(EngineError::Internal(message))
        })
    }

    fn generate_inner(
        &mut self,
        request: &GenerateRequest,
        cancel: &CancelToken,
        on_progress: &mut dyn FnMut(Progress),
        on_chunk: &mut dyn FnMut(Chunk) -> Result<(), String>,
    ) -> Result<GenerateSummary, EngineError> {
        let plan = self.plan(request)?;
        let prompt = self.tokenizer.encode(&request.prompt)?;
        let unconditional = if plan.guidance > 1.0 {
            Some(self.tokenizer.encode("")?)
        } else {
            None
        };
        let format = self.clip_format();
        tracing::info!(
            bundle = self.bundle.name(),
            frames = plan.frames,
            steps = plan.steps,
            guidance = plan.guidance,
            seed = plan.seed,
            "generating"
        );

        on_progress(Progress {
            stage: Stage::Loading,
            step: 0,
            steps: 1,
            fraction: 0.0,
        });
        let started = Instant::now();
        let run_options =
            Arc::new(RunOptions::new().map_err(|e| EngineError::Internal(e.to_string()))?);
        let _attached = cancel.attach(Arc::clone(&run_options));
        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        let manifest = self.bundle.manifest().clone();
        let components = self.ensure_loaded()?;
        let providers = components.reports();
        let mut job = Job {
            components,
            manifest: &manifest,
            format,
            plan: plan.clone(),
            run_options: &run_options,
            cancel,
            on_progress,
            on_chunk,
            timings: StageTimings {
                loading: started.elapsed(),
                ..StageTimings::default()
            },
        };
        job.run(&prompt, unconditional.as_ref())?;
        Ok(GenerateSummary {
            frames: plan.frames,
            audio_samples: plan.samples,
            duration_ns: format.frame_pts(plan.frames),
            steps: plan.steps,
            guidance: plan.guidance,
            seed: plan.seed,
            prompt_tokens: prompt.tokens,
            prompt_truncated: prompt.truncated,
            providers,
            timings: job.timings,
        })
    }

    /// Validates a request against the bundle and works out the job's sizes.
    fn plan(&self, request: &GenerateRequest) -> Result<JobPlan, EngineError> {
        let manifest = self.bundle.manifest();
        let invalid = |reason: String| Err(EngineError::InvalidRequest(reason));
        let chars = request.prompt.chars().count();
        if request.prompt.trim().is_empty() {
            return invalid("the prompt is empty; describe the clip".to_owned());
        }
        if chars > MAX_PROMPT_CHARS {
            return invalid(format!(
                "the prompt has {chars} characters; the limit is {MAX_PROMPT_CHARS}"
            ));
        }
        let max = manifest.clip.max_seconds;
        let seconds = request.seconds.unwrap_or(manifest.clip.default_seconds);
        if !seconds.is_finite() || seconds <= 0.0 || seconds > max {
            return invalid(format!(
                "{seconds} s is outside (0, {max}] s, the range bundle {} allows",
                self.bundle.name()
            ));
        }
        let format = self.clip_format();
        let frames = format.frames_for(seconds);
        if frames == 0 {
            return invalid(format!(
                "{seconds} s is shorter than one frame at {} fps",
                format.fps()
            ));
        }
        let steps = request.steps.unwrap_or(manifest.scheduler.steps);
        if !(1..=MAX_STEPS).contains(&steps) {
            return invalid(format!("{steps} steps is outside 1..={MAX_STEPS}"));
        }
        let guidance = request.guidance.unwrap_or(manifest.scheduler.guidance);
        if !guidance.is_finite() || !(1.0..=30.0).contains(&guidance) {
            return invalid(format!("guidance {guidance} is outside [1, 30] (1 = off)"));
        }
        Ok(JobPlan::new(
            manifest,
            &format,
            frames,
            steps,
            guidance,
            request.seed,
        ))
    }
}

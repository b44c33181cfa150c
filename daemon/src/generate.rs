//! The main job: prompt → engine → pipeline → an MP4 that appears atomically. This is where the
//! two halves meet: `reel-engines` produces timed chunks, `reel-pipeline` encodes them, and
//! neither knows the other.

use std::path::{Path, PathBuf};
use std::time::Instant;

use reel_clip::{Chunk, ClipFormat, Progress, Stage};
use reel_engines::{CancelToken, Engine, EngineError, GenerateRequest};
use reel_pipeline::{EncoderConfig, Mp4Info, Mp4Writer, PipelineError};
use serde::Serialize;

/// The part of a job's progress that belongs to the engine; encoding and writing take the rest.
const ENGINE_SHARE: f64 = 0.98;

/// Everything a generation needs besides the engine.
#[derive(Debug, Clone)]
pub struct ClipRequest {
    /// The prompt.
    pub prompt: String,
    /// Length in seconds; `None` means the bundle's default.
    pub seconds: Option<f64>,
    /// Noise seed.
    pub seed: u64,
    /// Where the finished MP4 goes.
    pub output: PathBuf,
}

/// Wall-clock milliseconds spent in each part of a generation.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timings {
    /// From the start to the last chunk out of the engine (model work and streaming encode).
    pub engine_ms: u64,
    /// Draining the encoder and writing the file after the last chunk.
    pub finish_ms: u64,
    /// Whole generation.
    pub total_ms: u64,
}

/// A finished clip.
#[derive(Debug, Clone)]
pub struct ClipResult {
    /// What the pipeline wrote.
    pub mp4: Mp4Info,
    /// Geometry and rates of the clip, from the bundle.
    pub format: ClipFormat,
    /// Where time went.
    pub timings: Timings,
}

/// Why a generation did not produce a clip.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The engine failed (bad bundle, bad request, inference error).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Encoding or writing failed.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// Someone cancelled it.
    #[error("cancelled")]
    Cancelled,
}

/// Runs one generation. On any failure or cancellation no file appears at `request.output`.
pub fn generate_clip(
    engine: &mut Engine,
    request: &ClipRequest,
    encoder: &EncoderConfig,
    cancel: &CancelToken,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<ClipResult, GenerateError> {
    let started = Instant::now();
    ensure_parent(&request.output)?;
    let format = engine.clip_format();
    let mut writer = Mp4Writer::create(&request.output, format, encoder)?;
    // The engine reports chunk errors as text; keep the pipeline's own error to return it intact.
    let mut push_error: Option<PipelineError> = None;
    let generated = engine.generate(
        &GenerateRequest {
            prompt: request.prompt.clone(),
            seconds: request.seconds,
            seed: request.seed,
            steps: None,
            guidance: None,
        },
        cancel,
        // The engine's 100 % is not the job's: draining the encoder and writing the file come
        // after it, so its progress is scaled below the finishing stages.
        &mut |p: Progress| {
            on_progress(Progress {
                fraction: p.fraction.clamp(0.0, 1.0) * ENGINE_SHARE,
                ..p
            })
        },
        &mut |chunk: Chunk| {
            writer.push(chunk).map_err(|e| {
                let text = e.to_string();
                push_error = Some(e);
                text
            })
        },
    );
    match generated {
        Ok(_) => {}
        Err(_) if push_error.is_some() => {
            writer.abort();
            return Err(push_error
                .take()
                .map(GenerateError::Pipeline)
                .unwrap_or(GenerateError::Cancelled));
        }
        Err(EngineError::Cancelled) => {
            writer.abort();
            return Err(GenerateError::Cancelled);
        }
        Err(e) => {
            writer.abort();
            return Err(e.into());
        }
    }
    let engine_done = Instant::now();
    on_progress(Progress {
        stage: Stage::Encoding,
        step: 1,
        steps: 1,
        fraction: 0.99,
    });
    let mp4 = writer.finish()?;
    on_progress(Progress {
        stage: Stage::Finished,
        step: 1,
        steps: 1,
        fraction: 1.0,
    });
    let finished = Instant::now();
    Ok(ClipResult {
        mp4,
        format,
        timings: Timings {
            engine_ms: (engine_done - started).as_millis() as u64,
            finish_ms: (finished - engine_done).as_millis() as u64,
            total_ms: (finished - started).as_millis() as u64,
        },
    })
}

fn ensure_parent(path: &Path) -> Result<(), PipelineError> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|source| PipelineError::Io {
            action: "creating directory",
            path: dir.to_path_buf(),
            source,
        }),
        None => Ok(()),
    }
}

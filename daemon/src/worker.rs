//! The engine thread. Inference and encoding block for seconds, so they run on a thread of their
//! own that owns the loaded engine; the async service talks to it through channels.

use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;

use reel_clip::Progress;
use reel_engines::{Bundle, CancelToken, Engine, RuntimeConfig};
use reel_pipeline::EncoderConfig;
use tokio::sync::mpsc;

use crate::generate::{ClipRequest, ClipResult, GenerateError, generate_clip};
use crate::queue::JobId;

/// A job handed to the engine thread.
#[derive(Debug)]
pub struct WorkItem {
    /// The job.
    pub id: JobId,
    /// Bundle directory to run.
    pub bundle: PathBuf,
    /// What to make.
    pub request: ClipRequest,
    /// Stops the job within one denoising step.
    pub cancel: CancelToken,
}

/// What the engine thread reports.
#[derive(Debug)]
pub enum WorkEvent {
    /// A bundle was loaded; which provider runs its components.
    EngineLoaded {
        /// The bundle's name.
        bundle: String,
        /// The execution providers in use, e.g. `cpu`.
        provider: String,
    },
    /// A job moved on.
    Progress(JobId, Progress),
    /// A job ended.
    Done(JobId, Result<ClipResult, WorkError>),
}

/// Why a job produced no clip.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// The bundle could not be opened or loaded.
    #[error("cannot load bundle {bundle}: {message}")]
    Load {
        /// The bundle directory.
        bundle: PathBuf,
        /// Why.
        message: String,
    },
    /// The generation failed or was cancelled.
    #[error(transparent)]
    Generate(#[from] GenerateError),
}

/// Handle to the engine thread. Dropping it closes the queue; [`Worker::join`] waits for the
/// thread to finish its current job.
#[derive(Debug)]
pub struct Worker {
    jobs: std_mpsc::Sender<WorkItem>,
    thread: JoinHandle<()>,
}

impl Worker {
    /// Starts the thread; events arrive on `events`.
    pub fn spawn(
        runtime: RuntimeConfig,
        encoder: EncoderConfig,
        events: mpsc::UnboundedSender<WorkEvent>,
    ) -> std::io::Result<Worker> {
        let (jobs, inbox) = std_mpsc::channel::<WorkItem>();
        let thread = std::thread::Builder::new()
            .name("reel-engine".into())
            .spawn(move || run(inbox, runtime, encoder, events))?;
        Ok(Worker { jobs, thread })
    }

    /// Hands a job to the thread. Fails only if the thread has died.
    pub fn submit(&self, item: WorkItem) -> Result<(), WorkItem> {
        self.jobs.send(item).map_err(|e| e.0)
    }

    /// Closes the queue and waits for the thread.
    pub fn join(self) {
        drop(self.jobs);
        if self.thread.join().is_err() {
            tracing::error!("the engine thread panicked");
        }
    }
}

fn run(
    inbox: std_mpsc::Receiver<WorkItem>,
    runtime: RuntimeConfig,
    encoder: EncoderConfig,
    events: mpsc::UnboundedSender<WorkEvent>,
) {
    // The last engine stays loaded: the next job usually names the same bundle.
    let mut loaded: Option<(PathBuf, Engine)> = None;
    for item in inbox {
        let id = item.id;
        let result = run_one(&mut loaded, item, &runtime, &encoder, &events);
        if events.send(WorkEvent::Done(id, result)).is_err() {
            tracing::warn!(
                job = id,
                "the service stopped listening; job result dropped"
            );
            return;
        }
    }
}

fn run_one(
    loaded: &mut Option<(PathBuf, Engine)>,
    item: WorkItem,
    runtime: &RuntimeConfig,
    encoder: &EncoderConfig,
    events: &mpsc::UnboundedSender<WorkEvent>,
) -> Result<ClipResult, WorkError> {
    // `take` drops an engine for another bundle before the next one loads: memory is tight.
    let engine = match loaded.take() {
        Some((path, engine)) if path == item.bundle => &mut loaded.insert((path, engine)).1,
        _ => {
            let engine = load_engine(&item.bundle, runtime)?;
            let mut providers: Vec<String> = engine
                .providers()
                .iter()
                .map(|r| format!("{:?}", r.provider).to_lowercase())
                .collect();
            providers.dedup();
            let event = WorkEvent::EngineLoaded {
                bundle: engine.bundle().name().to_string(),
                provider: providers.join("+"),
            };
            if events.send(event).is_err() {
                tracing::debug!("engine loaded, but the service is gone");
            }
            &mut loaded.insert((item.bundle.clone(), engine)).1
        }
    };
    let id = item.id;
    let mut on_progress = |p: Progress| {
        // A closed channel means the service is gone; the job still finishes cleanly.
        if events.send(WorkEvent::Progress(id, p)).is_err() {
            tracing::debug!(job = id, "progress dropped: service gone");
        }
    };
    Ok(generate_clip(
        engine,
        &item.request,
        encoder,
        &item.cancel,
        &mut on_progress,
    )?)
}

/// Opens and loads a bundle; used by the worker and by `reelctl generate`.
pub fn load_engine(bundle: &std::path::Path, runtime: &RuntimeConfig) -> Result<Engine, WorkError> {
    let load = |message: String| WorkError::Load {
        bundle: bundle.to_path_buf(),
        message,
    };
    let opened = Bundle::open(bundle).map_err(|e| load(e.to_string()))?;
    Engine::load(opened, runtime).map_err(|e| load(e.to_string()))
}

//! Carries out validated requests against the jobs database, with the same checks as D-Bus
//! and `reelctl submit`: its own store connection (WAL lets it sit beside the service's), then
//! [`ServiceHandle::wake`] so a job starts without waiting for the next poll.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::request::{BundleTarget, Request, Verb};
use super::selection::{available_bundles, read_selected, write_selected};
use super::{ApiError, ErrorCode, Response};
use crate::config::{Config, JobsConfig};
use crate::events::{JobEvent, ServiceHandle};
use crate::queue::{AdmissionError, CancelAction, JobState};
use crate::service::now_ms;
use crate::store::{JobRecord, NewJob, Store, StoreError};

/// What the API needs from the configuration.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Queue capacity and prompt limits.
    pub jobs: JobsConfig,
    /// `engine.bundle`: used until another is selected.
    pub default_bundle: PathBuf,
    /// Where the selection is kept.
    pub state_dir: PathBuf,
    /// Execution providers, for `health` and the state.
    pub providers: Vec<String>,
}

impl ApiSettings {
    /// From reeld's configuration.
    pub fn from_config(config: &Config) -> ApiSettings {
        ApiSettings {
            jobs: config.jobs.clone(),
            default_bundle: config.engine.bundle.clone(),
            state_dir: config.state_dir.clone(),
            providers: config
                .engine
                .runtime
                .providers
                .iter()
                .map(|p| p.as_str().to_string())
                .collect(),
        }
    }

    /// Where bundles named by folder live: beside the default bundle.
    pub fn bundles_dir(&self) -> PathBuf {
        self.default_bundle
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
    }
}

/// The API, shared by every front end's tasks.
#[derive(Debug)]
pub struct Api {
    store: Arc<Mutex<Store>>,
    handle: ServiceHandle,
    settings: ApiSettings,
    /// Set by `prompt`, used by a `generate` without one.
    prompt: Mutex<String>,
    stopping: AtomicBool,
}

impl Api {
    /// Opens the API's own connection to the jobs database.
    pub fn open(config: &Config, handle: ServiceHandle) -> Result<Api, StoreError> {
        Ok(Api {
            store: Arc::new(Mutex::new(Store::open(&config.database_path())?)),
            handle,
            settings: ApiSettings::from_config(config),
            prompt: Mutex::new(String::new()),
            stopping: AtomicBool::new(false),
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &ApiSettings {
        &self.settings
    }

    /// reeld is draining: `generate` is refused from now on.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Whether reeld is draining.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// The bundle later jobs get: the selected one, else `engine.bundle`.
    pub fn current_bundle(&self) -> PathBuf {
        read_selected(&self.settings.state_dir)
            .unwrap_or_else(|| self.settings.default_bundle.clone())
    }

    /// The prompt set with `prompt`.
    pub fn pending_prompt(&self) -> String {
        self.prompt.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Carries out `request`.
    pub async fn handle(&self, request: Request) -> Response {
        match request {
            Request::Generate {
                prompt,
                seconds,
                seed,
            } => self.generate(prompt, seconds, seed).await,
            Request::Prompt { prompt } => {
                if let Ok(mut pending) = self.prompt.lock() {
                    pending.clone_from(&prompt);
                }
                Ok(json!({"prompt": prompt}))
            }
            Request::Cancel { id } => self.cancel(id).await,
            Request::Jobs { limit, id } => match id {
                Some(id) => Ok(job_json(&self.with_store(move |s| s.job(id)).await?)),
                None => {
                    let jobs = self.with_store(move |s| s.list_jobs(limit)).await?;
                    Ok(json!({"jobs": jobs.iter().map(job_json).collect::<Vec<_>>()}))
                }
            },
            Request::Health => self.health().await,
            Request::Bundle { target } => self.select_bundle(target).await,
            Request::NotYet(verb) => Err(not_yet(verb)),
        }
    }

    /// Runs `f` on the store off the async threads (SQLite fsyncs on commit).
    pub async fn with_store<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = store.lock().map_err(|_| {
                failed("the jobs database handle is poisoned; restart reeld".into())
            })?;
            f(&mut store).map_err(store_error)
        })
        .await
        .map_err(|e| failed(format!("database task failed: {e}")))?
    }

    async fn generate(
        &self,
        prompt: Option<String>,
        seconds: Option<f64>,
        seed: Option<u64>,
    ) -> Response {
        if self.is_stopping() {
            return Err(ApiError::new(
                ErrorCode::ShuttingDown,
                None,
                "reeld is shutting down and takes no new jobs; send again once it is back".into(),
            ));
        }
        let prompt = prompt.unwrap_or_else(|| self.pending_prompt());
        let bundle = self.current_bundle();
        let max_seconds = open_bundle(bundle.clone(), "bundle")
            .await?
            .manifest()
            .clip
            .max_seconds;
        let job = NewJob {
            prompt,
            seconds,
            seed: seed.unwrap_or_else(|| fastrand::u64(..1_000_000_000)),
            bundle: bundle.display().to_string(),
        };
        let limits = self.settings.jobs.limits(max_seconds);
        let record = self
            .with_store(move |store| {
                let id = store.submit(&job, &limits, now_ms())?;
                store.job(id)
            })
            .await?;
        self.handle.wake();
        Ok(job_json(&record))
    }

    async fn cancel(&self, id: i64) -> Response {
        let action = self
            .with_store(move |store| store.request_cancel(id, now_ms()))
            .await?;
        let outcome = match action {
            CancelAction::CancelQueued => {
                // Announced as an event so every front end sees the job end.
                self.handle.publish(JobEvent::Ended {
                    id,
                    state: JobState::Cancelled,
                    error: None,
                    output: None,
                });
                "cancelled"
            }
            CancelAction::StopRunning => {
                self.handle.wake();
                "stopping"
            }
            CancelAction::AlreadyFinished(_) => "already_finished",
        };
        Ok(json!({"id": id, "outcome": outcome}))
    }

    async fn health(&self) -> Response {
        let active = self.with_store(|s| s.active_summaries()).await?;
        Ok(json!({
            "version": env!("CARGO_PKG_VERSION"),
            "store": "ok",
            "stopping": self.is_stopping(),
            "queue": active.len(),
            "bundle": self.current_bundle().display().to_string(),
            "providers": self.settings.providers,
        }))
    }

    async fn select_bundle(&self, target: BundleTarget) -> Response {
        let (path, field) = match target {
            BundleTarget::Name(name) => (self.settings.bundles_dir().join(name), "name"),
            BundleTarget::Path(path) => (path, "path"),
        };
        let bundle = open_bundle(path.clone(), field).await?;
        let state_dir = self.settings.state_dir.clone();
        let written = tokio::task::spawn_blocking({
            let path = path.clone();
            move || write_selected(&state_dir, &path)
        })
        .await
        .map_err(|e| failed(format!("bundle task failed: {e}")))?;
        written.map_err(|e| failed(format!("cannot record the selected bundle: {e}")))?;
        tracing::info!(bundle = %path.display(), "bundle selected for later jobs");
        Ok(json!({"name": bundle.name(), "path": path.display().to_string()}))
    }

    /// Bundle names offered for selection.
    pub fn bundle_choices(&self) -> Vec<String> {
        available_bundles(&self.settings.bundles_dir())
    }
}

/// A job as clients see it.
pub fn job_json(job: &JobRecord) -> Value {
    json!({
        "id": job.id,
        "prompt": job.prompt,
        "state": job.state.as_str(),
        "stage": job.progress.stage.as_str(),
        "progress": job.progress.fraction,
        "step": job.progress.step,
        "steps": job.progress.steps,
        "seconds": job.seconds,
        "seed": job.seed,
        "bundle": job.bundle,
        "attempts": job.attempts,
        "error": job.error,
        "output": job.output,
        "created_ms": job.created_ms,
        "started_ms": job.started_ms,
        "finished_ms": job.finished_ms,
    })
}

async fn open_bundle(path: PathBuf, field: &str) -> Result<reel_engines::Bundle, ApiError> {
    let opened = tokio::task::spawn_blocking(move || reel_engines::Bundle::open(&path))
        .await
        .map_err(|e| failed(format!("bundle task failed: {e}")))?;
    opened.map_err(|e| {
        ApiError::new(
            ErrorCode::Invalid,
            Some(field.to_string()),
            format!("field `{field}`: {e}"),
        )
    })
}

fn not_yet(verb: Verb) -> ApiError {
    let why = match verb {
        Verb::Post | Verb::Unpost | Verb::Feed => "the studio (drafts, posts, feed) is issue #8",
        _ => "playout is not wired into reeld yet (issue #5)",
    };
    ApiError::new(
        ErrorCode::NotSupported,
        None,
        format!("{} is not supported yet: {why}", verb.as_str()),
    )
}

fn failed(message: String) -> ApiError {
    ApiError::new(ErrorCode::Failed, None, message)
}

fn store_error(e: StoreError) -> ApiError {
    let field = |name: &str| Some(name.to_string());
    match e {
        StoreError::Refused(refusal) => {
            let (code, field) = match refusal {
                AdmissionError::QueueFull { .. } => (ErrorCode::QueueFull, None),
                AdmissionError::EmptyPrompt | AdmissionError::PromptTooLong { .. } => {
                    (ErrorCode::Invalid, field("prompt"))
                }
                AdmissionError::BadSeconds { .. } => (ErrorCode::Invalid, field("seconds")),
            };
            let message = match &field {
                Some(name) => format!("field `{name}`: {refusal}"),
                None => refusal.to_string(),
            };
            ApiError::new(code, field, message)
        }
        StoreError::NotFound(id) => ApiError::new(
            ErrorCode::NotFound,
            field("id"),
            format!("field `id`: no job {id}; `jobs` lists them"),
        ),
        other => failed(other.to_string()),
    }
}

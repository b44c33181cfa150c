//! The `reelctl` subcommands.

use std::path::{Path, PathBuf};

use clap::Args;
use reel_daemon::config::Config;
use reel_daemon::generate::{ClipRequest, GenerateError, generate_clip};
use reel_daemon::queue::{CancelAction, Limits};
use reel_daemon::service::now_ms;
use reel_daemon::store::{NewJob, Store};
use reel_daemon::worker::{WorkError, load_engine};
use reel_engines::{Bundle, CancelToken};

use crate::Failure;
use crate::progress::ProgressView;

/// What to make.
#[derive(Debug, Args)]
pub struct ClipArgs {
    /// What the clip shows, e.g. "a red rubber ball bounces on a wooden floor".
    pub(crate) prompt: String,
    /// Length in seconds (default: the bundle's).
    #[arg(long)]
    pub(crate) seconds: Option<f64>,
    /// Noise seed; the same seed, prompt and bundle give the same clip (default: random).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Model bundle directory (default: `engine.bundle` from the configuration).
    #[arg(long, value_name = "PATH")]
    pub(crate) bundle: Option<PathBuf>,
}

/// Arguments of `reelctl generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub(crate) clip: ClipArgs,
    /// Where to write the MP4 (default: ./reel-<time>.mp4).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

/// Arguments of `reelctl submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub(crate) clip: ClipArgs,
}

/// Arguments of `reelctl jobs`.
#[derive(Debug, Args)]
pub struct JobsArgs {
    /// How many of the newest jobs to show.
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: u32,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

struct Resolved {
    bundle_dir: PathBuf,
    bundle: Bundle,
    seed: u64,
    limits: Limits,
}

/// Opens the bundle and checks the request the same way reeld will, so mistakes show up here.
fn resolve(config: &Config, clip: &ClipArgs) -> Result<Resolved, Failure> {
    let bundle_dir = clip
        .bundle
        .clone()
        .unwrap_or_else(|| config.engine.bundle.clone());
    let bundle_dir = std::path::absolute(&bundle_dir).unwrap_or(bundle_dir);
    let bundle = Bundle::open(&bundle_dir).map_err(|e| {
        Failure::Failed(format!(
            "{e}\n(pass --bundle PATH or set engine.bundle in the configuration)"
        ))
    })?;
    let limits = config.jobs.limits(bundle.manifest().clip.max_seconds);
    reel_daemon::queue::admit(0, &clip.prompt, clip.seconds, &limits)
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let seed = clip.seed.unwrap_or_else(random_seed);
    Ok(Resolved {
        bundle_dir,
        bundle,
        seed,
        limits,
    })
}

fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    (nanos ^ (std::process::id() as u64).rotate_left(32)) % 1_000_000_000
}

/// `reelctl generate`: runs the engine in this process.
pub fn generate(config: &Config, args: GenerateArgs) -> Result<(), Failure> {
    let resolved = resolve(config, &args.clip)?;
    let output = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("reel-{}.mp4", now_ms() / 1000)));
    eprintln!(
        "bundle {} · seed {} · writing {}",
        resolved.bundle_dir.display(),
        resolved.seed,
        output.display()
    );
    let mut engine = load_engine(&resolved.bundle_dir, &config.engine.runtime)
        .map_err(|e| Failure::Failed(e.to_string()))?;
    drop(resolved.bundle);
    let request = ClipRequest {
        prompt: args.clip.prompt,
        seconds: args.clip.seconds,
        seed: resolved.seed,
        output,
    };
    let mut view = ProgressView::new();
    let result = generate_clip(
        &mut engine,
        &request,
        &config.output.encoder,
        &CancelToken::new(),
        &mut |p| view.update(&p),
    );
    view.finish();
    let clip = result.map_err(|e| match e {
        GenerateError::Cancelled => Failure::Failed("cancelled".into()),
        e => Failure::Failed(format!("generation failed: {}", WorkError::from(e))),
    })?;
    eprintln!(
        "done in {:.1} s: {} bytes, {}x{} @ {:.2} fps, video {} / audio {}",
        clip.timings.total_ms as f64 / 1000.0,
        clip.mp4.bytes,
        clip.format.width,
        clip.format.height,
        clip.format.fps(),
        clip.mp4.video_encoder,
        clip.mp4.audio_encoder
    );
    println!("{}", clip.mp4.path.display());
    Ok(())
}

fn open_store(config: &Config) -> Result<Store, Failure> {
    Store::open(&config.database_path()).map_err(|e| Failure::Failed(e.to_string()))
}

/// `reelctl submit`: queues a job in the jobs database for reeld.
pub fn submit(config: &Config, args: SubmitArgs) -> Result<(), Failure> {
    let resolved = resolve(config, &args.clip)?;
    let mut store = open_store(config)?;
    let job = NewJob {
        prompt: args.clip.prompt,
        seconds: args.clip.seconds,
        seed: resolved.seed,
        bundle: resolved.bundle_dir.display().to_string(),
    };
    let id = store
        .submit(&job, &resolved.limits, now_ms())
        .map_err(|e| Failure::Failed(e.to_string()))?;
    eprintln!(
        "queued job {id} (seed {}); reeld runs it next; `reelctl jobs` shows progress",
        job.seed
    );
    println!("{id}");
    Ok(())
}

/// `reelctl jobs`: the newest jobs, as a table or JSON lines.
pub fn jobs(config: &Config, args: JobsArgs) -> Result<(), Failure> {
    if !config.database_path().exists() {
        return Err(Failure::Failed(no_database(&config.database_path())));
    }
    let store = open_store(config)?;
    let jobs = store
        .list_jobs(args.limit)
        .map_err(|e| Failure::Failed(e.to_string()))?;
    if args.json {
        for job in &jobs {
            println!("{}", serde_json::to_string(job).unwrap_or_default());
        }
        return Ok(());
    }
    print_header();
    for job in &jobs {
        let result = job.output.as_deref().or(job.error.as_deref()).unwrap_or("");
        print_row(&Row {
            id: job.id,
            state: job.state.as_str(),
            stage: job.progress.stage.as_str(),
            fraction: job.progress.fraction,
            attempts: job.attempts,
            prompt: &job.prompt,
            result,
        });
    }
    Ok(())
}

/// One line of `reelctl jobs`.
pub(crate) struct Row<'a> {
    pub(crate) id: i64,
    pub(crate) state: &'a str,
    pub(crate) stage: &'a str,
    pub(crate) fraction: f64,
    pub(crate) attempts: u32,
    pub(crate) prompt: &'a str,
    pub(crate) result: &'a str,
}

pub(crate) fn print_header() {
    println!(
        "{:>5}  {:<10} {:<14} {:>5}  {:>3}  {:<32} RESULT",
        "ID", "STATE", "STAGE", "DONE", "TRY", "PROMPT"
    );
}

pub(crate) fn print_row(row: &Row<'_>) {
    let prompt: String = row.prompt.chars().take(30).collect();
    let prompt = if row.prompt.chars().count() > 30 {
        format!("{prompt}…")
    } else {
        prompt
    };
    println!(
        "{:>5}  {:<10} {:<14} {:>4.0}%  {:>3}  {:<32} {}",
        row.id,
        row.state,
        row.stage,
        row.fraction * 100.0,
        row.attempts,
        prompt,
        row.result
    );
}

/// `reelctl cancel`.
pub fn cancel(config: &Config, id: i64) -> Result<(), Failure> {
    if !config.database_path().exists() {
        return Err(Failure::Failed(no_database(&config.database_path())));
    }
    let store = open_store(config)?;
    match store
        .request_cancel(id, now_ms())
        .map_err(|e| Failure::Failed(e.to_string()))?
    {
        CancelAction::CancelQueued => eprintln!("job {id} cancelled"),
        CancelAction::StopRunning => {
            eprintln!("job {id} is running; reeld stops it within one step")
        }
        CancelAction::AlreadyFinished(state) => eprintln!("job {id} is already {}", state.as_str()),
    }
    Ok(())
}

fn no_database(path: &Path) -> String {
    format!(
        "no jobs database at {}; pass --state-dir DIR (reeld's state directory)",
        path.display()
    )
}

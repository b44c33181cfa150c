//! The jobs database (SQLite, WAL): jobs with their progress and timings, and the media index.
//! Schema changes are numbered migrations recorded in `PRAGMA user_version`. Decisions come from
//! [`crate::queue`]; this module only applies them atomically.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reel_clip::{Progress, Stage};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::queue::{
    self, AdmissionError, CancelAction, JobId, JobState, JobSummary, Limits, Recovery,
};

/// Migrations in order; entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &["CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        prompt TEXT NOT NULL,
        seconds REAL,
        seed INTEGER NOT NULL,
        bundle TEXT NOT NULL,
        state TEXT NOT NULL,
        stage TEXT NOT NULL DEFAULT 'queued',
        step INTEGER NOT NULL DEFAULT 0,
        steps INTEGER NOT NULL DEFAULT 0,
        fraction REAL NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        output TEXT,
        timings TEXT,
        created_ms INTEGER NOT NULL,
        started_ms INTEGER,
        finished_ms INTEGER
    );
    CREATE INDEX jobs_by_state ON jobs(state);
    CREATE TABLE media (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id INTEGER REFERENCES jobs(id),
        path TEXT NOT NULL UNIQUE,
        bytes INTEGER NOT NULL,
        duration_ns INTEGER NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        fps REAL NOT NULL,
        sample_rate INTEGER NOT NULL,
        video_encoder TEXT NOT NULL,
        audio_encoder TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    );"];

/// Errors of the store. Messages say which database and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (disk full, permissions, corruption…).
    #[error("jobs database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The state directory could not be created.
    #[error(
        "cannot create state directory {path}: {source}; set state_dir or --state-dir to a writable directory"
    )]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database was written by a newer Reel.
    #[error(
        "jobs database {path} has schema version {found}, newer than this build knows ({known}); upgrade Reel"
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Version found.
        found: u32,
        /// Latest version this build knows.
        known: u32,
    },
    /// The submission was refused.
    #[error(transparent)]
    Refused(#[from] AdmissionError),
    /// No job has that id.
    #[error("no job {0}; `reelctl jobs` lists them")]
    NotFound(JobId),
    /// The move is not allowed from the job's current state.
    #[error("job {id} is {from}; it cannot become {to}")]
    IllegalTransition {
        /// The job.
        id: JobId,
        /// Its state now.
        from: &'static str,
        /// The state asked for.
        to: &'static str,
    },
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    /// Identifier.
    pub id: JobId,
    /// The prompt.
    pub prompt: String,
    /// Requested length; `None` means the bundle's default.
    pub seconds: Option<f64>,
    /// Noise seed.
    pub seed: u64,
    /// Bundle directory.
    pub bundle: String,
    /// Life-cycle state.
    pub state: JobState,
    /// Latest progress.
    pub progress: Progress,
    /// Times started.
    pub attempts: u32,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// The finished clip's path.
    pub output: Option<String>,
    /// Per-stage timings as JSON, once finished.
    pub timings: Option<serde_json::Value>,
    /// Unix milliseconds.
    pub created_ms: i64,
    /// Unix milliseconds of the latest start.
    pub started_ms: Option<i64>,
    /// Unix milliseconds of the end.
    pub finished_ms: Option<i64>,
}

/// A job to submit.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The prompt.
    pub prompt: String,
    /// Requested length; `None` means the bundle's default.
    pub seconds: Option<f64>,
    /// Noise seed.
    pub seed: u64,
    /// Bundle directory.
    pub bundle: String,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A clip was written.
    Succeeded {
        /// Its path.
        output: String,
        /// Per-stage timings.
        timings: serde_json::Value,
    },
    /// It failed; the message says why.
    Failed(String),
    /// A user cancelled it.
    Cancelled,
    /// The daemon stopped it (shutdown); it goes back to the queue without using up an attempt.
    Interrupted,
}

/// A finished clip, for the media index.
#[derive(Debug, Clone)]
pub struct MediaRecord {
    /// The job that made it.
    pub job_id: JobId,
    /// File path.
    pub path: String,
    /// File size.
    pub bytes: u64,
    /// Duration in nanoseconds.
    pub duration_ns: u64,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frames per second.
    pub fps: f64,
    /// Audio sample rate.
    pub sample_rate: u32,
    /// Video encoder element used.
    pub video_encoder: String,
    /// Audio encoder element used.
    pub audio_encoder: String,
}

/// The open database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

const JOB_COLUMNS: &str = "id, prompt, seconds, seed, bundle, state, stage, step, steps, fraction, \
     attempts, error, output, timings, created_ms, started_ms, finished_ms";

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::StateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        })?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.configure().map_err(|e| store.err(e))?;
        store.migrate()?;
        Ok(store)
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn configure(&self) -> rusqlite::Result<()> {
        // Another process (`reelctl submit`) may hold the write lock for a moment.
        self.conn.busy_timeout(Duration::from_secs(5))?;
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        self.conn.pragma_update(None, "foreign_keys", true)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let known = MIGRATIONS.len() as u32;
        let path = self.path.clone();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        // The version is read inside the write transaction: reeld and reelctl may open a new
        // database at the same moment, and only one of them must apply the migrations.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(wrap)?;
        let found: u32 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(wrap)?;
        if found > known {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found,
                known,
            });
        }
        for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.execute_batch(sql).map_err(wrap)?;
            tx.pragma_update(None, "user_version", version as u32 + 1)
                .map_err(wrap)?;
        }
        tx.commit().map_err(wrap)
    }

    /// The schema version now in the file.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Queues a job if [`queue::admit`] allows it; the check and the insert are one transaction,
    /// so two submitters cannot both take the last place.
    pub fn submit(
        &mut self,
        job: &NewJob,
        limits: &Limits,
        now_ms: i64,
    ) -> Result<JobId, StoreError> {
        let path = self.path.clone();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(wrap)?;
        let active: u32 = tx
            .query_row(
                "SELECT COUNT(*) FROM jobs WHERE state IN ('queued','running')",
                [],
                |r| r.get(0),
            )
            .map_err(wrap)?;
        queue::admit(active, &job.prompt, job.seconds, limits)?;
        tx.execute(
            "INSERT INTO jobs (prompt, seconds, seed, bundle, state, created_ms) VALUES (?1, ?2, ?3, ?4, 'queued', ?5)",
            params![job.prompt, job.seconds, job.seed as i64, job.bundle, now_ms],
        )
        .map_err(wrap)?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(wrap)?;
        Ok(id)
    }

    /// Jobs that are not over, for the queue's decisions.
    pub fn active_summaries(&self) -> Result<Vec<JobSummary>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, state, attempts FROM jobs WHERE state IN ('queued','running')")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                let state: String = r.get(1)?;
                Ok(JobSummary {
                    id: r.get(0)?,
                    state: JobState::parse(&state).unwrap_or(JobState::Failed),
                    attempts: r.get(2)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>());
        rows.map_err(|e| self.err(e))
    }

    /// Applies [`queue::recover`] to jobs left running by a previous daemon; returns what it did.
    pub fn recover(&mut self, max_attempts: u32, now_ms: i64) -> Result<Vec<Recovery>, StoreError> {
        let actions = queue::recover(&self.active_summaries()?, max_attempts);
        let path = self.path.clone();
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        for action in &actions {
            match action {
                Recovery::Requeue(id) => tx.execute(
                    "UPDATE jobs SET state='queued', stage='queued', step=0, steps=0, fraction=0, \
                     cancel_requested=0 WHERE id=?1",
                    params![id],
                ),
                Recovery::Fail(id, reason) => tx.execute(
                    "UPDATE jobs SET state='failed', error=?2, finished_ms=?3 WHERE id=?1",
                    params![id, reason, now_ms],
                ),
            }
            .map_err(wrap)?;
        }
        tx.commit().map_err(wrap)?;
        Ok(actions)
    }

    /// Marks the job [`queue::next_job`] picks as running (counting an attempt) and returns it.
    pub fn claim_next(&mut self, now_ms: i64) -> Result<Option<JobRecord>, StoreError> {
        let Some(id) = queue::next_job(&self.active_summaries()?) else {
            return Ok(None);
        };
        self.transition(id, JobState::Running)?;
        self.conn
            .execute(
                "UPDATE jobs SET state='running', attempts=attempts+1, started_ms=?2, stage='loading', \
                 step=0, steps=0, fraction=0 WHERE id=?1",
                params![id, now_ms],
            )
            .map_err(|e| self.err(e))?;
        self.job(id).map(Some)
    }

    fn transition(&self, id: JobId, to: JobState) -> Result<JobState, StoreError> {
        let from = self.job(id)?.state;
        if from.can_become(to) {
            Ok(from)
        } else {
            Err(StoreError::IllegalTransition {
                id,
                from: from.as_str(),
                to: to.as_str(),
            })
        }
    }

    /// Records progress of a running job.
    pub fn set_progress(&self, id: JobId, progress: &Progress) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE jobs SET stage=?2, step=?3, steps=?4, fraction=?5 WHERE id=?1 AND state='running'",
                params![id, progress.stage.as_str(), progress.step, progress.steps, progress.fraction],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// Records how a run ended.
    pub fn finish(&self, id: JobId, outcome: &Outcome, now_ms: i64) -> Result<(), StoreError> {
        let to = match outcome {
            Outcome::Succeeded { .. } => JobState::Succeeded,
            Outcome::Failed(_) => JobState::Failed,
            Outcome::Cancelled => JobState::Cancelled,
            Outcome::Interrupted => JobState::Queued,
        };
        self.transition(id, to)?;
        let done = match outcome {
            Outcome::Succeeded { output, timings } => self.conn.execute(
                "UPDATE jobs SET state='succeeded', stage='finished', fraction=1, output=?2, \
                 timings=?3, finished_ms=?4 WHERE id=?1",
                params![id, output, timings.to_string(), now_ms],
            ),
            Outcome::Failed(error) => self.conn.execute(
                "UPDATE jobs SET state='failed', error=?2, finished_ms=?3 WHERE id=?1",
                params![id, error, now_ms],
            ),
            Outcome::Cancelled => self.conn.execute(
                "UPDATE jobs SET state='cancelled', finished_ms=?2 WHERE id=?1",
                params![id, now_ms],
            ),
            Outcome::Interrupted => self.conn.execute(
                "UPDATE jobs SET state='queued', stage='queued', step=0, steps=0, fraction=0, \
                 attempts=MAX(attempts-1, 0) WHERE id=?1",
                params![id],
            ),
        };
        done.map(drop).map_err(|e| self.err(e))
    }

    /// Cancels a job: a queued one at once, a running one by flagging it for the daemon.
    pub fn request_cancel(&self, id: JobId, now_ms: i64) -> Result<CancelAction, StoreError> {
        let action = queue::cancel(self.job(id)?.state);
        match action {
            CancelAction::CancelQueued => {
                self.finish(id, &Outcome::Cancelled, now_ms)?;
            }
            CancelAction::StopRunning => {
                self.conn
                    .execute(
                        "UPDATE jobs SET cancel_requested=1 WHERE id=?1",
                        params![id],
                    )
                    .map_err(|e| self.err(e))?;
            }
            CancelAction::AlreadyFinished(_) => {}
        }
        Ok(action)
    }

    /// Whether someone asked to cancel this job.
    pub fn cancel_requested(&self, id: JobId) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT cancel_requested FROM jobs WHERE id=?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map(|flag| flag.unwrap_or(false))
            .map_err(|e| self.err(e))
    }

    /// One job.
    pub fn job(&self, id: JobId) -> Result<JobRecord, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id=?1");
        self.conn
            .query_row(&sql, params![id], job_from_row)
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or(StoreError::NotFound(id))
    }

    /// The newest `limit` jobs, newest first.
    pub fn list_jobs(&self, limit: u32) -> Result<Vec<JobRecord>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT ?1");
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![limit], job_from_row)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>());
        rows.map_err(|e| self.err(e))
    }

    /// Adds a finished clip to the media index.
    pub fn insert_media(&self, media: &MediaRecord, now_ms: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO media (job_id, path, bytes, duration_ns, width, height, fps, sample_rate, \
                 video_encoder, audio_encoder, created_ms) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                params![
                    media.job_id,
                    media.path,
                    media.bytes as i64,
                    media.duration_ns as i64,
                    media.width,
                    media.height,
                    media.fps,
                    media.sample_rate,
                    media.video_encoder,
                    media.audio_encoder,
                    now_ms
                ],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// Number of clips in the media index.
    pub fn media_count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM media", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }
}

fn job_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRecord> {
    let state: String = r.get(5)?;
    let stage: String = r.get(6)?;
    let timings: Option<String> = r.get(13)?;
    Ok(JobRecord {
        id: r.get(0)?,
        prompt: r.get(1)?,
        seconds: r.get(2)?,
        seed: r.get::<_, i64>(3)? as u64,
        bundle: r.get(4)?,
        state: JobState::parse(&state).unwrap_or(JobState::Failed),
        progress: Progress {
            stage: Stage::parse(&stage).unwrap_or_default(),
            step: r.get(7)?,
            steps: r.get(8)?,
            fraction: r.get(9)?,
        },
        attempts: r.get(10)?,
        error: r.get(11)?,
        output: r.get(12)?,
        timings: timings.and_then(|t| serde_json::from_str(&t).ok()),
        created_ms: r.get(14)?,
        started_ms: r.get(15)?,
        finished_ms: r.get(16)?,
    })
}

//! The jobs database on a real SQLite file: migrations, admission, the life of a job, and
//! recovery from a database left behind by a crash.

use reel_clip::{Progress, Stage};
use reel_daemon::queue::{AdmissionError, CancelAction, JobState, Limits, Recovery};
use reel_daemon::store::{NewJob, Outcome, Store, StoreError};

const LIMITS: Limits = Limits {
    capacity: 3,
    max_prompt_chars: 100,
    max_seconds: 10.0,
};

fn job(prompt: &str) -> NewJob {
    NewJob {
        prompt: prompt.into(),
        seconds: Some(2.0),
        seed: 7,
        bundle: "/b".into(),
    }
}

#[test]
fn schema_is_created_and_kept_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/reel.db");
    let id = {
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), 1);
        store.submit(&job("a ball"), &LIMITS, 1000).unwrap()
    };
    let store = Store::open(&path).unwrap();
    let record = store.job(id).unwrap();
    assert_eq!(record.state, JobState::Queued);
    assert_eq!(record.prompt, "a ball");
    assert_eq!(record.seconds, Some(2.0));
    assert_eq!(record.created_ms, 1000);
}

#[test]
fn a_database_from_a_newer_release_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reel.db");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    match Store::open(&path) {
        Err(StoreError::NewerSchema {
            found: 99,
            known: 1,
            ..
        }) => {}
        other => panic!("expected NewerSchema, got {other:?}"),
    }
}

#[test]
fn submissions_beyond_capacity_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("reel.db")).unwrap();
    for i in 0..3 {
        store
            .submit(&job(&format!("ball {i}")), &LIMITS, 0)
            .unwrap();
    }
    let err = store.submit(&job("one too many"), &LIMITS, 0).unwrap_err();
    assert!(matches!(
        err,
        StoreError::Refused(AdmissionError::QueueFull {
            active: 3,
            capacity: 3
        })
    ));
    assert_eq!(store.list_jobs(10).unwrap().len(), 3);
    // Finished jobs free their place.
    let running = store.claim_next(1).unwrap().unwrap();
    store
        .finish(running.id, &Outcome::Failed("boom".into()), 2)
        .unwrap();
    store.submit(&job("now it fits"), &LIMITS, 3).unwrap();
}

#[test]
fn a_job_runs_once_at_a_time_in_order_and_records_its_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("reel.db")).unwrap();
    let first = store.submit(&job("first"), &LIMITS, 0).unwrap();
    let second = store.submit(&job("second"), &LIMITS, 0).unwrap();
    let claimed = store.claim_next(10).unwrap().unwrap();
    assert_eq!(
        (claimed.id, claimed.state, claimed.attempts),
        (first, JobState::Running, 1)
    );
    assert!(
        store.claim_next(11).unwrap().is_none(),
        "only one job on the engine at a time"
    );
    let progress = Progress {
        stage: Stage::Denoising,
        step: 3,
        steps: 8,
        fraction: 0.4,
    };
    store.set_progress(first, &progress).unwrap();
    assert_eq!(store.job(first).unwrap().progress, progress);
    let timings = serde_json::json!({"total_ms": 5});
    store
        .finish(
            first,
            &Outcome::Succeeded {
                output: "/m/1.mp4".into(),
                timings: timings.clone(),
            },
            20,
        )
        .unwrap();
    let done = store.job(first).unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.output.as_deref(), Some("/m/1.mp4"));
    assert_eq!(done.timings, Some(timings));
    assert_eq!((done.started_ms, done.finished_ms), (Some(10), Some(20)));
    // A finished job cannot be finished again.
    assert!(matches!(
        store.finish(first, &Outcome::Cancelled, 21),
        Err(StoreError::IllegalTransition { .. })
    ));
    assert_eq!(store.claim_next(30).unwrap().unwrap().id, second);
}

#[test]
fn cancel_is_immediate_when_queued_and_flagged_when_running() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("reel.db")).unwrap();
    let running = store.submit(&job("running"), &LIMITS, 0).unwrap();
    let queued = store.submit(&job("queued"), &LIMITS, 0).unwrap();
    store.claim_next(1).unwrap();
    assert_eq!(
        store.request_cancel(queued, 2).unwrap(),
        CancelAction::CancelQueued
    );
    assert_eq!(store.job(queued).unwrap().state, JobState::Cancelled);
    assert_eq!(
        store.request_cancel(running, 2).unwrap(),
        CancelAction::StopRunning
    );
    assert!(store.cancel_requested(running).unwrap());
    assert_eq!(store.job(running).unwrap().state, JobState::Running);
    assert!(matches!(
        store.request_cancel(999, 2),
        Err(StoreError::NotFound(999))
    ));
}

#[test]
fn a_crash_mid_job_requeues_it_once_then_fails_it_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reel.db");
    let (id, waiting) = {
        let mut store = Store::open(&path).unwrap();
        let id = store.submit(&job("interrupted"), &LIMITS, 0).unwrap();
        let waiting = store.submit(&job("waiting"), &LIMITS, 0).unwrap();
        store.claim_next(1).unwrap();
        (id, waiting) // dropped without finishing: as after SIGKILL
    };
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.recover(2, 5).unwrap(), vec![Recovery::Requeue(id)]);
    assert_eq!(store.job(id).unwrap().state, JobState::Queued);
    assert_eq!(store.job(waiting).unwrap().state, JobState::Queued);
    // It keeps its place at the head of the queue.
    assert_eq!(store.claim_next(6).unwrap().unwrap().id, id);
    drop(store);

    let mut store = Store::open(&path).unwrap();
    let actions = store.recover(2, 7).unwrap();
    assert!(matches!(&actions[..], [Recovery::Fail(failed, _)] if *failed == id));
    let failed = store.job(id).unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert!(failed.error.unwrap().contains("interrupted 2 times"));
    assert_eq!(
        store.job(waiting).unwrap().state,
        JobState::Queued,
        "others are untouched"
    );
}

#[test]
fn an_interruption_by_shutdown_does_not_use_up_an_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("reel.db")).unwrap();
    let id = store.submit(&job("long"), &LIMITS, 0).unwrap();
    store.claim_next(1).unwrap();
    store.finish(id, &Outcome::Interrupted, 2).unwrap();
    let record = store.job(id).unwrap();
    assert_eq!((record.state, record.attempts), (JobState::Queued, 0));
}

//! `reeld` as an operator meets it: configuration, jobs taken from the store, SIGKILL in the
//! middle of a job (the job is not lost), SIGTERM with a grace time, and cancel.

mod common;

use common::{Setup, files_in, reeld_command, run, text};
use reel_clip::Stage;
use reel_daemon::config::Config;
use reel_daemon::queue::JobState;

/// Sampler steps and clip length for a job that runs long enough (seconds of denoising, here)
/// to be interrupted on purpose; tests wait for the denoising stage, then act.
const SLOW_STEPS: u32 = 1000;
const SLOW_SECONDS: &str = "10";

fn is_denoising(job: &reel_daemon::store::JobRecord) -> bool {
    job.state == JobState::Running && job.progress.stage == Stage::Denoising
}

#[test]
fn print_config_shows_the_effective_configuration() {
    let setup = Setup::new("queue_capacity = 5\n");
    let out = run(reeld_command().arg("--config").arg(&setup.config).args([
        "--state-dir",
        "/srv/reel",
        "--print-config",
    ]));
    assert!(out.status.success());
    let printed = Config::parse(&text(&out.stdout)).expect("printed config parses back");
    assert_eq!(printed.jobs.queue_capacity, 5);
    assert_eq!(printed.state_dir, std::path::PathBuf::from("/srv/reel"));
    assert_eq!(
        printed.jobs.max_attempts,
        Config::default().jobs.max_attempts
    );

    let defaults = run(reeld_command().args(["--config", "/dev/null", "--print-config"]));
    assert_eq!(
        Config::parse(&text(&defaults.stdout)).unwrap(),
        Config::default()
    );
}

#[test]
fn bad_configuration_exits_64_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reeld.toml");
    for (content, key) in [
        ("[jobs]\npoll_interval_ms = 1\n", "jobs.poll_interval_ms"),
        ("[log]\nformt = 1\n", "log.formt"),
    ] {
        std::fs::write(&path, content).unwrap();
        let out = run(reeld_command().arg("--config").arg(&path));
        assert_eq!(out.status.code(), Some(64));
        assert!(text(&out.stderr).contains(key), "expected {key}");
    }
}

#[test]
fn a_submitted_job_runs_and_sigterm_exits_cleanly() {
    let setup = Setup::new("");
    let reeld = setup.start_reeld();
    let id = setup.submit(&[
        "a green ball rolls down a ramp",
        "--seconds",
        "1",
        "--seed",
        "3",
    ]);
    let job = setup.wait_for(id, "finished", |j| j.state.is_terminal());
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert_eq!(job.attempts, 1);
    let output = std::path::PathBuf::from(job.output.unwrap());
    assert_eq!(
        output,
        setup
            .state_dir()
            .join("media")
            .join(format!("job-{id}.mp4"))
    );
    reel_pipeline::init().unwrap();
    let info = reel_pipeline::discover(&output).unwrap();
    assert!(info.video.is_some() && info.audio.is_some());
    assert!(job.timings.unwrap()["total_ms"].as_u64().is_some());
    reeld.signal("TERM");
    assert_eq!(reeld.wait(), Some(0));
}

#[test]
fn sigkill_mid_job_requeues_it_once_then_fails_it_with_the_reason() {
    let setup = Setup::new("");
    let slow = common::slow_bundle(setup.dir.path(), SLOW_STEPS);
    let bundle = slow.to_str().unwrap();
    let id = setup.submit(&[
        "a metal ball drops",
        "--seconds",
        SLOW_SECONDS,
        "--bundle",
        bundle,
    ]);
    let waiting = setup.submit(&["a wooden box slides", "--seconds", "1"]);

    let reeld = setup.start_reeld();
    setup.wait_for(id, "denoising", is_denoising);
    reeld.kill_hard();
    let after_crash = setup.job(id);
    assert_eq!(
        (after_crash.state, after_crash.attempts),
        (JobState::Running, 1)
    );

    // Started again: the interrupted job is queued again and runs first.
    let reeld = setup.start_reeld();
    let second_run = setup.wait_for(id, "running again", |j| is_denoising(j) && j.attempts == 2);
    assert_eq!(
        setup.job(waiting).state,
        JobState::Queued,
        "the waiting job keeps waiting"
    );
    drop(second_run);
    reeld.kill_hard();

    // Interrupted on its last attempt: failed with the reason, and the queue moves on.
    let reeld = setup.start_reeld();
    let failed = setup.wait_for(id, "failed", |j| j.state.is_terminal());
    assert_eq!(failed.state, JobState::Failed);
    assert!(
        failed
            .error
            .as_deref()
            .unwrap_or("")
            .contains("interrupted 2 times"),
        "{failed:?}"
    );
    let next = setup.wait_for(waiting, "finished", |j| j.state.is_terminal());
    assert_eq!(next.state, JobState::Succeeded, "{next:?}");
    let media = files_in(&setup.state_dir().join("media"));
    assert_eq!(
        media,
        vec![format!("job-{waiting}.mp4")],
        "no partial file of the killed job"
    );
    reeld.signal("INT");
    assert_eq!(reeld.wait(), Some(0));
}

#[test]
fn sigterm_past_the_grace_time_interrupts_the_job_and_keeps_it_queued() {
    let setup = Setup::new("shutdown_grace_secs = 0\n");
    let slow = common::slow_bundle(setup.dir.path(), SLOW_STEPS);
    let id = setup.submit(&[
        "a cork floats",
        "--seconds",
        SLOW_SECONDS,
        "--bundle",
        slow.to_str().unwrap(),
    ]);
    let reeld = setup.start_reeld();
    setup.wait_for(id, "denoising", is_denoising);
    reeld.signal("TERM");
    assert_eq!(reeld.wait(), Some(0));
    let job = setup.job(id);
    assert_eq!((job.state, job.attempts), (JobState::Queued, 0), "{job:?}");
    assert!(files_in(&setup.state_dir().join("media")).is_empty());
}

#[test]
fn cancel_stops_a_running_job_and_the_daemon_carries_on() {
    let setup = Setup::new("");
    let slow = common::slow_bundle(setup.dir.path(), SLOW_STEPS);
    let reeld = setup.start_reeld();
    let id = setup.submit(&[
        "a stone sinks",
        "--seconds",
        SLOW_SECONDS,
        "--bundle",
        slow.to_str().unwrap(),
    ]);
    let running = setup.wait_for(id, "denoising", is_denoising);
    let out = run(setup.reelctl().args(["cancel", &id.to_string()]));
    assert!(out.status.success());
    let cancelled = setup.wait_for(id, "cancelled", |j| j.state.is_terminal());
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert!(
        cancelled.progress.step < SLOW_STEPS,
        "stopped mid-way, at step {} of {SLOW_STEPS} (was at {})",
        cancelled.progress.step,
        running.progress.step
    );
    assert!(
        files_in(&setup.state_dir().join("media")).is_empty(),
        "no clip, no partial file"
    );

    let next = setup.submit(&["a yellow ball bounces", "--seconds", "1"]);
    let done = setup.wait_for(next, "finished", |j| j.state.is_terminal());
    assert_eq!(done.state, JobState::Succeeded);
    let again = run(setup.reelctl().args(["cancel", &id.to_string()]));
    assert!(again.status.success() && text(&again.stderr).contains("already cancelled"));
    let unknown = run(setup.reelctl().args(["cancel", "999"]));
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("no job 999"));
    reeld.signal("TERM");
    assert_eq!(reeld.wait(), Some(0));
}

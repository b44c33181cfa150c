//! The D-Bus API through the Rust proxies on a private bus: the committed introspection, a job
//! followed race-free from `Generate` to `Completed`, cancel, bad input answered with named
//! errors while the daemon keeps serving, jobs from other submitters, and 50 clients at once.

mod common;

use std::collections::HashMap;

use common::bus::{JOB_IFACE, MANAGER, MANAGER_IFACE, NAME, block_on};
use common::dbus_client::{call, daemon, error_name, follow, job_proxy, job_signals, options};
use common::{PATIENCE, run, text, workspace_root};
use futures_util::StreamExt;
use reel_daemon::dbus::ManagerProxy;
use zbus::{OwnedObjectPath, OwnedVariant};

#[test]
fn introspection_matches_the_committed_xml() {
    let d = daemon("");
    let live = block_on(async {
        let connection = d.bus.connect().await;
        let manager = ManagerProxy::new(&connection).await.unwrap();
        let job = manager
            .generate("a pendulum swings".into(), HashMap::new())
            .await
            .unwrap();
        let mut blocks = Vec::new();
        for (path, iface) in [(MANAGER, MANAGER_IFACE), (job.as_str(), JOB_IFACE)] {
            let xml = zbus::fdo::IntrospectableProxy::builder(&connection)
                .destination(NAME)
                .path(path)
                .build()
                .await
                .unwrap()
                .introspect()
                .await
                .unwrap();
            let start = xml
                .find(&format!("<interface name=\"{iface}\">"))
                .expect("interface present");
            let end = start + xml[start..].find("</interface>").unwrap() + "</interface>".len();
            blocks.push(xml[start..end].to_string());
        }
        blocks
    });
    let live = format!(
        "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n \
         \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n\
         <!-- org.reel.Reel1, as reeld serves it: the manager at /org/reel/Reel1 and each job at\n     \
         /org/reel/Reel1/Job/<id>. tests/dbus.rs checks that this file matches the running service;\n     \
         after a deliberate change, regenerate it by running that test\n     \
         (introspection_matches_the_committed_xml) with REEL_BLESS=1 set. -->\n\
         <node>\n  {}\n  {}\n</node>\n",
        live[0], live[1]
    );
    let committed_path = workspace_root().join("daemon/dbus/org.reel.Reel1.xml");
    if std::env::var_os("REEL_BLESS").is_some() {
        std::fs::write(&committed_path, &live).unwrap();
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == live,
        "the running service's introspection differs from {}; if the change is meant, run this test \
         with REEL_BLESS=1 set. Running service:\n{live}",
        committed_path.display()
    );
}

#[test]
fn a_job_is_followed_race_free_from_generate_to_completed() {
    let d = daemon("");
    block_on(async {
        let connection = d.bus.connect().await;
        let mut signals = job_signals(&connection).await;
        let manager = ManagerProxy::new(&connection).await.unwrap();
        assert_eq!(manager.version().await.unwrap(), env!("CARGO_PKG_VERSION"));
        let path = manager
            .generate(
                "a red ball bounces on a wooden floor".into(),
                options(&[("seconds", 1.into()), ("seed", 7u64.into())]),
            )
            .await
            .unwrap();
        let followed = follow(&mut signals, &path).await;
        assert!(followed.ok, "{}", followed.message);
        let states: Vec<u32> = followed.values("State");
        // Running, then succeeded (the object may be born running if the service was quicker).
        assert!(states.iter().all(|s| [2, 3].contains(s)), "{states:?}");
        assert_eq!(
            states.last(),
            Some(&3),
            "succeeded before Completed: {states:?}"
        );
        let progress: Vec<f64> = followed.values("Progress");
        assert!(
            progress.windows(2).all(|w| w[0] <= w[1]),
            "progress only grows: {progress:?}"
        );
        let stages: Vec<String> = followed.values("Stage");
        assert!(stages.iter().any(|s| s == "denoising"), "{stages:?}");

        let job = job_proxy(&connection, &path).await;
        assert_eq!(job.output().await.unwrap(), followed.message);
        assert!(std::path::Path::new(&followed.message).is_file());
        assert_eq!(
            (job.seed().await.unwrap(), job.seconds().await.unwrap()),
            (7, 1.0)
        );
        assert!(job.timings().await.unwrap()["total_ms"] > 0);
        assert!(job.finished_ms().await.unwrap() >= job.started_ms().await.unwrap());
        assert_eq!(manager.list_jobs().await.unwrap(), vec![path]);
    });
}

#[test]
fn running_and_queued_jobs_are_cancelled_and_the_daemon_carries_on() {
    let d = daemon("");
    let slow = common::slow_bundle(d.setup.dir.path(), 1000);
    block_on(async {
        let connection = d.bus.connect().await;
        let mut signals = job_signals(&connection).await;
        let manager = ManagerProxy::new(&connection).await.unwrap();
        let slow_opts = options(&[
            ("seconds", 10.0.into()),
            ("bundle", slow.display().to_string().into()),
        ]);
        let running = manager
            .generate("a stone sinks".into(), slow_opts)
            .await
            .unwrap();
        let waiting = manager
            .generate("a leaf falls".into(), HashMap::new())
            .await
            .unwrap();
        let running_job = job_proxy(&connection, &running).await;
        let watched = reel_daemon::dbus::JobProxy::builder(&connection)
            .path(running.clone())
            .build()
            .await
            .unwrap();
        let mut stages = watched.receive_stage_changed().await;
        while let Some(change) = stages.next().await {
            if change.get().await.unwrap() == "denoising" {
                break;
            }
        }
        manager.cancel_job(waiting.as_ref()).await.unwrap();
        let cancelled = follow(&mut signals, &waiting).await;
        assert_eq!(
            (cancelled.ok, cancelled.message.as_str()),
            (false, "cancelled")
        );

        running_job.cancel().await.unwrap();
        let stopped = follow(&mut signals, &running).await;
        assert_eq!((stopped.ok, stopped.message.as_str()), (false, "cancelled"));
        assert_eq!(running_job.state().await.unwrap(), 5);
        assert!(running_job.step().await.unwrap() < 1000, "stopped mid-way");
        // Cancelling what is over changes nothing and is no error.
        running_job.cancel().await.unwrap();
        assert_eq!(
            job_proxy(&connection, &waiting)
                .await
                .state()
                .await
                .unwrap(),
            5
        );

        let next = manager
            .generate("a yellow ball".into(), options(&[("seconds", 1u32.into())]))
            .await
            .unwrap();
        assert!(follow(&mut signals, &next).await.ok);
        // The manager's PropertiesChanged follows the job's Completed.
        let mut lengths = manager.receive_queue_length_changed().await;
        let emptied = async {
            while manager.queue_length().await.unwrap() != 0 {
                lengths.next().await;
            }
        };
        tokio::time::timeout(PATIENCE, emptied)
            .await
            .expect("the queue empties");
    });
}

#[test]
fn bad_input_gets_named_errors_while_the_daemon_keeps_serving() {
    let d = daemon("");
    block_on(async {
        let connection = d.bus.connect().await;
        let generate = |prompt: String, opts: HashMap<String, OwnedVariant>| {
            let connection = connection.clone();
            async move { call(&connection, "Generate", &(prompt, opts)).await }
        };
        let invalid = "org.reel.Reel1.Error.InvalidArgument";
        let (name, message) = error_name(call(&connection, "Generate", &("only a prompt",)).await);
        assert_eq!(name, "org.freedesktop.DBus.Error.InvalidArgs", "{message}");
        assert!(message.contains("sa{sv}"), "{message}");
        let ball = || "a ball".to_string();
        let cases: Vec<(String, HashMap<String, OwnedVariant>, &str, &str)> = vec![
            (
                ball(),
                options(&[("colour", "red".into())]),
                invalid,
                "unknown option `colour`",
            ),
            (
                ball(),
                options(&[("style", "anime".into())]),
                "org.reel.Reel1.Error.NotSupported",
                "option `style` is not supported yet",
            ),
            (
                ball(),
                options(&[("outputs", "rtsp".into())]),
                "org.reel.Reel1.Error.NotSupported",
                "`outputs`",
            ),
            (
                ball(),
                options(&[("seconds", "four".into())]),
                invalid,
                "option `seconds` must be a number",
            ),
            (
                ball(),
                options(&[("seconds", (-1.0).into())]),
                invalid,
                "seconds must be a positive number",
            ),
            (
                ball(),
                options(&[("seconds", (-5i32).into())]),
                invalid,
                "got -5",
            ),
            (
                ball(),
                options(&[("seconds", 1e9.into())]),
                invalid,
                "up to",
            ),
            (
                ball(),
                options(&[("seconds", f64::NAN.into())]),
                invalid,
                "seconds",
            ),
            (
                ball(),
                options(&[("seed", (-1i64).into())]),
                invalid,
                "must not be negative",
            ),
            (
                ball(),
                options(&[("bundle", "relative/dir".into())]),
                invalid,
                "absolute path",
            ),
            (
                ball(),
                options(&[("bundle", "/nonexistent/bundle".into())]),
                invalid,
                "/nonexistent/bundle",
            ),
            (
                String::new(),
                HashMap::new(),
                invalid,
                "the prompt is empty",
            ),
            ("   ".into(), HashMap::new(), invalid, "the prompt is empty"),
            (
                "x".repeat(1 << 20),
                HashMap::new(),
                invalid,
                "the limit is 2000",
            ),
        ];
        for (prompt, opts, expected, says) in cases {
            let (name, message) = error_name(generate(prompt, opts).await);
            assert_eq!(name, expected, "{message}");
            assert!(message.contains(says), "{message:?} should say {says:?}");
        }
        let unknown = OwnedObjectPath::try_from("/org/reel/Reel1/Job/424242").unwrap();
        let (name, message) = error_name(call(&connection, "CancelJob", &(&unknown,)).await);
        assert_eq!(name, "org.reel.Reel1.Error.NotFound", "{message}");
        let not_a_job = OwnedObjectPath::try_from("/org/reel/Reel1").unwrap();
        assert_eq!(
            error_name(call(&connection, "CancelJob", &(&not_a_job,)).await).0,
            invalid
        );
        let on_unknown = connection
            .call_method(Some(NAME), &unknown, Some(JOB_IFACE), "Cancel", &())
            .await;
        assert_eq!(
            error_name(on_unknown).0,
            "org.freedesktop.DBus.Error.UnknownObject"
        );
        assert_eq!(
            error_name(call(&connection, "Explode", &()).await).0,
            "org.freedesktop.DBus.Error.UnknownMethod"
        );

        // Still serving, and nothing was queued by the refusals.
        let manager = ManagerProxy::new(&connection).await.unwrap();
        assert!(manager.list_jobs().await.unwrap().is_empty());
        let ok = generate(ball(), options(&[("seconds", 1.into())]))
            .await
            .unwrap();
        let path: OwnedObjectPath = ok.body().deserialize().unwrap();
        assert!(path.as_str().starts_with("/org/reel/Reel1/Job/"));
    });
}

#[test]
fn jobs_submitted_through_the_database_get_objects_and_signals() {
    let d = daemon("");
    block_on(async {
        let connection = d.bus.connect().await;
        let mut signals = job_signals(&connection).await;
        // `reelctl submit` without --session writes to the database, as before this API.
        let out = tokio::task::spawn_blocking({
            let mut cmd = d.setup.reelctl();
            move || run(cmd.args(["submit", "a kite rises", "--seconds", "1"]))
        })
        .await
        .unwrap();
        assert!(out.status.success());
        let id: i64 = text(&out.stdout).trim().parse().unwrap();
        let path = OwnedObjectPath::try_from(format!("/org/reel/Reel1/Job/{id}")).unwrap();
        let followed = follow(&mut signals, &path).await;
        assert!(followed.ok, "{}", followed.message);
    });
}

#[test]
fn fifty_clients_at_once_each_get_their_own_job() {
    const CLIENTS: usize = 50;
    let d = daemon("queue_capacity = 100\n");
    block_on(async {
        let mut tasks = Vec::new();
        for i in 0..CLIENTS {
            let connection = d.bus.connect().await;
            tasks.push(tokio::spawn(async move {
                let manager = ManagerProxy::new(&connection).await.unwrap();
                let opts = options(&[("seconds", 1.into()), ("seed", (i as u64).into())]);
                manager
                    .generate(format!("ball number {i}"), opts)
                    .await
                    .unwrap()
            }));
        }
        let mut paths = Vec::new();
        for task in tasks {
            paths.push(tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap());
        }
        let mut paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), CLIENTS, "every client got a job of its own");
        let connection = d.bus.connect().await;
        let manager = ManagerProxy::new(&connection).await.unwrap();
        let mut listed: Vec<String> = manager
            .list_jobs()
            .await
            .unwrap()
            .iter()
            .map(|p| p.to_string())
            .collect();
        listed.sort();
        assert_eq!(listed, paths);
        for path in &paths {
            let path = OwnedObjectPath::try_from(path.as_str()).unwrap();
            let seed = job_proxy(&connection, &path).await.seed().await.unwrap();
            assert!(seed < CLIENTS as u64);
        }
    });
}

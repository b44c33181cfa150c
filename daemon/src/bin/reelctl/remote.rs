//! `reelctl --system|--session …`: the same commands against a running reeld over its D-Bus API.
//! `generate` subscribes to the job signals before it calls `Generate` (then filters by the
//! returned path), so no progress or completion can slip past between the call and the
//! subscription.

use std::collections::HashMap;

use futures_util::StreamExt;
use reel_clip::{Progress, Stage};
use reel_daemon::dbus::{
    BUS_NAME, JOB_INTERFACE, JOB_PATH_PREFIX, JobProxy, ManagerProxy, ReelError, job_path,
};
use reel_daemon::queue::JobState;
use zbus::fdo::ObjectManagerProxy;
use zbus::message::Type as MessageType;
use zbus::{Connection, MatchRule, MessageStream, OwnedObjectPath, OwnedVariant, Variant};

use crate::Failure;
use crate::commands::{ClipArgs, GenerateArgs, JobsArgs, Row, SubmitArgs, print_header, print_row};
use crate::progress::ProgressView;

/// Which bus reeld is on.
#[derive(Debug, Clone, Copy)]
pub enum Bus {
    /// `--system`.
    System,
    /// `--session` (`DBUS_SESSION_BUS_ADDRESS`).
    Session,
}

impl Bus {
    fn name(self) -> &'static str {
        match self {
            Bus::System => "system",
            Bus::Session => "session",
        }
    }
}

/// Runs one remote command on a small runtime of its own.
pub fn run<F: Future<Output = Result<(), Failure>>>(f: F) -> Result<(), Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Failed(format!("cannot start the async runtime: {e}")))?
        .block_on(f)
}

async fn connect(bus: Bus) -> Result<Connection, Failure> {
    let connection = match bus {
        Bus::System => Connection::system().await,
        Bus::Session => Connection::session().await,
    };
    connection.map_err(|e| {
        Failure::Failed(format!(
            "cannot connect to the {} bus: {e}; is reeld running? (start it with `reeld --bus {}`)",
            bus.name(),
            bus.name()
        ))
    })
}

/// A failed call as the user should see it: the error's name and message, or, when nobody owns
/// the name, the likely cause.
fn failure(bus: Bus, e: impl Into<ReelError>) -> Failure {
    use zbus::DBusError;
    let e = match e.into() {
        ReelError::ZBus(e) => e,
        named => {
            let message = named.description().unwrap_or_default().to_string();
            return Failure::Failed(format!("{}: {message}", named.name()));
        }
    };
    let (name, message) = match &e {
        zbus::Error::MethodError(name, message, _) => {
            (name.to_string(), message.clone().unwrap_or_default())
        }
        zbus::Error::FDO(fdo) => (
            fdo.name().to_string(),
            fdo.description().unwrap_or_default().to_string(),
        ),
        other => return Failure::Failed(format!("D-Bus: {other}")),
    };
    if name.ends_with(".ServiceUnknown") || name.ends_with(".NameHasNoOwner") {
        return Failure::Failed(format!(
            "is reeld running? nobody owns {BUS_NAME} on the {bus} bus (start it with `reeld --bus {bus}`)",
            bus = bus.name()
        ));
    }
    Failure::Failed(format!("{name}: {message}"))
}

fn options(clip: &ClipArgs) -> Result<HashMap<String, OwnedVariant>, Failure> {
    let mut options = HashMap::new();
    let mut put = |key: &str, value: Variant<'_>| {
        let value = OwnedVariant::try_from(value).map_err(|e| Failure::Failed(e.to_string()))?;
        options.insert(key.to_string(), value);
        Ok::<_, Failure>(())
    };
    if let Some(seconds) = clip.seconds {
        put("seconds", seconds.into())?;
    }
    if let Some(seed) = clip.seed {
        put("seed", seed.into())?;
    }
    if let Some(bundle) = &clip.bundle {
        // reeld resolves nothing against our working directory.
        let bundle = std::path::absolute(bundle).unwrap_or_else(|_| bundle.clone());
        put("bundle", bundle.display().to_string().into())?;
    }
    Ok(options)
}

fn id_of(path: &str) -> &str {
    path.strip_prefix(JOB_PATH_PREFIX).unwrap_or(path)
}

/// `reelctl --session submit`.
pub async fn submit(bus: Bus, args: SubmitArgs) -> Result<(), Failure> {
    let connection = connect(bus).await?;
    let manager = ManagerProxy::new(&connection)
        .await
        .map_err(|e| failure(bus, e))?;
    let options = options(&args.clip)?;
    let path = manager
        .generate(args.clip.prompt, options)
        .await
        .map_err(|e| failure(bus, e))?;
    eprintln!(
        "queued job {path}; `reelctl --{} jobs` shows progress",
        bus.name()
    );
    println!("{}", id_of(path.as_str()));
    Ok(())
}

/// `reelctl --session generate`: queue, follow progress, print the clip's path.
pub async fn generate(bus: Bus, args: GenerateArgs) -> Result<(), Failure> {
    if args.out.is_some() {
        return Err(Failure::Usage(
            "--out is for generating in this process; over D-Bus reeld writes to its media directory and reelctl prints the path".into(),
        ));
    }
    let connection = connect(bus).await?;
    let subscribe = |rule: zbus::Result<MatchRule<'static>>| {
        let connection = connection.clone();
        async move { MessageStream::for_match_rule(rule?, &connection, None).await }
    };
    // Subscribed first: everything the job does from now on is queued in these streams.
    let mut signals = subscribe(
        MatchRule::builder()
            .msg_type(MessageType::Signal)
            .sender(BUS_NAME)
            .path_namespace(JOB_PATH_PREFIX.trim_end_matches('/'))
            .build(),
    )
    .await
    .map_err(|e| failure(bus, e))?;
    let mut owner = subscribe(
        MatchRule::builder()
            .msg_type(MessageType::Signal)
            .sender("org.freedesktop.DBus")
            .member("NameOwnerChanged")
            .add_arg(BUS_NAME)
            .build(),
    )
    .await
    .map_err(|e| failure(bus, e))?;
    let manager = ManagerProxy::new(&connection)
        .await
        .map_err(|e| failure(bus, e))?;
    let path = manager
        .generate(args.clip.prompt.clone(), options(&args.clip)?)
        .await
        .map_err(|e| failure(bus, e))?;
    eprintln!("job {} queued on reeld", id_of(path.as_str()));
    let mut view = ProgressView::new();
    let mut progress = Progress {
        stage: Stage::Queued,
        ..Progress::default()
    };
    let mut interrupted = false;
    let outcome = loop {
        tokio::select! {
            message = signals.next() => {
                let Some(Ok(message)) = message else { break Err(Failure::Failed("the bus connection closed".into())) };
                let header = message.header();
                if header.path().map(|p| p.as_str()) != Some(path.as_str()) {
                    continue;
                }
                match header.member().map(|m| m.as_str()) {
                    Some("PropertiesChanged") => {
                        let Ok((interface, changed, _)) = message.body().deserialize::<(String, HashMap<String, OwnedVariant>, Vec<String>)>() else { continue };
                        if interface == JOB_INTERFACE && apply(&mut progress, &changed) {
                            view.update(&progress);
                        }
                    }
                    Some("Completed") => match message.body().deserialize::<(bool, String)>() {
                        Ok(completed) => break Ok(completed),
                        Err(e) => break Err(Failure::Failed(format!("unreadable Completed signal: {e}"))),
                    },
                    _ => {}
                }
            }
            _ = owner.next() => break Err(Failure::Failed(format!("reeld left the {} bus before the job finished", bus.name()))),
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                eprintln!("cancelling job {}…", id_of(path.as_str()));
                if let Err(e) = manager.cancel_job(path.as_ref()).await {
                    break Err(failure(bus, e));
                }
            }
        }
    };
    view.finish();
    match outcome? {
        (true, output) => {
            println!("{output}");
            Ok(())
        }
        (false, message) => Err(Failure::Failed(message)),
    }
}

/// Folds a `PropertiesChanged` into the progress; true if anything shown changed.
fn apply(progress: &mut Progress, changed: &HashMap<String, OwnedVariant>) -> bool {
    let mut any = false;
    if let Some(stage) = prop::<String>(changed, "Stage").and_then(|s| Stage::parse(&s)) {
        progress.stage = stage;
        any = true;
    }
    if let Some(fraction) = prop::<f64>(changed, "Progress") {
        progress.fraction = fraction;
        any = true;
    }
    if let Some(step) = prop::<u32>(changed, "Step") {
        progress.step = step;
        any = true;
    }
    if let Some(steps) = prop::<u32>(changed, "Steps") {
        progress.steps = steps;
        any = true;
    }
    any
}

fn prop<T: TryFrom<OwnedVariant>>(map: &HashMap<String, OwnedVariant>, name: &str) -> Option<T> {
    map.get(name)?.try_clone().ok()?.try_into().ok()
}

fn state_name(code: u32) -> &'static str {
    match code {
        1 => JobState::Queued.as_str(),
        2 => JobState::Running.as_str(),
        3 => JobState::Succeeded.as_str(),
        4 => JobState::Failed.as_str(),
        5 => JobState::Cancelled.as_str(),
        _ => "unknown",
    }
}

/// `reelctl --session jobs`: `ListJobs` for the order, `GetManagedObjects` for the properties.
pub async fn jobs(bus: Bus, args: JobsArgs) -> Result<(), Failure> {
    let connection = connect(bus).await?;
    let manager = ManagerProxy::new(&connection)
        .await
        .map_err(|e| failure(bus, e))?;
    let paths = manager.list_jobs().await.map_err(|e| failure(bus, e))?;
    let objects = ObjectManagerProxy::builder(&connection)
        .destination(BUS_NAME)
        .path("/org/reel/Reel1")
        .build()
        .await
        .map_err(|e| failure(bus, e))?
        .get_managed_objects()
        .await
        .map_err(|e| failure(bus, zbus::Error::from(e)))?;
    if !args.json {
        print_header();
    }
    for path in paths.iter().take(args.limit as usize) {
        let Some(props) = objects
            .get(path)
            .and_then(|ifaces| {
                ifaces
                    .iter()
                    .find(|(name, _)| name.as_str() == JOB_INTERFACE)
            })
            .map(|(_, props)| props)
        else {
            continue;
        };
        let text = |name| prop::<String>(props, name).unwrap_or_default();
        let state = state_name(prop(props, "State").unwrap_or(0));
        if args.json {
            let json = serde_json::json!({
                "id": prop::<u64>(props, "Id"), "state": state, "stage": text("Stage"),
                "progress": prop::<f64>(props, "Progress"), "attempts": prop::<u32>(props, "Attempts"),
                "prompt": text("Prompt"), "seconds": prop::<f64>(props, "Seconds"),
                "seed": prop::<u64>(props, "Seed"), "bundle": text("Bundle"), "error": text("Error"),
                "output": text("Output"), "created_ms": prop::<i64>(props, "CreatedMs"),
                "started_ms": prop::<i64>(props, "StartedMs"), "finished_ms": prop::<i64>(props, "FinishedMs"),
                "path": path.as_str(),
            });
            println!("{json}");
            continue;
        }
        let (output, error) = (text("Output"), text("Error"));
        print_row(&Row {
            id: prop::<u64>(props, "Id").unwrap_or(0) as i64,
            state,
            stage: &text("Stage"),
            fraction: prop(props, "Progress").unwrap_or(0.0),
            attempts: prop(props, "Attempts").unwrap_or(0),
            prompt: &text("Prompt"),
            result: if output.is_empty() { &error } else { &output },
        });
    }
    Ok(())
}

/// `reelctl --session cancel ID`.
pub async fn cancel(bus: Bus, id: i64) -> Result<(), Failure> {
    let connection = connect(bus).await?;
    let manager = ManagerProxy::new(&connection)
        .await
        .map_err(|e| failure(bus, e))?;
    let path: OwnedObjectPath = job_path(id);
    // Read before the call: afterwards a queued job is already cancelled in the store while its
    // object may not show it yet.
    let before = match JobProxy::builder(&connection)
        .path(path.clone())
        .build()
        .await
    {
        Ok(job) => job.state().await.unwrap_or(0),
        Err(_) => 0,
    };
    manager
        .cancel_job(path.as_ref())
        .await
        .map_err(|e| failure(bus, e))?;
    match state_name(before) {
        "queued" => eprintln!("job {id} cancelled"),
        "running" => eprintln!("job {id} is running; reeld stops it within one step"),
        "unknown" => eprintln!("cancel of job {id} requested"),
        other => eprintln!("job {id} is already {other}"),
    }
    Ok(())
}

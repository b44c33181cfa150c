//! The RTSP output: gst-rtsp-server on its own GLib main-loop thread, one shared media per
//! mount point. The media's pipeline starts with two `appsrc`s; when a media is configured for
//! its first client, it joins the playout's [`Timeline`] and its `appsrc`s are registered with
//! the encoded [`Fanout`], so every client of the mount gets the same encoded stream and stays
//! connected while the program behind it changes. When the last client leaves, the media is
//! unprepared and leaves the fan-out.
//!
//! The buffers reach the media with their running time as PTS (see `outputs::Fanout::push`):
//! the media pipeline shares the playout's clock and base time, and its RTP sinks sync on it.
//!
//! The media factory's launch line (the `appsrc`s are fed by the playout):
//!
//! ```text
//! ( appsrc name=video ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1
//!   appsrc name=audio ! aacparse ! rtpmp4gpay name=pay1 pt=97 )
//! ```
//!
//! The same chain with test sources in place of the encoder, runnable as it is:
//!
//! ```text
//! gst-launch-1.0 videotestsrc is-live=true num-buffers=48 ! video/x-raw,width=320,height=240,framerate=24/1 \
//!   ! videoconvert ! x264enc tune=zerolatency key-int-max=24 ! h264parse config-interval=-1 \
//!   ! rtph264pay name=pay0 pt=96 config-interval=-1 ! fakesink \
//!   audiotestsrc is-live=true num-buffers=50 ! audioconvert ! avenc_aac ! aacparse \
//!   ! rtpmp4gpay name=pay1 pt=97 ! fakesink
//! ```
//!
//! A client that records what the server sends (Ctrl-C ends the recording cleanly):
//!
//! ```text
//! gst-launch-1.0 -e rtspsrc location=rtsp://127.0.0.1:8554/reel protocols=tcp ! rtph264depay \
//!   ! h264parse ! mp4mux ! filesink location=rec.mp4
//! ```

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use gst::glib;
use gst::prelude::*;
use gst_rtsp_server::prelude::*;

use crate::error::PipelineError;
use crate::live_config::RtspConfig;
use crate::outputs::{Fanout, Output, Timeline, audio_payloader, configure_appsrc};

/// How long starting the server may take before it counts as failed.
const START_TIMEOUT: Duration = Duration::from_secs(5);

/// A running RTSP server; dropping it stops the main loop and closes every session.
#[derive(Debug)]
pub(crate) struct RtspServer {
    main_loop: glib::MainLoop,
    thread: Option<JoinHandle<()>>,
    /// `rtsp://host:port/mount` as a client on this machine reaches it.
    pub(crate) url: String,
}

impl RtspServer {
    pub(crate) fn start(
        cfg: &RtspConfig,
        audio_encoder: &str,
        fanout: &Arc<Fanout>,
        timeline: &Timeline,
    ) -> Result<RtspServer, PipelineError> {
        if !cfg.mount.starts_with('/') {
            return Err(PipelineError::Config(format!(
                "outputs.rtsp.mount `{}` must start with `/`",
                cfg.mount
            )));
        }
        let pay = audio_payloader(audio_encoder);
        let parse = if pay == "rtpmp4gpay" {
            "aacparse ! "
        } else {
            ""
        };
        for element in ["h264parse", "rtph264pay", pay] {
            crate::encoders::make_element(element, "probe")?;
        }
        let launch = format!(
            "( appsrc name=video ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=-1 \
             appsrc name=audio ! {parse}{pay} name=pay1 pt=97 )"
        );
        let context = glib::MainContext::new();
        let main_loop = glib::MainLoop::new(Some(&context), false);
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let thread = {
            let (cfg, fanout, timeline, main_loop) = (
                cfg.clone(),
                Arc::clone(fanout),
                timeline.clone(),
                main_loop.clone(),
            );
            std::thread::Builder::new()
                .name("reel-rtsp".into())
                .spawn(move || {
                    let served = context.with_thread_default(|| {
                        let server = serve(&cfg, &launch, &context, fanout, timeline);
                        let port = server.as_ref().map(|(_, port, _)| *port);
                        let failed = ready_tx.send(port.map_err(|e| e.to_string())).is_err();
                        if let (Ok((_server, _, source)), false) = (server, failed) {
                            main_loop.run();
                            // Closes the listening socket; `SourceId::remove` would panic if
                            // the source were already gone.
                            if let Some(source) = context.find_source_by_id(&source) {
                                source.destroy();
                            }
                        }
                    });
                    if served.is_err() {
                        tracing::error!("RTSP thread could not own its main context");
                    }
                })
                .map_err(|err| PipelineError::Build(format!("spawning the RTSP thread: {err}")))?
        };
        let host = match cfg.address.as_str() {
            "0.0.0.0" | "::" => "127.0.0.1",
            other => other,
        };
        let port = match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(port)) => port,
            Ok(Err(reason)) => return Err(PipelineError::Build(format!("RTSP server: {reason}"))),
            Err(_) => {
                main_loop.quit();
                return Err(PipelineError::Timeout {
                    what: "the RTSP server to start",
                    waited: START_TIMEOUT,
                });
            }
        };
        Ok(RtspServer {
            main_loop,
            thread: Some(thread),
            url: format!("rtsp://{host}:{port}{}", cfg.mount),
        })
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.main_loop.quit();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the RTSP thread panicked");
        }
    }
}

/// Builds the server and attaches it to `context`; returns it, its bound port and its source.
fn serve(
    cfg: &RtspConfig,
    launch: &str,
    context: &glib::MainContext,
    fanout: Arc<Fanout>,
    timeline: Timeline,
) -> Result<(gst_rtsp_server::RTSPServer, u16, glib::SourceId), PipelineError> {
    let server = gst_rtsp_server::RTSPServer::new();
    server.set_address(&cfg.address);
    server.set_service(&cfg.port.to_string());
    let mounts = server
        .mount_points()
        .ok_or_else(|| PipelineError::Build("RTSP server has no mount points".into()))?;
    let factory = gst_rtsp_server::RTSPMediaFactory::new();
    factory.set_launch(launch);
    // One media, one encoder feed, for all clients of the mount.
    factory.set_shared(true);
    factory.connect_media_configure(move |_, media| {
        register_media(media, &fanout, &timeline);
    });
    mounts.add_factory(&cfg.mount, factory);
    let source = server.attach(Some(context)).map_err(|err| {
        PipelineError::Build(format!(
            "RTSP server cannot listen on {}:{}: {err}",
            cfg.address, cfg.port
        ))
    })?;
    let port = u16::try_from(server.bound_port()).unwrap_or(cfg.port);
    tracing::info!(address = %cfg.address, port, mount = %cfg.mount, "RTSP server listening");
    Ok((server, port, source))
}

/// Puts a new media on the shared timeline and feeds its `appsrc`s until it is unprepared.
fn register_media(media: &gst_rtsp_server::RTSPMedia, fanout: &Arc<Fanout>, timeline: &Timeline) {
    let element = media.element();
    let Some(bin) = element.downcast_ref::<gst::Bin>() else {
        tracing::error!("RTSP media element is not a bin");
        return;
    };
    let appsrc = |name: &str| {
        bin.by_name(name)
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
    };
    let (video, audio) = (appsrc("video"), appsrc("audio"));
    for src in video.iter().chain(audio.iter()) {
        configure_appsrc(src, 2 * 1024 * 1024);
    }
    media.set_clock(Some(&timeline.clock));
    if let Some(pipeline) = element
        .parent()
        .and_then(|p| p.downcast::<gst::Pipeline>().ok())
    {
        timeline.apply(&pipeline);
    }
    let output = Output::new("rtsp", None, video, audio);
    let id = output.id;
    fanout.add(output);
    let fanout = Arc::downgrade(fanout);
    media.connect_unprepared(move |_| {
        if let Some(fanout) = fanout.upgrade() {
            fanout.remove(id);
        }
    });
}

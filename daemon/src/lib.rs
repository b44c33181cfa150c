//! The Reel daemon's library: configuration, the jobs store and queue, and the composition of
//! the engines (prompt → timed media) with the pipeline (timed media → encoded outputs).
//! `reeld` and `reelctl` are thin binaries over it.

pub mod api;
pub mod config;
pub mod dbus;
pub mod events;
pub mod generate;
pub mod logging;
pub mod mqtt;
pub mod playout;
pub mod queue;
pub mod service;
pub mod store;
pub mod supervision;
pub mod systemd;
pub mod worker;

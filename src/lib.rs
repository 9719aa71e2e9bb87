//! classcast: a server for school recording classrooms.
//!
//! Media flows `ingest` → `transcode` → `hls` (live) and `recording` (kept),
//! supervised per classroom by `live`; the `catalog` keeps it all in
//! PostgreSQL; `http` serves the API, the media and the browser UI.

pub mod auth;
pub mod catalog;
pub mod config;
pub mod demo;
pub mod hls;
pub mod http;
pub mod ingest;
pub mod library;
pub mod live;
pub mod media;
pub mod metrics;
pub mod pipelines;
pub mod recording;
pub mod server;
pub mod transcode;
pub mod webrtc;

//! The micro-lesson library (微课资源库): what happens to a lesson after it
//! is uploaded. `jobs` is the shared PostgreSQL job queue and the worker
//! that runs it; `vod_ladder` turns a media file into an HLS VOD ladder;
//! `files` is the one place job inputs are read from and outputs written to.

pub mod files;
pub mod jobs;
pub mod vod_ladder;

//! The micro-lesson library (微课资源库): what happens to a lesson from its
//! upload on. `uploads` takes files in (tus 1.0) and probes them; `jobs` is
//! the shared PostgreSQL job queue and the worker that runs it;
//! `vod_ladder` turns a media file into an HLS VOD ladder; `files` is the
//! one place job inputs are read from and outputs written to. Domain code
//! only: HTTP lives in `http`, rows in `catalog`, bytes in `storage`.

pub mod files;
pub mod jobs;
pub mod uploads;
pub mod vod_ladder;

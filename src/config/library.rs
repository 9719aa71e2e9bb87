//! The library's sections of the configuration: background jobs, media
//! storage, uploads and the library itself. Their defaults stay with every other `DEFAULT_*`
//! in `config.rs`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::*;

/// Background jobs (transcoding lessons), shared by every node through
/// PostgreSQL; `classcast worker` runs them on other machines.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct JobsConfig {
    /// Run a worker inside `classcast serve`.
    pub in_process: bool,
    /// Jobs one worker runs at once.
    pub concurrency: usize,
    /// Seconds a job stays claimed without a heartbeat.
    pub lease_seconds: u64,
    /// Milliseconds between looks for work when idle.
    pub poll_ms: u64,
    /// Attempts a new job gets before it fails for good.
    pub max_attempts: i32,
    /// First retry delay, doubled per failure up to `retry_max_seconds`.
    pub retry_base_seconds: u64,
    pub retry_max_seconds: u64,
    /// x264 speed preset for lesson transcodes.
    pub x264_preset: String,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            in_process: DEFAULT_JOBS_IN_PROCESS,
            concurrency: DEFAULT_JOB_CONCURRENCY,
            lease_seconds: DEFAULT_JOB_LEASE_SECONDS,
            poll_ms: DEFAULT_JOB_POLL_MS,
            max_attempts: DEFAULT_JOB_MAX_ATTEMPTS,
            retry_base_seconds: DEFAULT_JOB_RETRY_BASE_SECONDS,
            retry_max_seconds: DEFAULT_JOB_RETRY_MAX_SECONDS,
            x264_preset: DEFAULT_X264_PRESET.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageKind {
    Local,
    S3,
}

/// Where media objects are kept: every node (and a worker on another
/// machine) must see the same storage.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageConfig {
    /// `local` (a directory) or `s3` (any S3-compatible object storage).
    pub kind: StorageKind,
    /// For `local`: the directory. Unset: `objects` under `media.dir`.
    pub dir: Option<PathBuf>,
    /// For `s3`: bucket, endpoint (unset: AWS itself), region and keys.
    pub bucket: String,
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Path-style URLs (`endpoint/bucket/key`), as MinIO and most
    /// self-hosted servers want; off: virtual-hosted (`bucket.endpoint`).
    pub path_style: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            kind: DEFAULT_STORAGE_KIND,
            dir: None,
            bucket: String::new(),
            endpoint: None,
            region: DEFAULT_S3_REGION.into(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            path_style: true,
        }
    }
}

/// Resumable uploads (tus 1.0) of lesson videos.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct UploadsConfig {
    /// Largest file accepted, in bytes; larger ones get 413 at creation.
    pub max_bytes: u64,
    /// Unfinished uploads one person may have at once.
    pub max_per_user: i64,
    /// Seconds an unfinished upload lives after its last chunk.
    pub expiry_seconds: u64,
    /// Seconds between sweeps for expired uploads.
    pub cleanup_interval_seconds: u64,
}

impl Default for UploadsConfig {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_UPLOAD_MAX_BYTES,
            max_per_user: DEFAULT_UPLOADS_PER_USER,
            expiry_seconds: DEFAULT_UPLOAD_EXPIRY_SECONDS,
            cleanup_interval_seconds: DEFAULT_UPLOAD_CLEANUP_SECONDS,
        }
    }
}

/// The micro-lesson library itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LibraryConfig {
    /// Largest attachment accepted, in bytes; larger ones get 413 before
    /// anything of them is kept.
    pub attachment_max_bytes: u64,
}

impl Default for LibraryConfig {
    fn default() -> Self {
        Self {
            attachment_max_bytes: DEFAULT_ATTACHMENT_MAX_BYTES,
        }
    }
}

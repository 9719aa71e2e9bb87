//! The worker: claims jobs of the kinds it knows, runs each attempt on a
//! blocking thread (GStreamer and FFmpeg calls block), renews the lease
//! with the job's progress while it runs, and reports the end. The same
//! code runs inside `classcast serve` and as `classcast worker`.
//!
//! On shutdown the running attempt is told to stop and its job handed back
//! (queued, the attempt not counted). When a heartbeat finds the lease
//! taken by another worker, the attempt is told to stop and nothing more is
//! written: the job is someone else's now.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use tracing::{info, warn};
use uuid::Uuid;

use super::RetryPolicy;
use super::queue::{self, Claimed};

/// Why an attempt did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// The reason, for people: stored on the job and shown in the UI.
    #[error("{0}")]
    Failed(String),
    /// Stopped because the worker was asked to (shutdown, lost lease).
    #[error("cancelled")]
    Cancelled,
}

/// One kind of job. `run` is called on a blocking thread and may block.
pub trait Work: Send + Sync + 'static {
    fn kind(&self) -> &'static str;
    fn run(&self, payload: &serde_json::Value, job: &JobContext) -> Result<(), WorkError>;
}

/// What an attempt can see of its job, and how it reports progress.
#[derive(Clone)]
pub struct JobContext {
    pub job_id: Uuid,
    pub attempt: i32,
    progress: Arc<Mutex<(f32, Option<String>)>>,
    cancelled: Arc<AtomicBool>,
}

impl JobContext {
    fn new(job_id: Uuid, attempt: i32) -> Self {
        Self {
            job_id,
            attempt,
            progress: Arc::new(Mutex::new((0.0, None))),
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Sent with the next heartbeat.
    pub fn report(&self, percent: f32, step: &str) {
        // A poisoned lock only means a reporter panicked; the value is still fine.
        let mut progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        *progress = (percent, Some(step.to_string()));
    }

    fn progress(&self) -> (f32, Option<String>) {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Work should check this often and return `WorkError::Cancelled`.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Who holds leases: unique per process (node name, pid, random).
    pub worker: String,
    pub concurrency: usize,
    pub lease: Duration,
    pub heartbeat: Duration,
    /// How often an idle worker looks for work.
    pub poll: Duration,
    pub retry: RetryPolicy,
}

impl RunnerSettings {
    pub fn from_config(config: &crate::config::Config, node: &str) -> Self {
        let lease = config.job_lease();
        Self {
            worker: format!(
                "{node}/{}/{}",
                std::process::id(),
                &Uuid::new_v4().simple().to_string()[..8]
            ),
            concurrency: config.jobs.concurrency.max(1),
            lease,
            heartbeat: super::heartbeat_every(lease),
            poll: config.job_poll(),
            retry: config.job_retry(),
        }
    }
}

/// Runs until `shutdown` turns true (or its sender is dropped), then hands
/// back what is running and returns.
pub async fn run(
    db: PgPool,
    settings: RunnerSettings,
    kinds: Vec<Arc<dyn Work>>,
    shutdown: watch::Receiver<bool>,
) {
    let kinds: Arc<HashMap<&'static str, Arc<dyn Work>>> =
        Arc::new(kinds.into_iter().map(|w| (w.kind(), w)).collect());
    info!(worker = settings.worker, kinds = ?kinds.keys().collect::<Vec<_>>(),
        concurrency = settings.concurrency, "job worker started");
    let settings = Arc::new(settings);
    let slots: Vec<_> = (0..settings.concurrency)
        .map(|_| {
            tokio::spawn(slot(
                db.clone(),
                settings.clone(),
                kinds.clone(),
                shutdown.clone(),
            ))
        })
        .collect();
    for slot in slots {
        if let Err(e) = slot.await {
            warn!("job slot ended abnormally: {e}");
        }
    }
    info!(worker = settings.worker, "job worker stopped");
}

fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// One job at a time, claimed in turn.
async fn slot(
    db: PgPool,
    settings: Arc<RunnerSettings>,
    kinds: Arc<HashMap<&'static str, Arc<dyn Work>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let names: Vec<String> = kinds.keys().map(|k| k.to_string()).collect();
    while !stopping(&shutdown) {
        match queue::claim(&db, &settings.worker, &names, settings.lease).await {
            Ok(Some(claimed)) => {
                // Claimed only for kinds in the map.
                let work = kinds[claimed.kind.as_str()].clone();
                attempt(&db, &settings, work, claimed, &mut shutdown).await;
            }
            Ok(None) => {
                tokio::select! {
                    _ = tokio::time::sleep(settings.poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(e) => {
                warn!("cannot claim a job: {e}");
                tokio::select! {
                    _ = tokio::time::sleep(settings.poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
    }
}

async fn attempt(
    db: &PgPool,
    settings: &RunnerSettings,
    work: Arc<dyn Work>,
    claimed: Claimed,
    shutdown: &mut watch::Receiver<bool>,
) {
    let lease = claimed.lease;
    let job = JobContext::new(lease.job_id, lease.attempt);
    info!(job = %lease.job_id, kind = claimed.kind, attempt = lease.attempt, "job started");
    let mut handle = {
        let job = job.clone();
        let payload = claimed.payload;
        tokio::task::spawn_blocking(move || work.run(&payload, &job))
    };
    let mut beat = tokio::time::interval(settings.heartbeat);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    beat.tick().await;
    let (mut shutting_down, mut lost) = (false, false);
    let result = loop {
        tokio::select! {
            result = &mut handle => break result,
            _ = beat.tick(), if !lost => {
                let (percent, step) = job.progress();
                match queue::heartbeat(db, &lease, settings.lease, percent, step.as_deref()).await {
                    Ok(true) => {}
                    Ok(false) => {
                        warn!(job = %lease.job_id, "lease lost to another worker: stopping this attempt");
                        lost = true;
                        job.cancel();
                    }
                    // The lease lasts a while yet; the next beat may get through.
                    Err(e) => warn!(job = %lease.job_id, "heartbeat failed: {e}"),
                }
            }
            _ = shutdown.changed(), if !shutting_down => {
                shutting_down = true;
                job.cancel();
            }
        }
    };
    if lost {
        return;
    }
    let outcome = match result {
        Ok(Ok(())) => queue::complete(db, &lease).await.inspect(|held| {
            if *held {
                info!(job = %lease.job_id, "job succeeded");
            }
        }),
        Ok(Err(_)) if shutting_down => queue::release(db, &lease).await.inspect(|held| {
            if *held {
                info!(job = %lease.job_id, "job handed back for shutdown");
            }
        }),
        Ok(Err(error)) => {
            let reason = match error {
                WorkError::Failed(reason) => reason,
                WorkError::Cancelled => "stopped".to_string(),
            };
            warn!(job = %lease.job_id, attempt = lease.attempt, "job attempt failed: {reason}");
            queue::fail(db, &lease, &settings.retry, &reason)
                .await
                .map(|o| o.is_some())
        }
        Err(panic) => {
            let reason = format!("the job crashed: {panic}");
            warn!(job = %lease.job_id, "{reason}");
            queue::fail(db, &lease, &settings.retry, &reason)
                .await
                .map(|o| o.is_some())
        }
    };
    match outcome {
        Ok(true) => {}
        Ok(false) => warn!(job = %lease.job_id, "lease was lost before the end was recorded"),
        // The lease runs out and the job is attempted again.
        Err(e) => warn!(job = %lease.job_id, "cannot record the job's end: {e}"),
    }
}

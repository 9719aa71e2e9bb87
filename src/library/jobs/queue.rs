//! The job queue's SQL: enqueue, claim, heartbeat, complete, fail, release.
//!
//! Every write by a worker names its `Lease` (job, worker, attempt) in its
//! WHERE clause: a worker whose lease ran out and whose job was claimed by
//! another can no longer report anything on it — its heartbeat says so,
//! and it stops. Claims lock the row with FOR UPDATE SKIP LOCKED, so two
//! workers asking at once get different jobs, never the same one. All
//! times come from the database's clock (one clock for every node); the
//! decisions about them are in `super`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{AfterFailure, RetryPolicy, WORKER_LOST, reclaimable};
use crate::catalog::CatalogError;

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Job {
    pub id: Uuid,
    pub kind: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    /// A queued job is not started before this.
    pub run_at: DateTime<Utc>,
    /// While running: when the worker's claim ends unless renewed.
    pub lease_until: Option<DateTime<Utc>>,
    /// The worker (`node/pid/random`) holding the job, or that last held it.
    pub worker: Option<String>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub progress_percent: f32,
    /// What the job is doing now (`probing`, `transcoding`, …).
    pub step: Option<String>,
    /// Why the last attempt failed.
    pub error: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

pub struct NewJob<'a> {
    pub kind: &'a str,
    pub payload: serde_json::Value,
    pub max_attempts: i32,
    pub created_by: Option<Uuid>,
}

/// A worker's hold on one attempt of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job_id: Uuid,
    pub worker: String,
    pub attempt: i32,
}

/// A job handed to a worker.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub lease: Lease,
    pub kind: String,
    pub payload: serde_json::Value,
}

/// Queues a job; inside a transaction when `db` is one, so a job can be
/// queued together with the row that refers to it.
pub async fn enqueue<'e>(
    db: impl sqlx::PgExecutor<'e>,
    job: NewJob<'_>,
) -> Result<Job, CatalogError> {
    Ok(sqlx::query_as(
        "INSERT INTO jobs (id, kind, payload, max_attempts, created_by)
         VALUES ($1, $2, $3, $4, $5) RETURNING *",
    )
    .bind(Uuid::new_v4())
    .bind(job.kind)
    .bind(job.payload)
    .bind(job.max_attempts.max(1))
    .bind(job.created_by)
    .fetch_one(db)
    .await?)
}

pub async fn get(db: &PgPool, id: Uuid) -> Result<Job, CatalogError> {
    Ok(sqlx::query_as("SELECT * FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(db)
        .await?)
}

/// Newest first; only `created_by`'s when given.
pub async fn list(
    db: &PgPool,
    created_by: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Job>, CatalogError> {
    Ok(sqlx::query_as(
        "SELECT * FROM jobs WHERE $1::uuid IS NULL OR created_by = $1
         ORDER BY created_at DESC, id LIMIT $2",
    )
    .bind(created_by)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

#[derive(sqlx::FromRow)]
struct Candidate {
    id: Uuid,
    state: String,
    attempts: i32,
    max_attempts: i32,
}

/// Claims the next job of one of `kinds` that is due, or whose worker's
/// lease ran out, for `lease`. A job found abandoned on its last attempt
/// is failed on the way (`WORKER_LOST`) and the search goes on.
pub async fn claim(
    db: &PgPool,
    worker: &str,
    kinds: &[String],
    lease: Duration,
) -> Result<Option<Claimed>, CatalogError> {
    loop {
        let mut tx = db.begin().await?;
        let candidate: Option<Candidate> = sqlx::query_as(
            "SELECT id, state, attempts, max_attempts FROM jobs
             WHERE kind = ANY($1)
               AND ((state = 'queued' AND run_at <= now())
                    OR (state = 'running' AND lease_until < now()))
             ORDER BY coalesce(lease_until, run_at), created_at
             LIMIT 1
             FOR UPDATE SKIP LOCKED",
        )
        .bind(kinds)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(candidate) = candidate else {
            return Ok(None);
        };
        if candidate.state == "running" && !reclaimable(candidate.attempts, candidate.max_attempts)
        {
            sqlx::query(
                "UPDATE jobs SET state = 'failed', error = $2, finished_at = now(),
                        lease_until = NULL
                 WHERE id = $1",
            )
            .bind(candidate.id)
            .bind(WORKER_LOST)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::warn!(job = %candidate.id, "job failed: its worker vanished on the last attempt");
            continue;
        }
        let (kind, payload, attempt): (String, serde_json::Value, i32) = sqlx::query_as(
            "UPDATE jobs SET state = 'running', worker = $2, attempts = attempts + 1,
                    lease_until = now() + $3, heartbeat_at = now(),
                    started_at = coalesce(started_at, now()),
                    progress_percent = 0, step = NULL
             WHERE id = $1
             RETURNING kind, payload, attempts",
        )
        .bind(candidate.id)
        .bind(worker)
        .bind(lease)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(Some(Claimed {
            lease: Lease {
                job_id: candidate.id,
                worker: worker.to_string(),
                attempt,
            },
            kind,
            payload,
        }));
    }
}

/// Renews the lease and records progress. False when the lease is no
/// longer this worker's (it ran out and another worker took the job): the
/// worker must stop working on it.
pub async fn heartbeat(
    db: &PgPool,
    lease: &Lease,
    renew_for: Duration,
    progress_percent: f32,
    step: Option<&str>,
) -> Result<bool, CatalogError> {
    let updated = sqlx::query(
        "UPDATE jobs SET lease_until = now() + $4, heartbeat_at = now(),
                progress_percent = $5, step = $6
         WHERE id = $1 AND worker = $2 AND attempts = $3 AND state = 'running'",
    )
    .bind(lease.job_id)
    .bind(&lease.worker)
    .bind(lease.attempt)
    .bind(renew_for)
    .bind(progress_percent.clamp(0.0, 100.0))
    .bind(step)
    .execute(db)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// The attempt succeeded. False when the lease was lost before.
pub async fn complete(db: &PgPool, lease: &Lease) -> Result<bool, CatalogError> {
    let updated = sqlx::query(
        "UPDATE jobs SET state = 'succeeded', progress_percent = 100, step = NULL,
                error = NULL, finished_at = now(), lease_until = NULL
         WHERE id = $1 AND worker = $2 AND attempts = $3 AND state = 'running'",
    )
    .bind(lease.job_id)
    .bind(&lease.worker)
    .bind(lease.attempt)
    .execute(db)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// The attempt failed with `error`: queued again at the policy's backoff,
/// or failed for good. None when the lease was lost before.
pub async fn fail(
    db: &PgPool,
    lease: &Lease,
    policy: &RetryPolicy,
    error: &str,
) -> Result<Option<AfterFailure>, CatalogError> {
    let mut tx = db.begin().await?;
    let row: Option<(i32, DateTime<Utc>)> = sqlx::query_as(
        "SELECT max_attempts, now() FROM jobs
         WHERE id = $1 AND worker = $2 AND attempts = $3 AND state = 'running'
         FOR UPDATE",
    )
    .bind(lease.job_id)
    .bind(&lease.worker)
    .bind(lease.attempt)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((max_attempts, now)) = row else {
        return Ok(None);
    };
    let outcome = policy.after_failure(lease.attempt, max_attempts, now);
    let (state, run_at, finished_at) = match &outcome {
        AfterFailure::RetryAt(at) => ("queued", *at, None),
        AfterFailure::GiveUp => ("failed", now, Some(now)),
    };
    sqlx::query(
        "UPDATE jobs SET state = $2, run_at = $3, finished_at = $4, error = $5,
                lease_until = NULL
         WHERE id = $1",
    )
    .bind(lease.job_id)
    .bind(state)
    .bind(run_at)
    .bind(finished_at)
    .bind(error)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(outcome))
}

/// Hands a job back unfinished (the worker is shutting down): queued at
/// once, and the interrupted attempt is not counted against it.
pub async fn release(db: &PgPool, lease: &Lease) -> Result<bool, CatalogError> {
    let updated = sqlx::query(
        "UPDATE jobs SET state = 'queued', run_at = now(), attempts = attempts - 1,
                lease_until = NULL, step = NULL
         WHERE id = $1 AND worker = $2 AND attempts = $3 AND state = 'running'",
    )
    .bind(lease.job_id)
    .bind(&lease.worker)
    .bind(lease.attempt)
    .execute(db)
    .await?;
    Ok(updated.rows_affected() == 1)
}

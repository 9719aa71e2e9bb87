//! The ledger: the live core's catalogue writes (lessons, recordings, their
//! gaps and progress), applied in order by one task that outlasts a
//! database outage.
//!
//! A lesson must never wait for PostgreSQL: it goes live, is watched and
//! is recorded to disk while the database restarts. So the classroom and
//! the recorder never write rows themselves; they hand each write to the
//! ledger and move on. The ledger applies them in the order given, retries
//! (with backoff) while the database is unreachable, and drops only writes
//! the database refuses for their content (logged). Every write is
//! idempotent (inserts by id with `ON CONFLICT DO NOTHING`, updates by id),
//! so a write retried after an ambiguous failure leaves no duplicate.
//! Progress updates for one recording are coalesced: only the newest waits.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::recordings::{RecordingProgress, RecordingStatus};

/// Writes waiting to be handed over; the ledger drains it at once, so only
/// a stalled ledger task (a bug) would ever fill it.
const QUEUE: usize = 4096;
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    LessonStarted {
        id: Uuid,
        classroom_id: Uuid,
        source_id: Option<Uuid>,
        started_at: DateTime<Utc>,
        node: String,
    },
    LessonEnded {
        id: Uuid,
        ended_at: DateTime<Utc>,
        reason: String,
    },
    RecordingStarted {
        id: Uuid,
        classroom_id: Uuid,
        lesson_id: Uuid,
        started_at: DateTime<Utc>,
        rolling: bool,
        /// None: the classroom's name and the start in its school's time
        /// zone, worked out by the database (which knows the zones).
        title: Option<String>,
    },
    RecordingProgress {
        id: Uuid,
        progress: RecordingProgress,
    },
    GapStarted {
        recording: Uuid,
        offset_ms: i64,
    },
    GapEnded {
        recording: Uuid,
        duration_ms: i64,
    },
    /// A gap that turned out to be the end of the lesson is not a gap.
    GapRemoved {
        recording: Uuid,
        offset_ms: i64,
    },
    RecordingFinished {
        id: Uuid,
        status: RecordingStatus,
        ended_at: DateTime<Utc>,
        progress: RecordingProgress,
    },
}

enum Msg {
    Write(Write),
    /// Answer once everything handed over before it has been applied.
    Flushed(oneshot::Sender<()>),
}

/// Cheap to clone; the classroom tasks and recorders each hold one.
#[derive(Clone)]
pub struct Ledger {
    tx: mpsc::Sender<Msg>,
}

impl Ledger {
    pub fn start(db: PgPool) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(db, rx));
        Self { tx }
    }

    /// Hands a write over; never waits.
    pub fn write(&self, write: Write) {
        if self.tx.try_send(Msg::Write(write)).is_err() {
            metrics::counter!("classcast_channel_dropped_total", "channel" => "ledger")
                .increment(1);
            tracing::error!("catalogue ledger is not keeping up; a catalogue write was lost");
        }
    }

    /// Waits until every write handed over so far is applied, or `limit`
    /// passes (the database may be gone for good at shutdown). True if all
    /// were applied.
    pub async fn flush(&self, limit: Duration) -> bool {
        let (done, applied) = oneshot::channel();
        if self.tx.send(Msg::Flushed(done)).await.is_err() {
            return false;
        }
        matches!(tokio::time::timeout(limit, applied).await, Ok(Ok(())))
    }
}

/// Whether a failed write may succeed later: the database was unreachable,
/// not unwilling.
fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 57P0x: shutting down, cannot
            // connect now; 53300: too many connections; 40001/40P01:
            // serialization failure and deadlock, worth another go.
            code.starts_with("08")
                || code.starts_with("57P0")
                || code == "53300"
                || code == "40001"
                || code == "40P01"
        }),
        _ => false,
    }
}

/// Puts a write in the queue, replacing a waiting progress update of the
/// same recording (the newest progress says everything the older did).
fn enqueue(pending: &mut VecDeque<Write>, write: Write) {
    if let Write::RecordingProgress { id, .. } = &write {
        // Never the head: it may be being applied right now.
        if let Some(slot) = pending
            .iter_mut()
            .skip(1)
            .find(|w| matches!(w, Write::RecordingProgress { id: other, .. } if other == id))
        {
            *slot = write;
            return;
        }
    }
    pending.push_back(write);
}

async fn run(db: PgPool, mut rx: mpsc::Receiver<Msg>) {
    let mut pending: VecDeque<Write> = VecDeque::new();
    // Flushes wait for the queue to empty: everything handed over before
    // them is in it, and nothing jumps ahead.
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    let mut retry = RETRY_MIN;
    let mut down_since: Option<tokio::time::Instant> = None;
    loop {
        // Take in everything handed over, without waiting when work is queued.
        loop {
            let msg = if pending.is_empty() {
                match rx.recv().await {
                    Some(msg) => msg,
                    None => return,
                }
            } else {
                match rx.try_recv() {
                    Ok(msg) => msg,
                    Err(_) => break,
                }
            };
            match msg {
                Msg::Write(write) => enqueue(&mut pending, write),
                Msg::Flushed(done) => waiting.push(done),
            }
            if pending.is_empty() {
                answer_flushes(&mut waiting);
            }
        }
        metrics::gauge!("classcast_catalog_writes_pending").set(pending.len() as f64);
        let Some(write) = pending.front() else {
            continue;
        };
        match apply(&db, write).await {
            Ok(()) => {
                if let Some(since) = down_since.take() {
                    tracing::info!(
                        after_s = since.elapsed().as_secs_f64(),
                        queued = pending.len(),
                        "database reachable again; writing the lessons' rows"
                    );
                }
                pending.pop_front();
                retry = RETRY_MIN;
            }
            Err(e) if is_transient(&e) => {
                if down_since.is_none() {
                    down_since = Some(tokio::time::Instant::now());
                    tracing::warn!("database unreachable ({e}); lessons go on and their rows wait");
                }
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_MAX);
            }
            Err(e) => {
                metrics::counter!("classcast_catalog_writes_refused_total").increment(1);
                tracing::error!(?write, "the database refused a catalogue write: {e}");
                pending.pop_front();
            }
        }
        if pending.is_empty() {
            answer_flushes(&mut waiting);
        }
    }
}

fn answer_flushes(waiting: &mut Vec<oneshot::Sender<()>>) {
    for done in waiting.drain(..) {
        let _ = done.send(());
    }
}

/// A recording row, titled and owned as its classroom says when it is
/// written ($1 id, $2 classroom, $3 lesson, $4 start, $5 rolling, $6 title
/// or NULL). A classroom deleted meanwhile gets no row.
pub const INSERT_RECORDING: &str = "INSERT INTO recordings (id, classroom_id, live_session_id, started_at, rolling, title, teacher_id)
     SELECT $1, c.id, $3, $4, $5,
            COALESCE($6, c.name || ' ' || to_char($4 AT TIME ZONE s.time_zone, 'YYYY-MM-DD HH24:MI')),
            c.teacher_id
     FROM classrooms c JOIN schools s ON s.id = c.school_id WHERE c.id = $2
     ON CONFLICT (id) DO NOTHING";

async fn apply(db: &PgPool, write: &Write) -> Result<(), sqlx::Error> {
    match write {
        Write::LessonStarted {
            id,
            classroom_id,
            source_id,
            started_at,
            node,
        } => {
            sqlx::query(
                "INSERT INTO live_sessions (id, classroom_id, source_id, node, started_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(classroom_id)
            .bind(source_id)
            .bind(node)
            .bind(started_at)
            .execute(db)
            .await?;
        }
        Write::LessonEnded {
            id,
            ended_at,
            reason,
        } => {
            sqlx::query(
                "UPDATE live_sessions SET ended_at = $2, end_reason = $3
                 WHERE id = $1 AND ended_at IS NULL",
            )
            .bind(id)
            .bind(ended_at)
            .bind(reason)
            .execute(db)
            .await?;
        }
        Write::RecordingStarted {
            id,
            classroom_id,
            lesson_id,
            started_at,
            rolling,
            title,
        } => {
            sqlx::query(INSERT_RECORDING)
                .bind(id)
                .bind(classroom_id)
                .bind(lesson_id)
                .bind(started_at)
                .bind(rolling)
                .bind(title)
                .execute(db)
                .await?;
        }
        Write::RecordingProgress { id, progress } => {
            // A finished recording's final numbers are never overwritten.
            sqlx::query(
                "UPDATE recordings SET duration_ms = $2, size_bytes = $3, renditions = $4
                 WHERE id = $1 AND status = 'recording'",
            )
            .bind(id)
            .bind(progress.duration_ms)
            .bind(progress.size_bytes)
            .bind(&progress.renditions)
            .execute(db)
            .await?;
        }
        Write::GapStarted {
            recording,
            offset_ms,
        } => {
            sqlx::query(
                "INSERT INTO recording_gaps (recording_id, offset_ms) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
            )
            .bind(recording)
            .bind(offset_ms)
            .execute(db)
            .await?;
        }
        Write::GapEnded {
            recording,
            duration_ms,
        } => {
            sqlx::query(
                "UPDATE recording_gaps SET duration_ms = $2
                 WHERE recording_id = $1 AND duration_ms IS NULL",
            )
            .bind(recording)
            .bind(duration_ms)
            .execute(db)
            .await?;
        }
        Write::GapRemoved {
            recording,
            offset_ms,
        } => {
            sqlx::query("DELETE FROM recording_gaps WHERE recording_id = $1 AND offset_ms = $2")
                .bind(recording)
                .bind(offset_ms)
                .execute(db)
                .await?;
        }
        Write::RecordingFinished {
            id,
            status,
            ended_at,
            progress,
        } => {
            sqlx::query(
                "UPDATE recordings SET status = $2, ended_at = $3, duration_ms = $4,
                     size_bytes = $5, renditions = $6
                 WHERE id = $1",
            )
            .bind(id)
            .bind(status)
            .bind(ended_at)
            .bind(progress.duration_ms)
            .bind(progress.size_bytes)
            .bind(&progress.renditions)
            .execute(db)
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(id: Uuid, ms: i64) -> Write {
        Write::RecordingProgress {
            id,
            progress: RecordingProgress {
                duration_ms: ms,
                size_bytes: ms * 10,
                renditions: serde_json::json!([]),
            },
        }
    }

    #[test]
    fn waiting_progress_is_coalesced_but_order_is_kept() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut pending = VecDeque::new();
        enqueue(&mut pending, progress(a, 1)); // head: may be in flight
        enqueue(&mut pending, progress(a, 2));
        enqueue(
            &mut pending,
            Write::GapStarted {
                recording: a,
                offset_ms: 2,
            },
        );
        enqueue(&mut pending, progress(b, 3));
        enqueue(&mut pending, progress(a, 4));
        enqueue(&mut pending, progress(b, 5));
        assert_eq!(
            pending.into_iter().collect::<Vec<_>>(),
            vec![
                progress(a, 1),
                progress(a, 4),
                Write::GapStarted {
                    recording: a,
                    offset_ms: 2
                },
                progress(b, 5),
            ]
        );
    }

    #[test]
    fn only_an_unreachable_database_is_worth_retrying() {
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(is_transient(&sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused
        ))));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::ColumnNotFound("x".into())));
    }
}

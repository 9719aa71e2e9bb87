//! Playback revocation epochs (see `auth::playback::Revocations`): bumped
//! inside the transaction that shrinks someone's access, announced with
//! NOTIFY on commit, and followed by every node (`follow`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;
use uuid::Uuid;

use crate::auth::playback::Revocations;
use crate::catalog::CatalogError;

/// The NOTIFY channel; the payload is the subject's id (informational:
/// listeners reread the whole, small, table).
pub const CHANNEL: &str = "classcast_playback_revocations";

#[derive(Debug, Clone, Copy)]
pub enum Subject {
    User(Uuid),
    Classroom(Uuid),
}

/// Ends every playback token issued for `subject` so far. Run it in the
/// transaction that changes the access, so both happen or neither.
pub async fn revoke(conn: &mut PgConnection, subject: Subject) -> Result<(), CatalogError> {
    let (kind, id) = match subject {
        Subject::User(id) => ("user", id),
        Subject::Classroom(id) => ("classroom", id),
    };
    sqlx::query(
        "INSERT INTO playback_revocations (subject, kind) VALUES ($1, $2)
         ON CONFLICT (subject) DO UPDATE
             SET epoch = playback_revocations.epoch + 1, updated_at = now()",
    )
    .bind(id)
    .bind(kind)
    .execute(&mut *conn)
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The current epochs of `subjects` (0 for those never revoked), for a
/// token about to be issued.
pub async fn epochs(db: &PgPool, subjects: &[Uuid]) -> Result<Vec<u32>, CatalogError> {
    let rows: Vec<(Uuid, i32)> =
        sqlx::query_as("SELECT subject, epoch FROM playback_revocations WHERE subject = ANY($1)")
            .bind(subjects)
            .fetch_all(db)
            .await?;
    Ok(subjects
        .iter()
        .map(|s| {
            rows.iter()
                .find(|(id, _)| id == s)
                .map_or(0, |(_, e)| (*e).max(0) as u32)
        })
        .collect())
}

pub async fn load(db: &PgPool) -> Result<Revocations, CatalogError> {
    let rows: Vec<(Uuid, i32)> = sqlx::query_as("SELECT subject, epoch FROM playback_revocations")
        .fetch_all(db)
        .await?;
    Ok(Revocations::new(
        rows.into_iter()
            .map(|(id, epoch)| (id, epoch.max(0) as u32))
            .collect::<HashMap<_, _>>(),
    ))
}

/// Keeps `list` current: rereads the table whenever a NOTIFY arrives, and
/// every `every` regardless (a notification sent while this node's
/// listening connection was down is otherwise lost). While the database is
/// unreachable the last list stays in force, so token media keeps playing.
pub async fn follow(db: PgPool, every: Duration, list: watch::Sender<Arc<Revocations>>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut listener: Option<PgListener> = None;
    loop {
        if listener.is_none() {
            listener = match PgListener::connect_with(&db).await {
                Ok(mut l) => match l.listen(CHANNEL).await {
                    Ok(()) => Some(l),
                    Err(e) => {
                        tracing::warn!("revocations: cannot LISTEN: {e}");
                        None
                    }
                },
                Err(e) => {
                    tracing::warn!("revocations: cannot connect to listen: {e}");
                    None
                }
            };
        }
        let heard = match listener.as_mut() {
            Some(l) => tokio::select! {
                n = l.try_recv() => match n {
                    Ok(_) => true,
                    Err(e) => {
                        tracing::warn!("revocations: listening failed: {e}");
                        listener = None;
                        true
                    }
                },
                _ = tick.tick() => false,
            },
            None => {
                tick.tick().await;
                false
            }
        };
        match load(&db).await {
            Ok(fresh) => {
                list.send_if_modified(|current| {
                    if **current == fresh {
                        false
                    } else {
                        tracing::info!(
                            entries = fresh.len(),
                            heard,
                            "playback revocations updated"
                        );
                        *current = Arc::new(fresh);
                        true
                    }
                });
            }
            Err(e) => tracing::warn!("revocations: reload failed, keeping the last list: {e}"),
        }
    }
}

//! Failed sign-ins, counted in PostgreSQL so every node sees the same
//! limits. An attempt first reserves its place (`reserve`): under an
//! advisory lock per key, the failures in the window are counted and, if
//! every key is under its limit, a row per key is written for this attempt
//! before any password is hashed. Parallel attempts therefore cannot all
//! pass a count taken before the slow hash. A failed attempt's rows stay
//! as its failures (`fail` keeps them); a successful one's are removed.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::catalog::CatalogError;

/// One key to limit (`user:<normalised name>` or `addr:<ip>`) and its limit.
pub struct Limit {
    pub key: String,
    pub max: i64,
}

/// A place held by one attempt.
#[derive(Debug, Clone, Copy)]
pub struct Reservation(Uuid);

/// The attempt may go on, or must wait until the oldest failure of a full
/// key leaves the window.
pub enum Reserved {
    Go(Reservation),
    Refused { oldest: Option<DateTime<Utc>> },
}

pub async fn reserve(
    db: &PgPool,
    limits: &[Limit],
    since: DateTime<Utc>,
) -> Result<Reserved, CatalogError> {
    let mut tx = db.begin().await?;
    // One lock per key, taken in a fixed order so two attempts sharing
    // keys never wait on each other crosswise. Released at commit.
    let mut keys: Vec<&str> = limits.iter().map(|l| l.key.as_str()).collect();
    keys.sort_unstable();
    for key in &keys {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(&mut *tx)
            .await?;
    }
    for limit in limits {
        let (count, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
            "SELECT count(*), min(at) FROM login_failures WHERE key = $1 AND at > $2",
        )
        .bind(&limit.key)
        .bind(since)
        .fetch_one(&mut *tx)
        .await?;
        if count >= limit.max {
            return Ok(Reserved::Refused { oldest });
        }
    }
    let attempt = Uuid::new_v4();
    sqlx::query("INSERT INTO login_failures (key, attempt) SELECT unnest($1::text[]), $2")
        .bind(keys)
        .bind(attempt)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Reserved::Go(Reservation(attempt)))
}

/// The attempt succeeded: its places are freed, and so are the account's
/// earlier failures (`account_key`); rows older than a day are swept.
pub async fn succeed(
    db: &PgPool,
    reservation: Reservation,
    account_key: Option<&str>,
) -> Result<(), CatalogError> {
    sqlx::query(
        "DELETE FROM login_failures
         WHERE attempt = $1 OR key = $2 OR at < now() - interval '1 day'",
    )
    .bind(reservation.0)
    .bind(account_key)
    .execute(db)
    .await?;
    Ok(())
}

/// The attempt was never judged (the server was too busy to hash): its
/// places are freed without counting against anyone.
pub async fn release(db: &PgPool, reservation: Reservation) -> Result<(), CatalogError> {
    sqlx::query("DELETE FROM login_failures WHERE attempt = $1")
        .bind(reservation.0)
        .execute(db)
        .await?;
    Ok(())
}

//! Lesson views and watch time (migration 0027): one row per lesson, viewer
//! and day, written by the player's heartbeats; the rules are in
//! `library::views`. The day is the viewer's school's calendar day.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::catalog::CatalogError;
use crate::library::views::{By, StatRow, credited};

/// Records one heartbeat of `viewer` (of `school`) on `lesson` at `now`,
/// claiming `claimed` seconds played since the last; the first of the day
/// counts a view. Returns whether this heartbeat started a view.
pub async fn record(
    db: &PgPool,
    lesson: Uuid,
    viewer: Uuid,
    school: Option<Uuid>,
    claimed: u32,
    now: DateTime<Utc>,
) -> Result<bool, CatalogError> {
    let mut tx = db.begin().await?;
    let day: NaiveDate = sqlx::query_scalar(
        "SELECT ($1 AT TIME ZONE COALESCE((SELECT time_zone FROM schools WHERE id = $2), 'Asia/Shanghai'))::date",
    )
    .bind(now)
    .bind(school)
    .fetch_one(&mut *tx)
    .await?;
    let started: Option<bool> = sqlx::query_scalar(
        "INSERT INTO lesson_views (lesson_id, viewer_id, day, school_id, first_at, last_at)
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING RETURNING true",
    )
    .bind(lesson)
    .bind(viewer)
    .bind(day)
    .bind(school)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let started = started.unwrap_or(false);
    // The row is locked from here: two heartbeats at once credit in turn.
    let last: DateTime<Utc> = sqlx::query_scalar(
        "SELECT last_at FROM lesson_views WHERE lesson_id = $1 AND viewer_id = $2 AND day = $3 FOR UPDATE",
    )
    .bind(lesson)
    .bind(viewer)
    .bind(day)
    .fetch_one(&mut *tx)
    .await?;
    let seconds = credited(claimed, (!started).then_some(last), now);
    sqlx::query(
        "UPDATE lesson_views SET seconds = LEAST(86400, seconds + $4), last_at = GREATEST(last_at, $5)
         WHERE lesson_id = $1 AND viewer_id = $2 AND day = $3",
    )
    .bind(lesson)
    .bind(viewer)
    .bind(day)
    .bind(seconds as i32)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if started {
        sqlx::query("UPDATE micro_lessons SET view_count = view_count + 1 WHERE id = $1")
            .bind(lesson)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(started)
}

/// At most this many rows (the busiest first).
pub const MAX_ROWS: i64 = 1000;

/// Views, viewers and watch time from `from` to `to` (days, inclusive).
pub async fn stats(
    db: &PgPool,
    by: By,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<StatRow>, CatalogError> {
    let (select, join, group) = match by {
        By::Lesson => (
            "l.id AS id, l.title AS name",
            "JOIN micro_lessons l ON l.id = v.lesson_id",
            "l.id, l.title",
        ),
        By::School => (
            "s.id AS id, COALESCE(s.name, '') AS name",
            "LEFT JOIN schools s ON s.id = v.school_id",
            "s.id, s.name",
        ),
        By::KnowledgePoint => (
            "k.id AS id, k.name AS name",
            "JOIN micro_lesson_knowledge_points p ON p.lesson_id = v.lesson_id
             JOIN knowledge_points k ON k.id = p.knowledge_point_id",
            "k.id, k.name",
        ),
    };
    let sql = format!(
        "SELECT {select}, count(*) AS views, count(DISTINCT v.viewer_id) AS viewers,
                COALESCE(sum(v.seconds), 0)::bigint AS watch_seconds
         FROM lesson_views v {join}
         WHERE v.day BETWEEN $1 AND $2
         GROUP BY {group} ORDER BY views DESC, watch_seconds DESC, name LIMIT {MAX_ROWS}"
    );
    Ok(sqlx::query_as(&sql)
        .bind(from)
        .bind(to)
        .fetch_all(db)
        .await?)
}

//! A lesson's review history: every decision kept (who, when, level,
//! decision, comment), and the one way a lesson's review state changes.
//! A state change is a compare-and-set on the row (the state it was read
//! in), so two reviewers, or two nodes, deciding at once cannot both win;
//! the step is written in the same transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::ReviewLevel;
use crate::catalog::CatalogError;
use crate::library::review::{Decision, Review, Transition};

/// One kept review step.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewStep {
    pub id: i64,
    pub actor_id: Option<Uuid>,
    pub actor_name: String,
    pub at: DateTime<Utc>,
    pub level: Option<ReviewLevel>,
    pub decision: Decision,
    pub comment: String,
}

#[derive(sqlx::FromRow)]
struct StepRow {
    id: i64,
    actor_id: Option<Uuid>,
    actor_name: String,
    at: DateTime<Utc>,
    level: Option<ReviewLevel>,
    decision: String,
    comment: String,
}

pub async fn steps(db: &PgPool, id: Uuid) -> Result<Vec<ReviewStep>, CatalogError> {
    let rows: Vec<StepRow> = sqlx::query_as(
        "SELECT id, actor_id, actor_name, at, level, decision, comment FROM review_steps
         WHERE lesson_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(db)
    .await?;
    // The table's check admits only decisions `Decision::parse` knows.
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(ReviewStep {
                id: r.id,
                actor_id: r.actor_id,
                actor_name: r.actor_name,
                at: r.at,
                level: r.level,
                decision: Decision::parse(&r.decision)?,
                comment: r.comment,
            })
        })
        .collect())
}

/// Stores `to` if the lesson is still as `from` was read, with its step.
/// 409 `lesson_changed` when someone else moved it first.
pub async fn apply(
    db: &PgPool,
    id: Uuid,
    from: Review,
    to: &Transition,
    actor: Option<Uuid>,
    actor_name: &str,
) -> Result<(), CatalogError> {
    let (from_state, from_level) = from.state.columns();
    let (state, level) = to.review.state.columns();
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE micro_lessons SET state = $5, review_level = $6, featured = $7,
             submitted_at = CASE WHEN $8 THEN $9 ELSE submitted_at END,
             published_at = COALESCE($10, published_at), updated_at = $9
         WHERE id = $1 AND state = $2 AND review_level IS NOT DISTINCT FROM $3 AND featured = $4",
    )
    .bind(id)
    .bind(from_state)
    .bind(from_level)
    .bind(from.featured)
    .bind(state)
    .bind(level)
    .bind(to.review.featured)
    .bind(to.step.decision == Decision::Submit)
    .bind(to.step.at)
    .bind(to.published_at)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::Conflict("lesson_changed"));
    }
    sqlx::query(
        "INSERT INTO review_steps (lesson_id, actor_id, actor_name, at, level, decision, comment)
         VALUES ($1, $2, COALESCE(NULLIF((SELECT display_name FROM users WHERE id = $2), ''), $3),
                 $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(actor)
    .bind(actor_name)
    .bind(to.step.at)
    .bind(to.step.level)
    .bind(to.step.decision.as_str())
    .bind(&to.step.comment)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

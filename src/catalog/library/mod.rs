//! The micro-lesson library's rows: uploads, terms (subjects, grades,
//! editions), knowledge points, lessons with their review steps, and the
//! queries that find them. The workflow and segmentation are
//! `crate::library`.

pub mod attachments;
pub mod browse;
pub mod knowledge_points;
pub mod lessons;
pub mod media;
pub mod removal;
pub mod review_steps;
pub mod search_index;
pub mod terms;
pub mod uploads;
pub mod video_chapters;
pub mod views;

use sqlx::PgPool;
use uuid::Uuid;

use super::CatalogError;

/// Whether a school is a partner school (for the `group` visibility);
/// group-wide accounts (no school) are not.
pub async fn is_partner_school(db: &PgPool, school: Option<Uuid>) -> Result<bool, CatalogError> {
    let Some(school) = school else {
        return Ok(false);
    };
    let partner: Option<bool> =
        sqlx::query_scalar("SELECT kind = 'partner' FROM schools WHERE id = $1")
            .bind(school)
            .fetch_optional(db)
            .await?;
    Ok(partner.unwrap_or(false))
}

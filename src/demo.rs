//! The demo classroom: a test pattern with the wall clock and a tone, going
//! through the same ingest, ladder, HLS and recording path as a camera.

use sqlx::PgPool;
use uuid::Uuid;

use crate::catalog::CatalogError;

/// Fixed so a restart finds the same classroom instead of adding another.
pub const DEMO_CLASSROOM_ID: Uuid = Uuid::from_u128(0x00000000_0000_4000_8000_0000000000de);
pub const DEMO_NAME: &str = "演示教室 / Demo classroom";

pub async fn ensure(db: &PgPool, recording_window_seconds: u64) -> Result<Uuid, CatalogError> {
    let school = crate::catalog::schools::default_school(db).await?;
    let window = i32::try_from(recording_window_seconds.max(1)).unwrap_or(i32::MAX);
    let mut tx = db.begin().await?;
    let created = sqlx::query(
        "INSERT INTO classrooms (id, school_id, name, recording_window_seconds, ladder_heights)
         VALUES ($1, $2, $3, $4, '{360}') ON CONFLICT (id) DO NOTHING",
    )
    .bind(DEMO_CLASSROOM_ID)
    .bind(school)
    .bind(DEMO_NAME)
    .bind(window)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if created == 1 {
        sqlx::query(
            "INSERT INTO sources (id, classroom_id, kind, role, name) VALUES ($1, $2, 'test', 'teacher', '测试图案 / Test pattern')",
        )
        .bind(Uuid::new_v4())
        .bind(DEMO_CLASSROOM_ID)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(DEMO_CLASSROOM_ID)
}

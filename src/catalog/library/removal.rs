//! Deleting a micro-lesson's rows, all in one transaction: its review
//! steps (0025 keeps them RESTRICT so that no other path deletes a lesson
//! with history by accident; this one means to, and the audit log keeps
//! the deletion), its transcode jobs, the lesson (its knowledge-point
//! links, views and attachment rows go with it by CASCADE) and the
//! uploads its videos were made from. What it returns is the media-store
//! prefixes nothing refers to any more; deleting them is the caller's.

use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::ReviewLevel;
use crate::catalog::CatalogError;
use crate::library::review::LessonState;
use crate::library::vod_ladder;

/// What went, for the audit log and the store.
#[derive(Debug)]
pub struct Removed {
    pub title: String,
    pub review_steps: u64,
    pub jobs: u64,
    pub uploads: Vec<Uuid>,
    /// Everything of the lesson in the media store, as prefixes.
    pub prefixes: Vec<String>,
}

/// The store prefix of a lesson's ladders (`media::attach`'s keys).
pub fn ladder_prefix(lesson: Uuid) -> String {
    format!("lessons/{lesson}/")
}

/// The store prefix of a lesson's attachments (`library::attachments`).
pub fn attachments_prefix(lesson: Uuid) -> String {
    format!("library/{lesson}/")
}

/// The upload id in a job's input key, `uploads/{id}/media-…`.
fn upload_of(input: &str) -> Option<Uuid> {
    let rest = input.strip_prefix("uploads/")?;
    rest.split('/').next()?.parse().ok()
}

/// Deletes the lesson if it is still in the state `seen` (the one the
/// caller's permission was decided on): 409 `lesson_wrong_state` if it
/// moved since. 409 `lesson_processing` while one of its transcodes is
/// running: a worker holding the job would go on writing a ladder under
/// the lesson's prefix after the prefix is emptied, leaving files nothing
/// refers to (and it would take minutes to notice its job is gone). A job
/// still queued is deleted here instead: claiming locks the job row (FOR
/// UPDATE SKIP LOCKED), and so does this, so a worker either claimed it
/// first (then it is running, and this waits for the claim and says 409)
/// or never sees it.
pub async fn delete(db: &PgPool, id: Uuid, seen: LessonState) -> Result<Removed, CatalogError> {
    let mut tx = db.begin().await?;
    let (title, state, level, upload): (String, String, Option<ReviewLevel>, Option<Uuid>) =
        sqlx::query_as(
            "SELECT title, state, review_level, upload_id FROM micro_lessons
             WHERE id = $1 FOR UPDATE",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    if LessonState::from_columns(&state, level) != Some(seen) {
        return Err(CatalogError::Conflict("lesson_wrong_state"));
    }
    // Every transcode of the lesson, the current video's and replaced
    // ones': each writes under the lesson's ladder prefix.
    let jobs: Vec<(Uuid, String, Option<String>)> = sqlx::query_as(
        "SELECT id, state, payload->>'input' FROM jobs
         WHERE id = (SELECT media_job_id FROM micro_lessons WHERE id = $1)
            OR (kind = $2 AND payload->>'output_dir' LIKE $3)
         FOR UPDATE",
    )
    .bind(id)
    .bind(vod_ladder::KIND)
    .bind(format!("{}%", ladder_prefix(id)))
    .fetch_all(&mut *tx)
    .await?;
    if jobs.iter().any(|(_, state, _)| state == "running") {
        return Err(CatalogError::Conflict("lesson_processing"));
    }
    let review_steps = sqlx::query("DELETE FROM review_steps WHERE lesson_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let job_ids: Vec<Uuid> = jobs.iter().map(|(job, _, _)| *job).collect();
    let deleted_jobs = sqlx::query("DELETE FROM jobs WHERE id = ANY($1)")
        .bind(&job_ids)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM micro_lessons WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    // The uploads its videos came from, unless another lesson was made
    // from the same one (one person may attach an upload twice).
    let mut candidates: Vec<Uuid> = upload.into_iter().collect();
    candidates.extend(
        jobs.iter()
            .filter_map(|(_, _, input)| upload_of(input.as_deref()?)),
    );
    let uploads: Vec<Uuid> = sqlx::query_scalar(
        "DELETE FROM uploads u WHERE u.id = ANY($1)
           AND NOT EXISTS (SELECT 1 FROM micro_lessons o WHERE o.upload_id = u.id)
         RETURNING u.id",
    )
    .bind(&candidates)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut prefixes = vec![ladder_prefix(id), attachments_prefix(id)];
    prefixes.extend(uploads.iter().map(|u| crate::library::uploads::prefix(*u)));
    Ok(Removed {
        title,
        review_steps,
        jobs: deleted_jobs,
        uploads,
        prefixes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jobs_input_names_its_upload() {
        let id = Uuid::new_v4();
        assert_eq!(upload_of(&format!("uploads/{id}/media-abc")), Some(id));
        assert_eq!(upload_of("recordings/x/file.mp4"), None);
        assert_eq!(upload_of("uploads/not-a-uuid/media"), None);
    }
}

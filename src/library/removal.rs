//! Deleting a micro-lesson for good: its rows first, in one transaction
//! (`catalog::library::removal`), then everything of it in the media store.
//!
//! Rows first, so that nobody is offered a file that is going, and so a
//! failure halfway never leaves a lesson whose video or attachments are
//! gone (objects first would: a failed row delete after them leaves a
//! lesson that plays nothing). A store delete that fails is logged with
//! the prefix and does not bring the row back: its objects are orphans
//! under the prefixes of an id that is never used again, never shown, and
//! can be removed by hand (or by the next delete of the same prefix).
//! Who may delete is `auth::policy`'s answer, not this module's.

use sqlx::PgPool;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::catalog::CatalogError;
use crate::catalog::library::removal::{self, Removed};
use crate::library::review::LessonState;
use crate::storage::MediaStore;

/// Deletes the lesson's rows (the lesson still in `seen`), then starts
/// deleting its objects in a task of its own, so that a request dropped
/// half-way (its client gone) still finishes the cleanup; see the module
/// doc. Await the handle for the objects to be gone.
pub async fn delete_lesson(
    db: &PgPool,
    store: &MediaStore,
    id: Uuid,
    seen: LessonState,
) -> Result<(Removed, JoinHandle<()>), CatalogError> {
    let removed = removal::delete(db, id, seen).await?;
    let (store, prefixes) = (store.clone(), removed.prefixes.clone());
    let cleanup = tokio::spawn(async move {
        for prefix in &prefixes {
            if let Err(e) = store.delete_prefix(prefix).await {
                tracing::warn!(lesson = %id, prefix,
                    "deleted lesson's objects not deleted, left as orphans: {e}");
            }
        }
    });
    Ok((removed, cleanup))
}

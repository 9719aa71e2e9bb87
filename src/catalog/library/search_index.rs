//! A lesson's search columns (`search`, `search_title`, `search_text`), written by the
//! application because PostgreSQL cannot segment Chinese (see
//! `library::search`). They hold words from the lesson's own columns and
//! from the names of its knowledge points, so they are rewritten when
//! either changes: a lesson edited (`lessons`), a knowledge point renamed
//! (`knowledge_points`), and, for all lessons at once, when the segmenter
//! or its subject vocabulary changed with an upgrade
//! (`classcast reindex-library`).

use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::catalog::CatalogError;
use crate::library::search;

/// Lessons rewritten per transaction by `reindex_all`: small enough that
/// no row stays locked for long on a running server, large enough that a
/// million lessons take minutes, not hours.
const BATCH: i64 = 500;

/// Rewrites the search columns from what the lesson says now.
pub(super) async fn reindex(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
) -> Result<(), CatalogError> {
    reindex_many(tx, &[id]).await
}

/// `reindex` for many lessons in two statements, not two per lesson: a
/// full re-index of a million lessons is bound by segmenting, not by
/// round trips to the database.
async fn reindex_many(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[Uuid],
) -> Result<(), CatalogError> {
    type Row = (
        Uuid,
        String,
        String,
        String,
        Vec<String>,
        String,
        Vec<String>,
    );
    // Locked first, in id order, then read: a concurrent edit of one of
    // them is committed before its text is read here (not overwritten by
    // words from its old text), and two rewrites sharing lessons (two
    // renamed points) cannot deadlock.
    sqlx::query("SELECT id FROM micro_lessons WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
        .bind(ids)
        .execute(&mut **tx)
        .await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT l.id, l.title, l.description, l.series, l.tags, l.teacher_name,
                COALESCE(array_agg(k.name ORDER BY k.name) FILTER (WHERE k.id IS NOT NULL), '{}')
         FROM micro_lessons l
         LEFT JOIN micro_lesson_knowledge_points p ON p.lesson_id = l.id
         LEFT JOIN knowledge_points k ON k.id = p.knowledge_point_id
         WHERE l.id = ANY($1) GROUP BY l.id",
    )
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    // Segmenting is CPU work (well under a millisecond a lesson, but a
    // batch is 500): off the async threads.
    let (done, vectors, titles, texts) = tokio::task::spawn_blocking(move || {
        let (mut done, mut vectors, mut titles, mut texts) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (id, title, description, series, tags, teacher, points) in &rows {
            let indexed = search::index(&search::Document {
                title,
                knowledge_points: points.iter().map(String::as_str).collect(),
                series,
                tags: tags.iter().map(String::as_str).collect(),
                teacher,
                description,
            });
            done.push(*id);
            vectors.push(indexed.tsvector);
            titles.push(indexed.title);
            texts.push(indexed.text);
        }
        (done, vectors, titles, texts)
    })
    .await
    // Only a panic in the segmenter ends the task early: pass it on.
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    sqlx::query(
        "UPDATE micro_lessons l SET search = n.search::tsvector,
                search_title = n.title::tsvector, search_text = n.text
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS n(id, search, title, text)
         WHERE l.id = n.id",
    )
    .bind(&done)
    .bind(&vectors)
    .bind(&titles)
    .bind(&texts)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Rewrites the lessons filed under a knowledge point, in the transaction
/// that renamed it, so a search finds them by the new name as soon as the
/// rename is seen, and never by the old one after it.
pub(super) async fn reindex_point(
    tx: &mut Transaction<'_, Postgres>,
    point: Uuid,
) -> Result<u64, CatalogError> {
    let lessons: Vec<Uuid> = sqlx::query_scalar(
        "SELECT lesson_id FROM micro_lesson_knowledge_points
         WHERE knowledge_point_id = $1 ORDER BY lesson_id",
    )
    .bind(point)
    .fetch_all(&mut **tx)
    .await?;
    for batch in lessons.chunks(BATCH as usize) {
        reindex_many(tx, batch).await?;
    }
    Ok(lessons.len() as u64)
}

/// Rewrites every lesson's search columns, in batches of `BATCH` in id
/// order, each its own transaction: safe beside a running server (a lesson
/// edited meanwhile is locked, so it is rewritten from its committed
/// text) and resumable by running again.
/// Returns how many lessons were rewritten.
pub async fn reindex_all(db: &PgPool) -> Result<u64, CatalogError> {
    let mut after = Uuid::nil();
    let mut done = 0u64;
    loop {
        let mut tx = db.begin().await?;
        let ids: Vec<Uuid> =
            sqlx::query_scalar("SELECT id FROM micro_lessons WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(BATCH)
                .fetch_all(&mut *tx)
                .await?;
        let Some(&last) = ids.last() else {
            return Ok(done);
        };
        reindex_many(&mut tx, &ids).await?;
        tx.commit().await?;
        done += ids.len() as u64;
        after = last;
    }
}

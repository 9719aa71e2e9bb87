//! Micro-lessons: describing them and reading them back. Review steps are
//! in `review_steps`, the video in `media`. The search columns are
//! rewritten whenever what they index changes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::ReviewLevel;
use crate::auth::policy::LessonFacts;
use crate::catalog::{CatalogError, Validation};
use crate::library::Visibility;
use crate::library::review::{LessonState, Review};
use crate::library::video_chapters::VideoChapter;

use super::media::{LessonMedia, MediaColumns};
use super::search_index::reindex;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 5000;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 30;
pub const MAX_KNOWLEDGE_POINTS: usize = 30;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLesson {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub subject_id: Uuid,
    pub grade_id: Uuid,
    pub edition_id: Option<Uuid>,
    #[serde(default)]
    pub chapter: String,
    #[serde(default)]
    pub series: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// A teacher of the lesson's school; their name is copied when
    /// `teacher_name` is left out.
    pub teacher_id: Option<Uuid>,
    #[serde(default)]
    pub teacher_name: String,
    /// The author's own school when left out.
    pub school_id: Option<Uuid>,
    #[serde(default)]
    pub knowledge_point_ids: Vec<Uuid>,
    /// `school` when left out.
    pub visibility: Option<Visibility>,
}

/// Fields left out stay as they are; `null` clears the optional ones.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LessonUpdate {
    pub title: Option<String>,
    pub description: Option<String>,
    pub subject_id: Option<Uuid>,
    pub grade_id: Option<Uuid>,
    #[serde(default, deserialize_with = "crate::catalog::present_or_null")]
    #[schema(value_type = Option<Uuid>)]
    pub edition_id: Option<Option<Uuid>>,
    pub chapter: Option<String>,
    pub series: Option<String>,
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::catalog::present_or_null")]
    #[schema(value_type = Option<Uuid>)]
    pub teacher_id: Option<Option<Uuid>>,
    pub teacher_name: Option<String>,
    pub knowledge_point_ids: Option<Vec<Uuid>>,
    pub visibility: Option<Visibility>,
    /// Chapters within the video (视频分段), first to last: the whole list,
    /// replacing the one before. Bad ones answer 422 with a field
    /// `video_chapters:{n}` (n from 1) each.
    pub video_chapters: Option<Vec<VideoChapter>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NamedRef {
    pub id: Uuid,
    pub name: String,
}

/// A lesson as shown on its page and in lists.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Lesson {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub subject: NamedRef,
    pub grade: NamedRef,
    pub edition: Option<NamedRef>,
    pub chapter: String,
    pub series: String,
    pub tags: Vec<String>,
    pub teacher_id: Option<Uuid>,
    pub teacher_name: String,
    pub school: NamedRef,
    pub author_id: Option<Uuid>,
    pub visibility: Visibility,
    /// `draft`, `submitted`, `rejected`, `published`, `unpublished`.
    pub state: String,
    /// Where a submitted lesson waits.
    pub review_level: Option<ReviewLevel>,
    pub featured: bool,
    pub view_count: i64,
    /// The upload the video was made from.
    pub upload_id: Option<Uuid>,
    /// The recording the video was cut from (`POST /api/recordings/{id}/clips`).
    pub source_recording: Option<SourceRecording>,
    /// The video: none until one is attached.
    pub media: Option<LessonMedia>,
    pub knowledge_points: Vec<NamedRef>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
}

/// Where a lesson cut from a recording came from: seconds on the
/// recording's timeline. `recording_id` is None once the recording is gone.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SourceRecording {
    pub recording_id: Option<Uuid>,
    pub start_seconds: f64,
    pub end_seconds: f64,
}

#[derive(sqlx::FromRow)]
pub(super) struct LessonRow {
    id: Uuid,
    title: String,
    description: String,
    subject_id: Uuid,
    subject_name: String,
    grade_id: Uuid,
    grade_name: String,
    edition_id: Option<Uuid>,
    edition_name: Option<String>,
    chapter: String,
    series: String,
    tags: Vec<String>,
    teacher_id: Option<Uuid>,
    teacher_name: String,
    school_id: Uuid,
    school_name: String,
    author_id: Option<Uuid>,
    visibility: String,
    state: String,
    review_level: Option<ReviewLevel>,
    featured: bool,
    view_count: i64,
    upload_id: Option<Uuid>,
    source_recording_id: Option<Uuid>,
    source_start_seconds: Option<f64>,
    source_end_seconds: Option<f64>,
    #[sqlx(flatten)]
    media: MediaColumns,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    submitted_at: Option<DateTime<Utc>>,
    published_at: Option<DateTime<Utc>>,
}

/// The columns `LessonRow` reads, from `micro_lessons l` and its terms.
pub(super) const LESSON_SELECT: &str = "SELECT l.id, l.title, l.description,
    l.subject_id, s.name AS subject_name, l.grade_id, g.name AS grade_name,
    l.edition_id, e.name AS edition_name, l.chapter, l.series, l.tags,
    l.teacher_id, l.teacher_name, l.school_id, sc.name AS school_name, l.author_id,
    l.visibility, l.state, l.review_level, l.featured, l.view_count, l.upload_id,
    l.source_recording_id, l.source_start_seconds, l.source_end_seconds,
    l.media_job_id, j.state AS media_job_state, j.progress_percent AS media_progress,
    j.step AS media_step, j.error AS media_error, l.duration_seconds,
    COALESCE(u.probe -> 'video' <> 'null'::jsonb, l.source_start_seconds IS NOT NULL)
        AS has_video,
    l.created_at, l.updated_at, l.submitted_at, l.published_at
  FROM micro_lessons l
  LEFT JOIN jobs j ON j.id = l.media_job_id
  LEFT JOIN uploads u ON u.id = l.upload_id
  JOIN subjects s ON s.id = l.subject_id
  JOIN grades g ON g.id = l.grade_id
  LEFT JOIN editions e ON e.id = l.edition_id
  JOIN schools sc ON sc.id = l.school_id";

impl LessonRow {
    pub(super) fn id(&self) -> Uuid {
        self.id
    }

    pub(super) fn into_lesson(self, knowledge_points: Vec<NamedRef>) -> Lesson {
        let named = |id, name| NamedRef { id, name };
        Lesson {
            id: self.id,
            title: self.title,
            description: self.description,
            subject: named(self.subject_id, self.subject_name),
            grade: named(self.grade_id, self.grade_name),
            edition: self
                .edition_id
                .zip(self.edition_name)
                .map(|(i, n)| named(i, n)),
            chapter: self.chapter,
            series: self.series,
            tags: self.tags,
            teacher_id: self.teacher_id,
            teacher_name: self.teacher_name,
            school: named(self.school_id, self.school_name),
            author_id: self.author_id,
            // The table's check admits only the three.
            visibility: Visibility::parse(&self.visibility).unwrap_or(Visibility::School),
            state: self.state,
            review_level: self.review_level,
            featured: self.featured,
            view_count: self.view_count,
            upload_id: self.upload_id,
            source_recording: self.source_start_seconds.zip(self.source_end_seconds).map(
                |(start_seconds, end_seconds)| SourceRecording {
                    recording_id: self.source_recording_id,
                    start_seconds,
                    end_seconds,
                },
            ),
            media: self.media.into_media(self.id),
            knowledge_points,
            created_at: self.created_at,
            updated_at: self.updated_at,
            submitted_at: self.submitted_at,
            published_at: self.published_at,
        }
    }
}

/// The fields of a new lesson or a change that need checking (None: not
/// being changed).
#[derive(Default)]
struct Fields<'a> {
    title: Option<&'a str>,
    description: Option<&'a str>,
    chapter: Option<&'a str>,
    series: Option<&'a str>,
    teacher_name: Option<&'a str>,
    tags: Option<&'a [String]>,
    points: Option<&'a [Uuid]>,
}

fn validate(f: Fields) -> Result<(), CatalogError> {
    let Fields {
        title,
        description,
        chapter,
        series,
        teacher_name,
        tags,
        points,
    } = f;
    let mut v = Validation::default();
    if let Some(title) = title {
        v.name(title, MAX_TITLE_CHARS, "title");
    }
    // Descriptions may have line breaks; other control characters not.
    let description = description.map(|d| d.replace(['\n', '\r', '\t'], " "));
    v.text(description.as_deref(), MAX_DESCRIPTION_CHARS, "description");
    v.text(chapter, crate::catalog::MAX_NAME_CHARS, "chapter");
    v.text(series, crate::catalog::MAX_NAME_CHARS, "series");
    v.text(teacher_name, crate::catalog::MAX_NAME_CHARS, "teacher_name");
    if let Some(tags) = tags {
        v.check(tags.len() <= MAX_TAGS, "tags", "too_many_tags");
        for tag in tags {
            v.name(tag, MAX_TAG_CHARS, "tags");
        }
    }
    if let Some(points) = points {
        v.check(
            points.len() <= MAX_KNOWLEDGE_POINTS,
            "knowledge_point_ids",
            "too_many_knowledge_points",
        );
    }
    v.finish()
}

fn clean_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags.iter().map(|t| t.trim().to_string()) {
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    out
}

/// The checks of a new lesson's own fields (the database checks the rest
/// as it is made): for a caller with slow work to do before `create`.
pub fn check_new(new: &NewLesson) -> Result<(), CatalogError> {
    validate(Fields {
        title: Some(&new.title),
        description: Some(&new.description),
        chapter: Some(&new.chapter),
        series: Some(&new.series),
        teacher_name: Some(&new.teacher_name),
        tags: Some(&new.tags),
        points: Some(&new.knowledge_point_ids),
    })
}

/// Creates a draft by `author` (None: the open bench's anonymous admin).
pub async fn create(
    db: &PgPool,
    new: &NewLesson,
    school: Uuid,
    author: Option<Uuid>,
) -> Result<Uuid, CatalogError> {
    check_new(new)?;
    let id = Uuid::new_v4();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO micro_lessons (id, title, description, subject_id, grade_id, edition_id,
             chapter, series, tags, teacher_id, teacher_name, school_id, author_id, visibility)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(id)
    .bind(new.title.trim())
    .bind(new.description.trim())
    .bind(new.subject_id)
    .bind(new.grade_id)
    .bind(new.edition_id)
    .bind(new.chapter.trim())
    .bind(new.series.trim())
    .bind(clean_tags(&new.tags))
    .bind(new.teacher_id)
    .bind(new.teacher_name.trim())
    .bind(school)
    .bind(author)
    .bind(new.visibility.unwrap_or(Visibility::School).as_str())
    .execute(&mut *tx)
    .await?;
    set_points(&mut tx, id, &new.knowledge_point_ids).await?;
    check_teacher_and_points(&mut tx, id).await?;
    reindex(&mut tx, id).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update(db: &PgPool, id: Uuid, u: &LessonUpdate) -> Result<(), CatalogError> {
    validate(Fields {
        title: u.title.as_deref(),
        description: u.description.as_deref(),
        chapter: u.chapter.as_deref(),
        series: u.series.as_deref(),
        teacher_name: u.teacher_name.as_deref(),
        tags: u.tags.as_deref(),
        points: u.knowledge_point_ids.as_deref(),
    })?;
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE micro_lessons SET
             title = COALESCE($2, title), description = COALESCE($3, description),
             subject_id = COALESCE($4, subject_id), grade_id = COALESCE($5, grade_id),
             edition_id = CASE WHEN $6 THEN $7 ELSE edition_id END,
             chapter = COALESCE($8, chapter), series = COALESCE($9, series),
             tags = COALESCE($10, tags),
             teacher_id = CASE WHEN $11 THEN $12 ELSE teacher_id END,
             teacher_name = COALESCE($13, teacher_name),
             visibility = COALESCE($14, visibility), updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(u.title.as_deref().map(str::trim))
    .bind(u.description.as_deref().map(str::trim))
    .bind(u.subject_id)
    .bind(u.grade_id)
    .bind(u.edition_id.is_some())
    .bind(u.edition_id.flatten())
    .bind(u.chapter.as_deref().map(str::trim))
    .bind(u.series.as_deref().map(str::trim))
    .bind(u.tags.as_deref().map(clean_tags))
    .bind(u.teacher_id.is_some())
    .bind(u.teacher_id.flatten())
    .bind(u.teacher_name.as_deref().map(str::trim))
    .bind(u.visibility.map(Visibility::as_str))
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound);
    }
    if let Some(points) = &u.knowledge_point_ids {
        sqlx::query("DELETE FROM micro_lesson_knowledge_points WHERE lesson_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        set_points(&mut tx, id, points).await?;
    }
    if let Some(chapters) = &u.video_chapters {
        super::video_chapters::replace(&mut tx, id, chapters).await?;
    }
    check_teacher_and_points(&mut tx, id).await?;
    reindex(&mut tx, id).await?;
    tx.commit().await?;
    Ok(())
}

async fn set_points(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    points: &[Uuid],
) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO micro_lesson_knowledge_points (lesson_id, knowledge_point_id)
         SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(points)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The teacher teaches at the lesson's school (their name is copied when
/// none is given), and the knowledge points are of the lesson's subject.
async fn check_teacher_and_points(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
) -> Result<(), CatalogError> {
    let (teacher_elsewhere, foreign_points): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM micro_lessons l JOIN users u ON u.id = l.teacher_id
                        WHERE l.id = $1 AND u.school_id IS DISTINCT FROM l.school_id),
                EXISTS (SELECT 1 FROM micro_lessons l
                        JOIN micro_lesson_knowledge_points p ON p.lesson_id = l.id
                        JOIN knowledge_points k ON k.id = p.knowledge_point_id
                        WHERE l.id = $1 AND k.subject_id <> l.subject_id)",
    )
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    let mut v = Validation::default();
    v.check(!teacher_elsewhere, "teacher_id", "teacher_not_at_school");
    v.check(
        !foreign_points,
        "knowledge_point_ids",
        "knowledge_point_other_subject",
    );
    v.finish()?;
    sqlx::query(
        "UPDATE micro_lessons l SET teacher_name = u.display_name FROM users u
         WHERE l.id = $1 AND u.id = l.teacher_id AND l.teacher_name = ''",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The facts policy decides on, and the review state as read.
pub async fn facts(db: &PgPool, id: Uuid) -> Result<(LessonFacts, Review), CatalogError> {
    let (school_id, subject_id, author_id, visibility, state, level, featured): (
        Uuid,
        Uuid,
        Option<Uuid>,
        String,
        String,
        Option<ReviewLevel>,
        bool,
    ) = sqlx::query_as(
        "SELECT school_id, subject_id, author_id, visibility, state, review_level, featured
         FROM micro_lessons WHERE id = $1",
    )
    .bind(id)
    .fetch_one(db)
    .await?;
    let state = LessonState::from_columns(&state, level)
        .ok_or_else(|| CatalogError::Database(sqlx::Error::Decode("lesson state".into())))?;
    let facts = LessonFacts {
        school_id,
        subject_id,
        author_id,
        state,
        visibility: Visibility::parse(&visibility).unwrap_or(Visibility::School),
    };
    Ok((facts, Review { state, featured }))
}

pub async fn get(db: &PgPool, id: Uuid) -> Result<Lesson, CatalogError> {
    let row: LessonRow = sqlx::query_as(&format!("{LESSON_SELECT} WHERE l.id = $1"))
        .bind(id)
        .fetch_one(db)
        .await?;
    let points = points_of(db, &[id]).await?;
    Ok(row.into_lesson(points.into_iter().map(|(_, p)| p).collect()))
}

/// Knowledge points of some lessons, as (lesson, point).
pub(super) async fn points_of(
    db: &PgPool,
    lessons: &[Uuid],
) -> Result<Vec<(Uuid, NamedRef)>, CatalogError> {
    let rows: Vec<(Uuid, Uuid, String)> = sqlx::query_as(
        "SELECT p.lesson_id, k.id, k.name FROM micro_lesson_knowledge_points p
         JOIN knowledge_points k ON k.id = p.knowledge_point_id
         WHERE p.lesson_id = ANY($1) ORDER BY k.position, k.name",
    )
    .bind(lessons)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(lesson, id, name)| (lesson, NamedRef { id, name }))
        .collect())
}

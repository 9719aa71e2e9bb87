//! Finding lessons: the library's list and search, and reviewers' queues.
//! Who sees what is decided in the WHERE clause (a million lessons cannot
//! be filtered in Rust); it follows `auth::policy::visible_published` and
//! `ReviewScope`, and the integration tests check both agree. Pages are
//! "one more than asked" rather than counted: a count over a large library
//! costs more than the page.

use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use super::lessons::{LESSON_SELECT, Lesson, LessonRow, points_of};
use crate::auth::ReviewLevel;
use crate::auth::policy::ReviewScope;
use crate::catalog::CatalogError;
use crate::library::search::{self, Query};

/// Longest description excerpt shown with a search result.
const SNIPPET_CHARS: usize = 120;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Best match first (with a query), else newest.
    #[default]
    Relevance,
    Newest,
    MostViewed,
}

/// Who is looking, as the visibility clause needs it.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub user_id: Uuid,
    pub school_id: Option<Uuid>,
    pub is_partner: bool,
    /// Library staff see every published lesson.
    pub staff: bool,
}

#[derive(Debug, Clone, Default)]
pub struct LessonFilter {
    pub query: Option<Query>,
    pub subject_id: Option<Uuid>,
    pub grade_id: Option<Uuid>,
    pub edition_id: Option<Uuid>,
    pub chapter: Option<String>,
    pub knowledge_point_id: Option<Uuid>,
    pub series: Option<String>,
    pub school_id: Option<Uuid>,
    pub teacher_id: Option<Uuid>,
    pub featured: Option<bool>,
    /// The caller's own lessons at every stage, instead of the library.
    pub mine: bool,
    pub sort: Sort,
    pub limit: i64,
    pub offset: i64,
}

/// Matches, HTML-escaped with `<mark>` around the query's words.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Highlight {
    pub title: String,
    /// An excerpt of the description around the first match.
    pub description: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LessonHit {
    #[serde(flatten)]
    pub lesson: Lesson,
    /// With a query: how well it matched (higher is better).
    pub rank: Option<f32>,
    pub highlight: Option<Highlight>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LessonPage {
    pub items: Vec<LessonHit>,
    /// Another page follows.
    pub has_more: bool,
}

pub(super) fn push_visibility(b: &mut QueryBuilder<'_, Postgres>, viewer: &Viewer) {
    b.push(" AND l.state = 'published'");
    if viewer.staff {
        return;
    }
    b.push(" AND (l.visibility = 'partners' OR l.school_id = ");
    b.push_bind(viewer.school_id);
    if !viewer.is_partner {
        b.push(" OR l.visibility = 'group'");
    }
    b.push(")");
}

fn push_query(b: &mut QueryBuilder<'_, Postgres>, query: &Query) {
    b.push(" AND (");
    if !query.tsquery.is_empty() {
        b.push("l.search @@ ");
        b.push_bind(query.tsquery.clone());
        b.push("::tsquery OR ");
    }
    // Every term as a substring: what the segmenter cut otherwise, single
    // characters, parts of words (pg_trgm's index serves these).
    b.push("(");
    for (i, pattern) in query.patterns.iter().enumerate() {
        if i > 0 {
            b.push(" AND ");
        }
        b.push("l.search_text LIKE ");
        b.push_bind(pattern.clone());
    }
    b.push("))");
}

fn push_rank(b: &mut QueryBuilder<'_, Postgres>, query: Option<&Query>) {
    match query {
        Some(q) if !q.tsquery.is_empty() => {
            b.push("ts_rank(l.search, ");
            b.push_bind(q.tsquery.clone());
            b.push("::tsquery)");
        }
        _ => {
            b.push("0::real");
        }
    }
}

pub async fn list(
    db: &PgPool,
    viewer: &Viewer,
    filter: &LessonFilter,
) -> Result<LessonPage, CatalogError> {
    // The rank is a column of the inner query so the outer one can sort on it.
    let select = LESSON_SELECT.replacen(
        " FROM micro_lessons l",
        ", {rank} AS rank FROM micro_lessons l",
        1,
    );
    let (head, tail) = select.split_once("{rank}").unwrap_or((&select, ""));
    let mut b: QueryBuilder<Postgres> = QueryBuilder::new("SELECT * FROM (");
    b.push(head);
    push_rank(&mut b, filter.query.as_ref());
    b.push(tail);
    b.push(" WHERE true");
    if filter.mine {
        b.push(" AND l.author_id = ");
        b.push_bind(viewer.user_id);
    } else {
        push_visibility(&mut b, viewer);
    }
    if let Some(q) = &filter.query {
        push_query(&mut b, q);
    }
    let mut eq = |column: &str, value: Option<Uuid>| {
        if let Some(value) = value {
            b.push(format!(" AND l.{column} = "));
            b.push_bind(value);
        }
    };
    eq("subject_id", filter.subject_id);
    eq("grade_id", filter.grade_id);
    eq("edition_id", filter.edition_id);
    eq("school_id", filter.school_id);
    eq("teacher_id", filter.teacher_id);
    if let Some(chapter) = &filter.chapter {
        b.push(" AND l.chapter = ");
        b.push_bind(chapter.clone());
    }
    if let Some(series) = &filter.series {
        b.push(" AND l.series = ");
        b.push_bind(series.clone());
    }
    if let Some(featured) = filter.featured {
        b.push(" AND l.featured = ");
        b.push_bind(featured);
    }
    if let Some(point) = filter.knowledge_point_id {
        // The point's lessons first, as one array, then their rows: as
        // EXISTS, PostgreSQL walked the newest-first index until it had a
        // page, through the whole library for a point with few lessons
        // (3.4 s at 1,000,000 lessons for one with none, where this takes
        // under 1 ms; benches/library_search.sh).
        b.push(
            " AND l.id = ANY(ARRAY(SELECT p.lesson_id FROM micro_lesson_knowledge_points p
                                   WHERE p.knowledge_point_id = ",
        );
        b.push_bind(point);
        b.push("))");
    }
    b.push(") found ORDER BY ");
    let newest = "published_at DESC NULLS LAST, updated_at DESC, id";
    match filter.sort {
        Sort::Relevance if filter.query.is_some() => b.push(format!("rank DESC, {newest}")),
        Sort::Relevance | Sort::Newest => b.push(newest),
        Sort::MostViewed => b.push(format!("view_count DESC, {newest}")),
    };
    b.push(" LIMIT ");
    b.push_bind(filter.limit + 1);
    b.push(" OFFSET ");
    b.push_bind(filter.offset);
    let rows: Vec<Ranked> = b.build_query_as().fetch_all(db).await?;
    let has_more = rows.len() as i64 > filter.limit;
    let rows: Vec<Ranked> = rows.into_iter().take(filter.limit as usize).collect();
    let items = hits(db, rows, filter.query.as_ref()).await?;
    Ok(LessonPage { items, has_more })
}

#[derive(sqlx::FromRow)]
struct Ranked {
    #[sqlx(flatten)]
    row: LessonRow,
    rank: f32,
}

async fn hits(
    db: &PgPool,
    rows: Vec<Ranked>,
    query: Option<&Query>,
) -> Result<Vec<LessonHit>, CatalogError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.row.id()).collect();
    let mut points = points_of(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let id = r.row.id();
            let mine = points
                .iter()
                .filter(|(l, _)| *l == id)
                .map(|(_, p)| p.clone())
                .collect();
            points.retain(|(l, _)| *l != id);
            let lesson = r.row.into_lesson(mine);
            let highlight = query.map(|q| Highlight {
                title: search::highlight(&lesson.title, &q.terms, None),
                description: search::highlight(&lesson.description, &q.terms, Some(SNIPPET_CHARS)),
            });
            LessonHit {
                rank: query.map(|_| r.rank),
                highlight,
                lesson,
            }
        })
        .collect())
}

fn push_scope(b: &mut QueryBuilder<'_, Postgres>, scope: &ReviewScope) {
    b.push(" WHERE l.state = 'submitted' AND l.author_id IS DISTINCT FROM ");
    b.push_bind(scope.user_id);
    b.push(" AND ((l.review_level = 'teaching_group' AND l.school_id = ");
    b.push_bind(scope.school_id);
    b.push(" AND l.subject_id = ANY(");
    b.push_bind(scope.teaching_group_subjects.clone());
    b.push("))");
    if scope.school {
        b.push(" OR (l.review_level = 'school' AND l.school_id = ");
        b.push_bind(scope.school_id);
        b.push(")");
    }
    if scope.resource_center {
        b.push(" OR l.review_level = 'resource_center'");
    }
    b.push(")");
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct QueueCounts {
    pub teaching_group: i64,
    pub school: i64,
    pub resource_center: i64,
    pub total: i64,
}

/// What waits for this reviewer, oldest first, and how much at each level.
pub async fn queue(
    db: &PgPool,
    scope: &ReviewScope,
    limit: i64,
) -> Result<(QueueCounts, Vec<Lesson>), CatalogError> {
    let mut counts = QueueCounts::default();
    if scope.is_empty() {
        return Ok((counts, Vec::new()));
    }
    let mut b: QueryBuilder<Postgres> =
        QueryBuilder::new("SELECT l.review_level, count(*) FROM micro_lessons l");
    push_scope(&mut b, scope);
    b.push(" GROUP BY l.review_level");
    let by_level: Vec<(ReviewLevel, i64)> = b.build_query_as().fetch_all(db).await?;
    for (level, n) in by_level {
        match level {
            ReviewLevel::TeachingGroup => counts.teaching_group = n,
            ReviewLevel::School => counts.school = n,
            ReviewLevel::ResourceCenter => counts.resource_center = n,
        }
        counts.total += n;
    }
    let mut b: QueryBuilder<Postgres> = QueryBuilder::new(LESSON_SELECT);
    push_scope(&mut b, scope);
    b.push(" ORDER BY l.submitted_at, l.id LIMIT ");
    b.push_bind(limit);
    let rows: Vec<LessonRow> = b.build_query_as().fetch_all(db).await?;
    let ids: Vec<Uuid> = rows.iter().map(LessonRow::id).collect();
    let points = points_of(db, &ids).await?;
    let lessons = rows
        .into_iter()
        .map(|row| {
            let id = row.id();
            let mine = points
                .iter()
                .filter(|(l, _)| *l == id)
                .map(|(_, p)| p.clone())
                .collect();
            row.into_lesson(mine)
        })
        .collect();
    Ok((counts, lessons))
}

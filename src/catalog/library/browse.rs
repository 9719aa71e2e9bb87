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
    /// With a query: 1 when every term is in the title, else 0 (by
    /// relevance, the 1s are listed first).
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

/// Which of the lessons that pass the filters a statement reads.
#[derive(Clone, Copy)]
enum Matching<'a> {
    /// All of them (browsing).
    All,
    /// Those that hold every term of the query, anywhere.
    Query(&'a Query),
    /// Those with every term in the title: a search's first lessons.
    InTitle(&'a Query),
    /// Those that hold every term, but not all in the title: the rest.
    NotInTitle(&'a Query),
}

fn push_matching(b: &mut QueryBuilder<'_, Postgres>, matching: Matching<'_>) {
    let (query, title) = match matching {
        Matching::All => return,
        Matching::Query(q) => (q, None),
        Matching::InTitle(q) => (q, Some(true)),
        Matching::NotInTitle(q) => (q, Some(false)),
    };
    // Words and grams from the search indexes; the long terms checked
    // against the text of the lessons they found.
    if title == Some(true) {
        b.push(" AND l.search_title @@ ");
    } else {
        b.push(" AND l.search @@ ");
    }
    b.push_bind(query.tsquery.clone());
    b.push("::tsquery");
    if title == Some(false) {
        b.push(" AND NOT l.search_title @@ ");
        b.push_bind(query.tsquery.clone());
        b.push("::tsquery");
    }
    for pattern in &query.patterns {
        b.push(" AND l.search_text LIKE ");
        b.push_bind(pattern.clone());
    }
}

pub async fn list(
    db: &PgPool,
    viewer: &Viewer,
    filter: &LessonFilter,
) -> Result<LessonPage, CatalogError> {
    let want = filter.limit + 1;
    let ids = match &filter.query {
        None => page(db, viewer, filter, Matching::All, filter.offset, want).await?,
        // One's own lessons are few: one statement, whatever the plan.
        Some(q) if filter.mine => {
            page(db, viewer, filter, Matching::Query(q), filter.offset, want).await?
        }
        Some(q) => match filter.sort {
            Sort::Relevance => by_relevance(db, viewer, filter, q).await?,
            Sort::Newest => {
                newest(db, viewer, filter, Matching::Query(q), filter.offset, want).await?
            }
            Sort::MostViewed => most_viewed(db, viewer, filter, q, want).await?,
        },
    };
    let rows = load(db, &ids, filter.query.as_ref()).await?;
    let has_more = rows.len() as i64 > filter.limit;
    let rows: Vec<Ranked> = rows.into_iter().take(filter.limit as usize).collect();
    let items = hits(db, rows, filter.query.as_ref()).await?;
    Ok(LessonPage { items, has_more })
}

/// A search's best matches: the lessons with every term in the title,
/// newest first, then the others, newest first. Ranking every match with
/// ts_rank read them all: 43,000 lessons and 0.5 s for 分数 at 1,000,000
/// (benches/library_search.sh).
async fn by_relevance(
    db: &PgPool,
    viewer: &Viewer,
    filter: &LessonFilter,
    q: &Query,
) -> Result<Vec<Uuid>, CatalogError> {
    let want = filter.limit + 1;
    let title = Matching::InTitle(q);
    let mut ids = newest(db, viewer, filter, title, filter.offset, want).await?;
    if ids.len() as i64 == want {
        return Ok(ids);
    }
    // How many lessons the first part has: all of them are before the
    // rest (counted, no further than the offset, when this page has none).
    let in_title = if ids.is_empty() && filter.offset > 0 {
        newest(db, viewer, filter, title, 0, filter.offset)
            .await?
            .len() as i64
    } else {
        filter.offset + ids.len() as i64
    };
    let rest_offset = filter.offset - in_title.min(filter.offset);
    let rest_limit = want - ids.len() as i64;
    let rest = Matching::NotInTitle(q);
    ids.extend(newest(db, viewer, filter, rest, rest_offset, rest_limit).await?);
    Ok(ids)
}

/// Lessons looked at, newest (or most viewed) first, for a page of a
/// search before asking the index instead: a common term fills its page
/// from them in a few milliseconds.
const WINDOW: i64 = 2000;

/// The newest matches. First among the `WINDOW` newest lessons the
/// viewer may see: if the page is full from them, it is the newest
/// matches of all. Else the term is rare there, and the RUM index gives
/// the matches in publication order from the index alone, where sorting
/// what a GIN index found read every match's row (2,500 rows for a
/// teacher's name: 47 ms; the RUM index: under 1 ms).
async fn newest(
    db: &PgPool,
    viewer: &Viewer,
    filter: &LessonFilter,
    matching: Matching<'_>,
    offset: i64,
    limit: i64,
) -> Result<Vec<Uuid>, CatalogError> {
    let newest = "l.published_at DESC NULLS LAST, l.updated_at DESC, l.id";
    let ids = window(db, viewer, filter, matching, newest, offset, limit).await?;
    if ids.len() as i64 == limit {
        return Ok(ids);
    }
    let mut b: QueryBuilder<Postgres> =
        QueryBuilder::new("SELECT l.id FROM micro_lessons l WHERE true");
    push_filters(&mut b, viewer, filter);
    push_matching(&mut b, matching);
    // RUM's distance from a far future: the index's own order, newest first.
    b.push(" ORDER BY l.published_at <=| '9999-12-31'::timestamptz LIMIT ");
    b.push_bind(limit);
    b.push(" OFFSET ");
    b.push_bind(offset);
    // Read in the index's order, never as a bitmap sorted after: with a
    // filter (a grade), PostgreSQL expected a handful of matches and chose
    // the bitmap, then read 14,000 rows to sort 1,100 (433 ms for 光合作用
    // in one grade; benches/library_search.sh).
    let mut tx = db.begin().await?;
    sqlx::query("SET LOCAL enable_bitmapscan = off")
        .execute(&mut *tx)
        .await?;
    let ids = b.build_query_scalar().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(ids)
}

/// The most viewed matches: from the `WINDOW` most viewed lessons, else
/// sorted from what the index found.
async fn most_viewed(
    db: &PgPool,
    viewer: &Viewer,
    filter: &LessonFilter,
    q: &Query,
    limit: i64,
) -> Result<Vec<Uuid>, CatalogError> {
    let order = "l.view_count DESC, l.published_at DESC NULLS LAST, l.updated_at DESC, l.id";
    let matching = Matching::Query(q);
    let ids = window(db, viewer, filter, matching, order, filter.offset, limit).await?;
    if ids.len() as i64 == limit {
        return Ok(ids);
    }
    // The matches as one array first, so PostgreSQL does not walk the
    // most-viewed index through the library looking for them.
    let mut b: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT l.id FROM micro_lessons l WHERE l.id = ANY(ARRAY(
           SELECT l.id FROM micro_lessons l WHERE true",
    );
    push_matching(&mut b, matching);
    b.push("))");
    push_filters(&mut b, viewer, filter);
    b.push(format!(" ORDER BY {order} LIMIT "));
    b.push_bind(limit);
    b.push(" OFFSET ");
    b.push_bind(filter.offset);
    Ok(b.build_query_scalar().fetch_all(db).await?)
}

/// The page's matches among the first `WINDOW` lessons the viewer may
/// see, in `order` (which an index of migration 0030 serves). The other
/// filters apply to those, so the window costs the same whatever they
/// are: applied first, a grade's window read twelve times as many rows.
async fn window(
    db: &PgPool,
    viewer: &Viewer,
    filter: &LessonFilter,
    matching: Matching<'_>,
    order: &str,
    offset: i64,
    limit: i64,
) -> Result<Vec<Uuid>, CatalogError> {
    let mut b: QueryBuilder<Postgres> =
        QueryBuilder::new("SELECT l.id FROM (SELECT l.* FROM micro_lessons l WHERE true");
    push_seen(&mut b, viewer, filter);
    b.push(format!(" ORDER BY {order} LIMIT {WINDOW}) l WHERE true"));
    push_narrowing(&mut b, filter);
    push_matching(&mut b, matching);
    b.push(format!(" ORDER BY {order} LIMIT "));
    b.push_bind(limit);
    b.push(" OFFSET ");
    b.push_bind(offset);
    Ok(b.build_query_scalar().fetch_all(db).await?)
}

/// The rows of a page, in the order of `ids`; with a query, ranked 1
/// when every term is in the title, else 0.
async fn load(db: &PgPool, ids: &[Uuid], q: Option<&Query>) -> Result<Vec<Ranked>, CatalogError> {
    let select = LESSON_SELECT.replacen(
        " FROM micro_lessons l",
        ", COALESCE((l.search_title @@ $2::tsquery)::int, 0)::real AS rank FROM micro_lessons l",
        1,
    );
    let rows: Vec<Ranked> = sqlx::query_as(&format!("{select} WHERE l.id = ANY($1)"))
        .bind(ids)
        .bind(q.map(|q| q.tsquery.clone()))
        .fetch_all(db)
        .await?;
    let mut rows: Vec<Option<Ranked>> = rows.into_iter().map(Some).collect();
    Ok(ids
        .iter()
        .filter_map(|id| {
            let at = rows
                .iter()
                .position(|r| r.as_ref().is_some_and(|r| r.row.id() == *id))?;
            rows[at].take()
        })
        .collect())
}

/// One statement's page, in the filter's order: browsing, and searching
/// one's own lessons. Only the lessons' own table, as every statement
/// that finds a page here: with the six tables of a lesson's row joined,
/// PostgreSQL spent 8–10 ms planning each page (every join order with
/// every ordered index of the lessons) for 0.3 ms of running it
/// (benches/library_search.sh); the page's rows are then read by id.
async fn page(
    db: &PgPool,
    viewer: &Viewer,
    filter: &LessonFilter,
    matching: Matching<'_>,
    offset: i64,
    limit: i64,
) -> Result<Vec<Uuid>, CatalogError> {
    let mut b: QueryBuilder<Postgres> =
        QueryBuilder::new("SELECT l.id FROM micro_lessons l WHERE true");
    push_filters(&mut b, viewer, filter);
    push_matching(&mut b, matching);
    let newest = "l.published_at DESC NULLS LAST, l.updated_at DESC, l.id";
    b.push(" ORDER BY ");
    match (filter.sort, matching) {
        (Sort::MostViewed, _) => {
            b.push(format!("l.view_count DESC, {newest}"));
        }
        (Sort::Relevance, Matching::Query(q)) => {
            b.push("(l.search_title @@ ");
            b.push_bind(q.tsquery.clone());
            b.push(format!("::tsquery) DESC, {newest}"));
        }
        _ => {
            b.push(newest);
        }
    };
    b.push(" LIMIT ");
    b.push_bind(limit);
    b.push(" OFFSET ");
    b.push_bind(offset);
    Ok(b.build_query_scalar().fetch_all(db).await?)
}

/// Who sees what, and the filters other than the query.
fn push_filters(b: &mut QueryBuilder<'_, Postgres>, viewer: &Viewer, filter: &LessonFilter) {
    push_seen(b, viewer, filter);
    push_narrowing(b, filter);
}

/// The lessons this viewer may list: their own, or the library's.
fn push_seen(b: &mut QueryBuilder<'_, Postgres>, viewer: &Viewer, filter: &LessonFilter) {
    if filter.mine {
        b.push(" AND l.author_id = ");
        b.push_bind(viewer.user_id);
    } else {
        push_visibility(b, viewer);
    }
}

/// Subject, grade, school, knowledge point and the other filters.
fn push_narrowing(b: &mut QueryBuilder<'_, Postgres>, filter: &LessonFilter) {
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

//! Knowledge points (知识点): a tree per subject and grade, kept by the
//! subject's teaching-research group, importable from CSV (one path from
//! the root per row: `数与代数,分数,分数的加减法`). The database checks that
//! a child shares its parent's subject and grade, that siblings have
//! distinct names, and that a point with children or lessons stays.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

use super::browse::{Viewer, push_visibility};
use crate::catalog::{CatalogError, Validation};

pub const MAX_POINT_NAME_CHARS: usize = 100;
/// Rows read from one CSV import.
pub const MAX_IMPORT_ROWS: usize = 5000;
/// Levels of the tree a CSV row may name.
pub const MAX_DEPTH: usize = 8;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct KnowledgePoint {
    pub id: Uuid,
    pub subject_id: Uuid,
    pub grade_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: String,
    pub position: i32,
}

/// A point with the points under it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KnowledgeNode {
    #[serde(flatten)]
    pub point: KnowledgePoint,
    /// Published lessons filed under this very point (not its children)
    /// that the caller may see: what the library lists for it.
    pub lesson_count: i64,
    #[schema(no_recursion)]
    pub children: Vec<KnowledgeNode>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKnowledgePoint {
    pub subject_id: Uuid,
    pub grade_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: String,
    #[serde(default)]
    pub position: i32,
}

/// Fields left out stay; `parent_id: null` moves the point to the root.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KnowledgePointUpdate {
    pub name: Option<String>,
    pub position: Option<i32>,
    #[serde(default, deserialize_with = "crate::catalog::present_or_null")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ImportReport {
    /// Points made by this import.
    pub created: u64,
    /// Points the file named that were there already.
    pub existing: u64,
}

const COLUMNS: &str = "id, subject_id, grade_id, parent_id, name, position";

pub async fn get(db: &PgPool, id: Uuid) -> Result<KnowledgePoint, CatalogError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM knowledge_points WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(db)
    .await?)
}

/// The trees of one subject and grade, siblings by position then name,
/// each point with the lessons `viewer` finds under it.
pub async fn tree(
    db: &PgPool,
    subject: Uuid,
    grade: Uuid,
    viewer: &Viewer,
) -> Result<Vec<KnowledgeNode>, CatalogError> {
    let points: Vec<KnowledgePoint> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM knowledge_points WHERE subject_id = $1 AND grade_id = $2
         ORDER BY position, name"
    ))
    .bind(subject)
    .bind(grade)
    .fetch_all(db)
    .await?;
    // One grouped count over the subject and grade's index rows, with the
    // library's own visibility clause, so a count matches the list.
    let mut b: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT p.knowledge_point_id, count(*) FROM micro_lesson_knowledge_points p
         JOIN knowledge_points k ON k.id = p.knowledge_point_id
         JOIN micro_lessons l ON l.id = p.lesson_id
         WHERE k.subject_id = ",
    );
    b.push_bind(subject);
    b.push(" AND k.grade_id = ");
    b.push_bind(grade);
    push_visibility(&mut b, viewer);
    b.push(" GROUP BY p.knowledge_point_id");
    let counts: Vec<(Uuid, i64)> = b.build_query_as().fetch_all(db).await?;
    Ok(build_tree(points, &counts.into_iter().collect()))
}

/// Nests points under their parents, keeping their order.
pub fn build_tree(points: Vec<KnowledgePoint>, counts: &HashMap<Uuid, i64>) -> Vec<KnowledgeNode> {
    fn children_of(
        parent: Option<Uuid>,
        points: &[KnowledgePoint],
        counts: &HashMap<Uuid, i64>,
    ) -> Vec<KnowledgeNode> {
        points
            .iter()
            .filter(|p| p.parent_id == parent)
            .map(|p| KnowledgeNode {
                point: p.clone(),
                lesson_count: counts.get(&p.id).copied().unwrap_or(0),
                children: children_of(Some(p.id), points, counts),
            })
            .collect()
    }
    children_of(None, &points, counts)
}

pub async fn create(db: &PgPool, new: &NewKnowledgePoint) -> Result<KnowledgePoint, CatalogError> {
    let mut v = Validation::default();
    v.name(&new.name, MAX_POINT_NAME_CHARS, "name");
    v.finish()?;
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO knowledge_points (id, subject_id, grade_id, parent_id, name, position)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(new.subject_id)
    .bind(new.grade_id)
    .bind(new.parent_id)
    .bind(new.name.trim())
    .bind(new.position)
    .execute(db)
    .await?;
    get(db, id).await
}

pub async fn update(
    db: &PgPool,
    id: Uuid,
    update: &KnowledgePointUpdate,
) -> Result<KnowledgePoint, CatalogError> {
    let mut v = Validation::default();
    if let Some(name) = &update.name {
        v.name(name, MAX_POINT_NAME_CHARS, "name");
    }
    v.finish()?;
    let mut tx = db.begin().await?;
    if let Some(Some(parent)) = update.parent_id {
        // A point moved under its own descendant would cut a loop out of the tree.
        let looped: bool = sqlx::query_scalar(
            "WITH RECURSIVE up(id, parent_id) AS (
                 SELECT id, parent_id FROM knowledge_points WHERE id = $1
                 UNION SELECT k.id, k.parent_id FROM knowledge_points k JOIN up ON k.id = up.parent_id)
             SELECT EXISTS (SELECT 1 FROM up WHERE id = $2)",
        )
        .bind(parent)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if looped {
            let mut v = Validation::default();
            v.check(false, "parent_id", "knowledge_point_loop");
            v.finish()?;
        }
    }
    let done = sqlx::query(
        "UPDATE knowledge_points SET name = COALESCE($2, name), position = COALESCE($3, position),
             parent_id = CASE WHEN $4 THEN $5 ELSE parent_id END, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(update.name.as_deref().map(str::trim))
    .bind(update.position)
    .bind(update.parent_id.is_some())
    .bind(update.parent_id.flatten())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound);
    }
    if update.name.is_some() {
        // The lessons filed under it are found by its name.
        super::search_index::reindex_point(&mut tx, id).await?;
    }
    tx.commit().await?;
    get(db, id).await
}

/// Deletes a leaf no lesson is filed under; otherwise 409 saying which
/// (`knowledge_point_has_children`, `knowledge_point_has_lessons`), so the
/// editor knows what to move first.
pub async fn delete(db: &PgPool, id: Uuid) -> Result<(), CatalogError> {
    let done = match sqlx::query("DELETE FROM knowledge_points WHERE id = $1")
        .bind(id)
        .execute(db)
        .await
        .map_err(crate::catalog::refused_delete)
    {
        Err(CatalogError::Conflict(_)) => {
            // Only two foreign keys point here: a child's and a lesson's.
            let has_children: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM knowledge_points WHERE parent_id = $1)",
            )
            .bind(id)
            .fetch_one(db)
            .await?;
            return Err(CatalogError::Conflict(if has_children {
                "knowledge_point_has_children"
            } else {
                "knowledge_point_has_lessons"
            }));
        }
        other => other?,
    };
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound);
    }
    Ok(())
}

/// Imports paths from CSV into one subject and grade's tree, making the
/// points not there yet; all or nothing. Rows may repeat a prefix
/// (`分数` then `分数,分数的加减法`); empty cells end a row.
pub async fn import_csv(
    db: &PgPool,
    subject: Uuid,
    grade: Uuid,
    csv: &str,
) -> Result<ImportReport, CatalogError> {
    let rows = parse_csv(csv)?;
    let mut report = ImportReport::default();
    let mut tx = db.begin().await?;
    for (n, (_, row)) in rows.iter().enumerate() {
        let mut parent: Option<Uuid> = None;
        for (level, name) in row.iter().enumerate() {
            let found: Option<Uuid> = sqlx::query_scalar(
                "SELECT id FROM knowledge_points WHERE subject_id = $1 AND grade_id = $2
                 AND parent_id IS NOT DISTINCT FROM $3 AND name = $4",
            )
            .bind(subject)
            .bind(grade)
            .bind(parent)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
            parent = Some(match found {
                Some(id) => {
                    report.existing += u64::from(level + 1 == row.len());
                    id
                }
                None => {
                    let id = Uuid::new_v4();
                    sqlx::query(
                        "INSERT INTO knowledge_points (id, subject_id, grade_id, parent_id, name, position)
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(id)
                    .bind(subject)
                    .bind(grade)
                    .bind(parent)
                    .bind(name)
                    .bind(i32::try_from(n).unwrap_or(i32::MAX))
                    .execute(&mut *tx)
                    .await?;
                    report.created += 1;
                    id
                }
            });
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// RFC 4180 fields (quotes, doubled quotes, CRLF), a BOM from Excel
/// dropped, blank lines and `#` comments skipped, trailing empty cells
/// cut; each row with the file's line it starts on (from 1). Every name is
/// checked like one typed in, and a bad row is reported by its line
/// (`CatalogError::InvalidRows`) so the file can be fixed where it is wrong.
pub fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, CatalogError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let (mut line, mut row_line) = (1, 1);
    let mut chars = text.chars().peekable();
    let mut end_row = |row: &mut Vec<String>, field: &mut String, at: usize| {
        row.push(std::mem::take(field).trim().to_string());
        while row.last().is_some_and(String::is_empty) {
            row.pop();
        }
        let comment = row.first().is_some_and(|f| f.starts_with('#'));
        if !row.is_empty() && !comment {
            rows.push((at, std::mem::take(row)));
        }
        row.clear();
    };
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
        }
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field).trim().to_string()),
            (false, '\r') => {}
            (false, '\n') => {
                end_row(&mut row, &mut field, row_line);
                row_line = line;
            }
            (false, c) => field.push(c),
        }
    }
    end_row(&mut row, &mut field, row_line);
    let mut v = Validation::default();
    v.check(!rows.is_empty(), "csv", "csv_empty");
    v.check(rows.len() <= MAX_IMPORT_ROWS, "csv", "csv_too_many_rows");
    v.finish()?;
    let mut bad: BTreeMap<usize, &'static str> = BTreeMap::new();
    for (at, row) in &rows {
        let named = row
            .iter()
            .all(|name| !name.is_empty() && crate::catalog::valid_text(name, MAX_POINT_NAME_CHARS));
        if !named {
            bad.insert(*at, "csv_bad_name");
        } else if row.len() > MAX_DEPTH {
            bad.insert(*at, "csv_too_deep");
        }
    }
    if !bad.is_empty() {
        return Err(CatalogError::InvalidRows {
            field: "csv",
            rows: bad,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_paths_from_the_root() {
        let rows = parse_csv(
            "\u{feff}数与代数,分数\r\n# 注释\n\n\"数与代数\",\"分数,小数\",\n图形与几何,\"勾股\"\"定理\"\"\"\n",
        )
        .unwrap();
        assert_eq!(
            rows,
            vec![
                (1, vec!["数与代数".to_string(), "分数".into()]),
                (4, vec!["数与代数".to_string(), "分数,小数".into()]),
                (5, vec!["图形与几何".to_string(), "勾股\"定理\"".into()]),
            ]
        );
        assert!(parse_csv("\n\n").is_err());
    }

    #[test]
    fn bad_rows_are_named_by_their_line() {
        let long = "长".repeat(MAX_POINT_NAME_CHARS + 1);
        let deep = ["层"; MAX_DEPTH + 1].join(",");
        let text = format!("数与代数,分数\n\"多行\n名称\"\na,,b\n# 注释\n{long}\n{deep}\n图形\n");
        match parse_csv(&text) {
            Err(CatalogError::InvalidRows { field, rows }) => {
                assert_eq!(field, "csv");
                assert_eq!(
                    rows,
                    BTreeMap::from([
                        (2, "csv_bad_name"),
                        (4, "csv_bad_name"),
                        (6, "csv_bad_name"),
                        (7, "csv_too_deep")
                    ]),
                    "a quoted name over two lines is one (bad) row; the lines after it keep their numbers"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn points_nest_under_their_parents_in_order() {
        let (s, g) = (Uuid::new_v4(), Uuid::new_v4());
        let point = |id, parent, name: &str| KnowledgePoint {
            id,
            subject_id: s,
            grade_id: g,
            parent_id: parent,
            name: name.into(),
            position: 0,
        };
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let tree = build_tree(
            vec![
                point(a, None, "数与代数"),
                point(b, Some(a), "分数"),
                point(c, None, "图形与几何"),
            ],
            &HashMap::from([(b, 3)]),
        );
        assert_eq!(tree.len(), 2);
        assert_eq!(tree[0].children[0].point.name, "分数");
        assert_eq!(
            (tree[0].lesson_count, tree[0].children[0].lesson_count),
            (0, 3)
        );
        assert!(tree[1].children.is_empty());
    }
}

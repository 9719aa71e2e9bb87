//! The catalogue in PostgreSQL: schools, classrooms, their sources, lessons
//! (one row per time a classroom went live), recordings and accounts. Plain async functions over a pool; no HTTP here.
//!
//! Input validation that needs no database (names, URLs, ladders) lives next
//! to the types in each submodule so the API and the CLI share it.

pub mod accounts;
pub mod classrooms;
pub mod interactive;
pub mod ledger;
pub mod lessons;
pub mod library;
pub mod recordings;
pub mod schools;
pub mod sources;

use std::collections::BTreeMap;

/// What went wrong at the catalogue boundary. The HTTP layer maps it once.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("not found")]
    NotFound,
    /// Field name → message code (looked up in the UI's message catalogue).
    #[error("invalid input: {0:?}")]
    Invalid(BTreeMap<&'static str, &'static str>),
    /// A file read row by row (a CSV import) with bad rows: line number
    /// (from 1) → message code, all of them at once.
    #[error("invalid rows in {field}: {rows:?}")]
    InvalidRows {
        field: &'static str,
        rows: BTreeMap<usize, &'static str>,
    },
    /// A unique constraint said no (e.g. two classrooms with one name in a school).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A value someone else already has (a school's name, a username): a
    /// conflict the person fixes in that one field, so it names the field.
    #[error("{field} taken: {code}")]
    Taken {
        field: &'static str,
        code: &'static str,
    },
    /// PostgreSQL cannot be reached or is restarting: worth a retry soon.
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error(transparent)]
    Database(sqlx::Error),
}

/// Columns a constraint failure can be reported against. Field names in
/// errors are `&'static str`, so a constraint's column is looked up here;
/// anything else is reported as `input`.
const KNOWN_COLUMNS: &[&str] = &[
    "school_id",
    "user_id",
    "parent_id",
    "teacher_id",
    "classroom_id",
    "source_id",
    "recording_id",
    "live_session_id",
    "shared_by",
    "name",
    "username",
    "display_name",
    "recording_window_seconds",
    "grace_seconds",
    "review_level",
    "subject_id",
    "grade_id",
    "edition_id",
    "knowledge_point_id",
    "knowledge_point_ids",
    "lesson_id",
    "title",
    "code",
    "url",
    "stream_key",
    "external_id",
];

/// The column a constraint named the PostgreSQL way
/// (`{table}_{column}_fkey`, `{table}_{column}_check`) is about.
fn constraint_column(table: Option<&str>, constraint: Option<&str>) -> &'static str {
    let column = constraint.and_then(|c| {
        let c = c
            .strip_suffix("_fkey")
            .or_else(|| c.strip_suffix("_check"))?;
        match table {
            Some(table) => c.strip_prefix(table)?.strip_prefix('_'),
            None => Some(c),
        }
    });
    column
        .and_then(|c| KNOWN_COLUMNS.iter().find(|k| **k == c).copied())
        .unwrap_or("input")
}

impl From<sqlx::Error> for CatalogError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => CatalogError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                CatalogError::Unavailable(error)
            }
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                let field = || constraint_column(db.table(), db.constraint());
                match code.as_ref() {
                    // Connection exceptions, and a server shutting down or starting up.
                    c if c.starts_with("08") => CatalogError::Unavailable(error),
                    "57P01" | "57P02" | "57P03" | "53300" => CatalogError::Unavailable(error),
                    // A classroom's name is unique in its school: the person
                    // fixes that one field.
                    "23505" if db.constraint() == Some("classrooms_school_id_name_key") => {
                        CatalogError::Taken {
                            field: "name",
                            code: "classroom_name_taken",
                        }
                    }
                    "23505" => CatalogError::Conflict("already_exists"),
                    // An insert or update naming a row that does not exist.
                    // (Deletes that a RESTRICT key refuses map it with
                    // `refused_delete`.)
                    "23503" => invalid(field(), "unknown_reference"),
                    "23514" | "23502" => invalid(field(), "invalid_value"),
                    // Text PostgreSQL cannot store (a NUL byte); validation
                    // should have caught it with the field's name.
                    "22021" | "22P05" => invalid("input", "invalid_text"),
                    // Over-long values for bounded types.
                    "22001" => invalid("input", "too_long"),
                    _ => CatalogError::Database(error),
                }
            }
            _ => CatalogError::Database(error),
        }
    }
}

fn invalid(field: &'static str, code: &'static str) -> CatalogError {
    CatalogError::Invalid(BTreeMap::from([(field, code)]))
}

/// For deletes: a foreign key that refuses means the row is still in use.
pub fn refused_delete(error: sqlx::Error) -> CatalogError {
    match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            CatalogError::Conflict("still_referenced")
        }
        _ => error.into(),
    }
}

/// Collects field errors so a request gets all of them at once.
#[derive(Debug, Default)]
pub struct Validation(BTreeMap<&'static str, &'static str>);

impl Validation {
    pub fn check(&mut self, ok: bool, field: &'static str, code: &'static str) {
        if !ok {
            self.0.entry(field).or_insert(code);
        }
    }

    pub fn finish(self) -> Result<(), CatalogError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(CatalogError::Invalid(self.0))
        }
    }
}

/// Longest name shown in the UI (schools, classrooms, sources, users).
pub const MAX_NAME_CHARS: usize = 200;
/// Longest short machine-ish text: credentials, external ids.
pub const MAX_SHORT_TEXT_CHARS: usize = 200;

/// Names shown in the UI: not blank, not absurdly long, no control
/// characters (a NUL cannot even be stored). Any other text is allowed
/// (Chinese, quotes, markup); the UI escapes on output.
pub fn valid_name(name: &str) -> bool {
    let trimmed = name.trim();
    !trimmed.is_empty() && valid_text(trimmed, MAX_NAME_CHARS)
}

/// Free text of at most `max` characters without control characters.
pub fn valid_text(text: &str, max: usize) -> bool {
    text.chars().count() <= max && !text.chars().any(char::is_control)
}

impl Validation {
    /// A name: not blank, then `text` rules.
    pub fn name(&mut self, name: &str, max: usize, field: &'static str) {
        self.check(!name.trim().is_empty(), field, "invalid_name");
        self.text(Some(name), max, field);
    }

    /// Checks optional free text: absent is fine; present must be
    /// `valid_text`. Reports NUL and control characters apart from length,
    /// so the message says what is wrong.
    pub fn text(&mut self, value: Option<&str>, max: usize, field: &'static str) {
        let Some(value) = value else { return };
        self.check(!value.chars().any(char::is_control), field, "invalid_text");
        self.check(value.chars().count() <= max, field, "too_long");
    }
}

/// For PATCH bodies: a missing field stays `None`, an explicit `null` becomes
/// `Some(None)` (clear it), a value becomes `Some(Some(v))`.
pub fn present_or_null<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

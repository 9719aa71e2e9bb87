//! The catalogue in PostgreSQL: schools, classrooms, their sources, lessons
//! (one row per time a classroom went live), recordings and accounts. Plain async functions over a pool; no HTTP here.
//!
//! Input validation that needs no database (names, URLs, ladders) lives next
//! to the types in each submodule so the API and the CLI share it.

pub mod accounts;
pub mod classrooms;
pub mod ledger;
pub mod lessons;
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
    /// A unique constraint said no (e.g. two classrooms with one name in a school).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for CatalogError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => CatalogError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                CatalogError::Conflict("already_exists")
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                CatalogError::Conflict("still_referenced")
            }
            _ => CatalogError::Database(error),
        }
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

/// Names shown in the UI: not blank, not absurdly long. Any text is allowed
/// otherwise (Chinese, quotes, markup); the UI escapes on output.
pub fn valid_name(name: &str) -> bool {
    let trimmed = name.trim();
    !trimmed.is_empty() && trimmed.chars().count() <= 200
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

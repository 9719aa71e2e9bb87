//! Micro-lessons (微课资源库): the review workflow (`review`, pure) and
//! Chinese search (`search`, the segmenter). Rows live in
//! `catalog::library`; who may do what in `auth::policy`; HTTP in
//! `http::library` and `http::library_terms`. Uploads, jobs and the VOD
//! ladder are not here yet.

pub mod review;
pub mod search;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who sees a published lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Every signed-in user of the group's own schools (not partner schools).
    Group,
    /// The group and its partner schools: every signed-in user.
    Partners,
    /// The lesson's own school only.
    School,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Group => "group",
            Visibility::Partners => "partners",
            Visibility::School => "school",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "group" => Visibility::Group,
            "partners" => Visibility::Partners,
            "school" => Visibility::School,
            _ => return None,
        })
    }
}

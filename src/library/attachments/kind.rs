//! What an attachment is for. Kept apart from the taking-in so that the
//! catalogue's rows can name it without the catalogue depending on the
//! module that writes them (which would make a circle).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What an attachment is for, as the lesson page groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 学习任务单
    TaskSheet,
    Slides,
    /// 检测习题
    Exercises,
    Other,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::TaskSheet => "task_sheet",
            Kind::Slides => "slides",
            Kind::Exercises => "exercises",
            Kind::Other => "other",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown attachment kind {0:?}")]
pub struct UnknownKind(String);

impl TryFrom<String> for Kind {
    type Error = UnknownKind;

    fn try_from(text: String) -> Result<Self, UnknownKind> {
        Ok(match text.as_str() {
            "task_sheet" => Kind::TaskSheet,
            "slides" => Kind::Slides,
            "exercises" => Kind::Exercises,
            "other" => Kind::Other,
            _ => return Err(UnknownKind(text)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_from_their_column() {
        for kind in [Kind::TaskSheet, Kind::Slides, Kind::Exercises, Kind::Other] {
            assert_eq!(Kind::try_from(kind.as_str().to_string()).unwrap(), kind);
        }
        assert!(Kind::try_from("video".to_string()).is_err());
    }
}

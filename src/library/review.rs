//! The three-level review (三级评审) of a micro-lesson as a pure state
//! machine: a state and an action go in, with the time, and the next state
//! and the step to keep come out. Who may take an action is not decided
//! here (that is `auth::policy`), and nothing here touches the database:
//! the catalogue stores the state as (`state`, `review_level`) and writes
//! the step in the same transaction.
//!
//! draft → submitted(教研组) → submitted(学校) → submitted(资源中心) → published.
//! A rejection, with a comment, returns the lesson to its author
//! (`Rejected`); the author revises and resubmits from the first level.
//! A published lesson can be unpublished (and resubmitted later), and is
//! featured (精品课) only while published.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::auth::ReviewLevel;

/// Longest review comment kept.
pub const MAX_COMMENT_CHARS: usize = 2000;

/// Where a lesson is in its review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LessonState {
    Draft,
    /// Waiting for a decision at this level.
    Submitted(ReviewLevel),
    /// Sent back to the author with a comment.
    Rejected,
    Published,
    /// Taken out of the library; the author may revise and resubmit.
    Unpublished,
}

/// What someone does to a lesson.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Submit,
    Approve { comment: String },
    Reject { comment: String },
    Unpublish { comment: String },
    Feature(bool),
}

/// The decision a kept step records (`review_steps.decision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Submit,
    Approve,
    Reject,
    Unpublish,
    Feature,
    Unfeature,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Submit => "submit",
            Decision::Approve => "approve",
            Decision::Reject => "reject",
            Decision::Unpublish => "unpublish",
            Decision::Feature => "feature",
            Decision::Unfeature => "unfeature",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "submit" => Decision::Submit,
            "approve" => Decision::Approve,
            "reject" => Decision::Reject,
            "unpublish" => Decision::Unpublish,
            "feature" => Decision::Feature,
            "unfeature" => Decision::Unfeature,
            _ => return None,
        })
    }
}

/// A lesson's review state and its 精品课 mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Review {
    pub state: LessonState,
    pub featured: bool,
}

/// The step to keep for an action taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub at: DateTime<Utc>,
    /// The level decided at (approvals and rejections).
    pub level: Option<ReviewLevel>,
    pub decision: Decision,
    pub comment: String,
}

/// The outcome of an action: the new review and the step that records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub review: Review,
    pub step: Step,
    /// Set when the lesson has just been published.
    pub published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// Not possible in the lesson's state (approving a draft, featuring an
    /// unpublished lesson, resubmitting while in review).
    #[error("not possible while the lesson is {0:?}")]
    WrongState(LessonState),
    /// A rejection must say why, so the author knows what to change.
    #[error("a rejection needs a comment")]
    CommentRequired,
    #[error("comment too long")]
    CommentTooLong,
}

/// The level after `level`, or None after the last one.
pub fn next_level(level: ReviewLevel) -> Option<ReviewLevel> {
    match level {
        ReviewLevel::TeachingGroup => Some(ReviewLevel::School),
        ReviewLevel::School => Some(ReviewLevel::ResourceCenter),
        ReviewLevel::ResourceCenter => None,
    }
}

impl LessonState {
    /// The author may change the lesson's description.
    pub fn editable(self) -> bool {
        matches!(
            self,
            LessonState::Draft | LessonState::Rejected | LessonState::Unpublished
        )
    }

    /// The level a decision is waited for at, if any.
    pub fn waiting_at(self) -> Option<ReviewLevel> {
        match self {
            LessonState::Submitted(level) => Some(level),
            _ => None,
        }
    }

    /// As stored: (`state`, `review_level`).
    pub fn columns(self) -> (&'static str, Option<ReviewLevel>) {
        match self {
            LessonState::Draft => ("draft", None),
            LessonState::Submitted(level) => ("submitted", Some(level)),
            LessonState::Rejected => ("rejected", None),
            LessonState::Published => ("published", None),
            LessonState::Unpublished => ("unpublished", None),
        }
    }

    /// From the stored columns; None for a pair the table's checks forbid.
    pub fn from_columns(state: &str, level: Option<ReviewLevel>) -> Option<Self> {
        Some(match (state, level) {
            ("draft", None) => LessonState::Draft,
            ("submitted", Some(level)) => LessonState::Submitted(level),
            ("rejected", None) => LessonState::Rejected,
            ("published", None) => LessonState::Published,
            ("unpublished", None) => LessonState::Unpublished,
            _ => return None,
        })
    }
}

fn clean_comment(comment: &str) -> Result<String, ReviewError> {
    let comment = comment.trim();
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(ReviewError::CommentTooLong);
    }
    Ok(comment.to_string())
}

impl Review {
    pub fn new() -> Self {
        Review {
            state: LessonState::Draft,
            featured: false,
        }
    }

    /// Applies `action` at `now`.
    pub fn apply(self, action: Action, now: DateTime<Utc>) -> Result<Transition, ReviewError> {
        let wrong = Err(ReviewError::WrongState(self.state));
        let step = |level, decision, comment: String| Step {
            at: now,
            level,
            decision,
            comment,
        };
        let (state, featured, step) = match (self.state, action) {
            (s, Action::Submit) if s.editable() => (
                LessonState::Submitted(ReviewLevel::TeachingGroup),
                false,
                step(None, Decision::Submit, String::new()),
            ),
            (LessonState::Submitted(level), Action::Approve { comment }) => {
                let next = match next_level(level) {
                    Some(next) => LessonState::Submitted(next),
                    None => LessonState::Published,
                };
                let comment = clean_comment(&comment)?;
                (next, false, step(Some(level), Decision::Approve, comment))
            }
            (LessonState::Submitted(level), Action::Reject { comment }) => {
                let comment = clean_comment(&comment)?;
                if comment.is_empty() {
                    return Err(ReviewError::CommentRequired);
                }
                (
                    LessonState::Rejected,
                    false,
                    step(Some(level), Decision::Reject, comment),
                )
            }
            (LessonState::Published, Action::Unpublish { comment }) => (
                LessonState::Unpublished,
                false,
                step(None, Decision::Unpublish, clean_comment(&comment)?),
            ),
            (LessonState::Published, Action::Feature(on)) => {
                let decision = if on {
                    Decision::Feature
                } else {
                    Decision::Unfeature
                };
                (
                    LessonState::Published,
                    on,
                    step(None, decision, String::new()),
                )
            }
            _ => return wrong,
        };
        let published_at = (state == LessonState::Published
            && self.state != LessonState::Published)
            .then_some(now);
        Ok(Transition {
            review: Review { state, featured },
            step,
            published_at,
        })
    }
}

impl Default for Review {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        // A fixed day: the steps' times are the ones passed in.
        Utc.with_ymd_and_hms(2026, 9, 1, 8, minute, 0).unwrap()
    }

    fn approve() -> Action {
        Action::Approve {
            comment: String::new(),
        }
    }

    #[test]
    fn a_lesson_climbs_three_levels_to_published() {
        let review = Review::new();
        let submitted = review.apply(Action::Submit, at(0)).unwrap();
        assert_eq!(
            submitted.review.state,
            LessonState::Submitted(ReviewLevel::TeachingGroup)
        );
        assert_eq!(submitted.step.decision, Decision::Submit);
        let school = submitted.review.apply(approve(), at(1)).unwrap();
        assert_eq!(
            school.review.state,
            LessonState::Submitted(ReviewLevel::School)
        );
        assert_eq!(school.step.level, Some(ReviewLevel::TeachingGroup));
        assert_eq!(school.published_at, None);
        let center = school.review.apply(approve(), at(2)).unwrap();
        assert_eq!(
            center.review.state,
            LessonState::Submitted(ReviewLevel::ResourceCenter)
        );
        let published = center.review.apply(approve(), at(3)).unwrap();
        assert_eq!(published.review.state, LessonState::Published);
        assert_eq!(published.step.level, Some(ReviewLevel::ResourceCenter));
        assert_eq!(published.step.at, at(3));
        assert_eq!(published.published_at, Some(at(3)));
    }

    #[test]
    fn a_rejection_needs_a_comment_and_returns_the_lesson_for_resubmission() {
        let at_school = Review {
            state: LessonState::Submitted(ReviewLevel::School),
            featured: false,
        };
        assert_eq!(
            at_school.apply(
                Action::Reject {
                    comment: "  ".into()
                },
                at(0)
            ),
            Err(ReviewError::CommentRequired)
        );
        let rejected = at_school
            .apply(
                Action::Reject {
                    comment: " 声音太小 ".into(),
                },
                at(1),
            )
            .unwrap();
        assert_eq!(rejected.review.state, LessonState::Rejected);
        assert_eq!(rejected.step.comment, "声音太小");
        assert_eq!(rejected.step.level, Some(ReviewLevel::School));
        assert!(rejected.review.state.editable());
        // Resubmitted, it starts again at the teaching-research group.
        let again = rejected.review.apply(Action::Submit, at(2)).unwrap();
        assert_eq!(
            again.review.state,
            LessonState::Submitted(ReviewLevel::TeachingGroup)
        );
    }

    #[test]
    fn only_a_lesson_in_review_is_decided_and_only_a_published_one_featured() {
        let draft = Review::new();
        assert_eq!(
            draft.apply(approve(), at(0)),
            Err(ReviewError::WrongState(LessonState::Draft))
        );
        assert!(draft.apply(Action::Feature(true), at(0)).is_err());
        let waiting = draft.apply(Action::Submit, at(0)).unwrap().review;
        assert!(waiting.apply(Action::Submit, at(1)).is_err(), "twice");
        assert!(waiting.apply(Action::Feature(true), at(1)).is_err());
        let published = Review {
            state: LessonState::Published,
            featured: false,
        };
        let featured = published.apply(Action::Feature(true), at(2)).unwrap();
        assert!(featured.review.featured);
        assert_eq!(featured.published_at, None, "already published");
        // Unpublishing drops the mark: featured implies published.
        let gone = featured
            .review
            .apply(
                Action::Unpublish {
                    comment: String::new(),
                },
                at(3),
            )
            .unwrap();
        assert_eq!(gone.review.state, LessonState::Unpublished);
        assert!(!gone.review.featured);
        assert!(gone.review.apply(Action::Submit, at(4)).is_ok());
        assert!(
            published.apply(Action::Submit, at(5)).is_err(),
            "a published lesson is unpublished before it is revised"
        );
    }

    #[test]
    fn stored_columns_round_trip() {
        for state in [
            LessonState::Draft,
            LessonState::Submitted(ReviewLevel::TeachingGroup),
            LessonState::Submitted(ReviewLevel::School),
            LessonState::Submitted(ReviewLevel::ResourceCenter),
            LessonState::Rejected,
            LessonState::Published,
            LessonState::Unpublished,
        ] {
            let (name, level) = state.columns();
            assert_eq!(LessonState::from_columns(name, level), Some(state));
        }
        assert_eq!(LessonState::from_columns("submitted", None), None);
        for d in [
            "submit",
            "approve",
            "reject",
            "unpublish",
            "feature",
            "unfeature",
        ] {
            assert_eq!(Decision::parse(d).unwrap().as_str(), d);
        }
    }
}

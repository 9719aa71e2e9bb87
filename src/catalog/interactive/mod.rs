//! Interactive sessions (三个课堂): a main classroom and one to four remote
//! classrooms linked for a scheduled lesson. Each classroom's feed stays its
//! own lesson (served and recorded as any other); a session says who may see
//! whom while it is live, holds the teacher's mute and "speaking" choices,
//! and finds the recordings that belong together afterwards.
//!
//! When a session is over is decided here from explicit instants
//! ([`effective_state`], [`may_start`], [`check_new`]), so it is
//! unit-tested without a clock; `store` reads and writes the tables.

mod store;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use store::{
    create, delete, end, end_overrun, get, guest_schools, list, muted_classrooms, recordings,
    set_muted, set_speaking, start,
};

use super::{CatalogError, Validation, valid_name};

/// Remote classrooms per session: a teacher can follow four at once.
pub const MAX_REMOTES: usize = 4;
/// A session may be started this long before its slot (setting up, a sound check).
pub const EARLY_START_MINUTES: i64 = 30;
/// A live session nobody ended is over this long after its slot, so a
/// forgotten one does not keep other schools' access open overnight.
pub const OVERRUN_MINUTES: i64 = 60;
/// The longest slot: a morning's or an afternoon's lessons. Another
/// school's access lasts as long as the slot, so it must not be open-ended.
pub const MAX_SLOT_HOURS: i64 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = InteractiveKind)]
pub enum SessionKind {
    /// 专递课堂: a partner school's class is taught by the main classroom.
    Delivery,
    /// 名师课堂: a master teacher's lesson shared with other schools.
    MasterTeacher,
    /// 名校网络课堂: a leading school's lessons for a district.
    SchoolNetwork,
    /// 互动教研: teachers of several schools researching a lesson together.
    Research,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Delivery => "delivery",
            Self::MasterTeacher => "master_teacher",
            Self::SchoolNetwork => "school_network",
            Self::Research => "research",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "master_teacher" => Self::MasterTeacher,
            "school_network" => Self::SchoolNetwork,
            "research" => Self::Research,
            _ => Self::Delivery,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = InteractiveState)]
pub enum SessionState {
    Scheduled,
    Live,
    Ended,
}

/// The state a session is in at `now`: a stored `live` past its slot and
/// the overrun is over, and so is a `scheduled` one whose slot has passed.
pub fn effective_state(
    stored: SessionState,
    scheduled_end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> SessionState {
    let overrun = scheduled_end + Duration::minutes(OVERRUN_MINUTES);
    match stored {
        SessionState::Live if now >= overrun => SessionState::Ended,
        SessionState::Scheduled if now >= scheduled_end => SessionState::Ended,
        other => other,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StartRefusal {
    #[error("the session can be started 30 minutes before its time at the earliest")]
    TooEarly,
    #[error("the session is already live")]
    AlreadyLive,
    #[error("the session is over")]
    Over,
}

/// Whether the teacher may start the session at `now`.
pub fn may_start(
    stored: SessionState,
    scheduled_start: DateTime<Utc>,
    scheduled_end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), StartRefusal> {
    match effective_state(stored, scheduled_end, now) {
        SessionState::Live => Err(StartRefusal::AlreadyLive),
        SessionState::Ended => Err(StartRefusal::Over),
        SessionState::Scheduled
            if now < scheduled_start - Duration::minutes(EARLY_START_MINUTES) =>
        {
            Err(StartRefusal::TooEarly)
        }
        SessionState::Scheduled => Ok(()),
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = InteractiveParticipant)]
pub struct Participant {
    pub classroom_id: Uuid,
    pub name: String,
    pub school_id: Uuid,
    /// 1–4 for remote classrooms in the teacher's grid; 0 for the main one.
    pub position: i16,
    pub muted: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = InteractiveSession)]
pub struct Session {
    pub id: Uuid,
    pub title: String,
    pub kind: SessionKind,
    pub main_classroom_id: Uuid,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
    /// As at the time of the answer (see [`effective_state`]).
    pub state: SessionState,
    pub speaking_classroom_id: Option<Uuid>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    /// The main classroom first, then the remote ones in grid order.
    pub participants: Vec<Participant>,
}

impl Session {
    pub fn classroom_ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.participants.iter().map(|p| p.classroom_id)
    }

    pub fn takes_part(&self, classroom: Uuid) -> bool {
        self.classroom_ids().any(|c| c == classroom)
    }

    /// Started and not ended in the catalogue, overrun or not: what the
    /// hub's mutes and the other schools' access still hang on.
    pub fn running(&self) -> bool {
        self.started_at.is_some() && self.ended_at.is_none()
    }

    pub fn main_school(&self) -> Uuid {
        self.participants
            .first()
            .map(|p| p.school_id)
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewInteractiveSession)]
pub struct NewSession {
    pub title: String,
    #[serde(default = "default_kind")]
    pub kind: SessionKind,
    pub main_classroom_id: Uuid,
    /// One to four, in the order the teacher's grid shows them.
    pub remote_classroom_ids: Vec<Uuid>,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
}

fn default_kind() -> SessionKind {
    SessionKind::Delivery
}

/// What can be said about a new session without the database: the title,
/// one to four distinct remote classrooms other than the main one, and a
/// slot that ends in the future, after it starts, within [`MAX_SLOT_HOURS`].
pub fn check_new(new: &NewSession, now: DateTime<Utc>) -> Result<(), CatalogError> {
    let mut v = Validation::default();
    v.check(valid_name(&new.title), "title", "invalid_name");
    let remotes = &new.remote_classroom_ids;
    v.check(!remotes.is_empty(), "remote_classroom_ids", "at_least_one");
    v.check(
        remotes.len() <= MAX_REMOTES,
        "remote_classroom_ids",
        "too_many",
    );
    let distinct: std::collections::BTreeSet<&Uuid> = remotes.iter().collect();
    v.check(
        distinct.len() == remotes.len(),
        "remote_classroom_ids",
        "duplicate",
    );
    v.check(
        !remotes.contains(&new.main_classroom_id),
        "remote_classroom_ids",
        "main_is_remote",
    );
    v.check(
        new.scheduled_end > new.scheduled_start,
        "scheduled_end",
        "before_start",
    );
    v.check(
        new.scheduled_end - new.scheduled_start <= Duration::hours(MAX_SLOT_HOURS),
        "scheduled_end",
        "slot_too_long",
    );
    v.check(new.scheduled_end > now, "scheduled_end", "in_the_past");
    v.finish()
}

/// A linked recording: one classroom's part of the session.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
#[schema(as = InteractiveRecording)]
pub struct LinkedRecording {
    pub classroom_id: Uuid,
    pub recording_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hh: u32, mm: u32) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 3)
            .unwrap()
            .and_hms_opt(hh, mm, 0)
            .unwrap()
            .and_utc()
    }

    #[test]
    fn a_session_can_start_half_an_hour_early_until_its_slot_ends() {
        let (start, end) = (at(8, 0), at(8, 45));
        assert_eq!(
            may_start(SessionState::Scheduled, start, end, at(7, 29)),
            Err(StartRefusal::TooEarly)
        );
        assert_eq!(
            may_start(SessionState::Scheduled, start, end, at(7, 30)),
            Ok(())
        );
        assert_eq!(
            may_start(SessionState::Scheduled, start, end, at(8, 44)),
            Ok(())
        );
        assert_eq!(
            may_start(SessionState::Scheduled, start, end, at(8, 45)),
            Err(StartRefusal::Over)
        );
        assert_eq!(
            may_start(SessionState::Live, start, end, at(8, 10)),
            Err(StartRefusal::AlreadyLive)
        );
        assert_eq!(
            may_start(SessionState::Ended, start, end, at(8, 10)),
            Err(StartRefusal::Over)
        );
    }

    fn new_session(start: DateTime<Utc>, end: DateTime<Utc>) -> NewSession {
        NewSession {
            title: "三年级数学".into(),
            kind: SessionKind::Delivery,
            main_classroom_id: Uuid::from_u128(1),
            remote_classroom_ids: vec![Uuid::from_u128(2)],
            scheduled_start: start,
            scheduled_end: end,
        }
    }

    fn refusal(new: &NewSession, now: DateTime<Utc>) -> Option<&'static str> {
        match check_new(new, now) {
            Ok(()) => None,
            Err(CatalogError::Invalid(fields)) => fields.values().next().copied(),
            Err(other) => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn a_slot_is_in_the_future_and_at_most_four_hours_long() {
        let now = at(7, 0);
        assert_eq!(refusal(&new_session(at(8, 0), at(8, 45)), now), None);
        assert_eq!(refusal(&new_session(at(8, 0), at(12, 0)), now), None);
        assert_eq!(
            refusal(&new_session(at(8, 0), at(12, 1)), now),
            Some("slot_too_long")
        );
        assert_eq!(
            refusal(&new_session(at(8, 0), at(7, 59)), now),
            Some("before_start")
        );
        assert_eq!(
            refusal(&new_session(at(6, 0), at(6, 45)), now),
            Some("in_the_past")
        );
        // A session already under way may still be scheduled (the teacher
        // forgot): its end is what must lie ahead.
        assert_eq!(refusal(&new_session(at(6, 30), at(7, 15)), now), None);
    }

    #[test]
    fn remotes_are_one_to_four_distinct_classrooms_other_than_the_main_one() {
        let now = at(7, 0);
        let mut new = new_session(at(8, 0), at(8, 45));
        new.remote_classroom_ids = vec![];
        assert_eq!(refusal(&new, now), Some("at_least_one"));
        new.remote_classroom_ids = (2..7).map(Uuid::from_u128).collect();
        assert_eq!(refusal(&new, now), Some("too_many"));
        new.remote_classroom_ids = vec![Uuid::from_u128(2), Uuid::from_u128(2)];
        assert_eq!(refusal(&new, now), Some("duplicate"));
        new.remote_classroom_ids = vec![Uuid::from_u128(1)];
        assert_eq!(refusal(&new, now), Some("main_is_remote"));
    }

    #[test]
    fn a_live_session_nobody_ended_is_over_an_hour_after_its_slot() {
        let end = at(8, 45);
        assert_eq!(
            effective_state(SessionState::Live, end, at(9, 30)),
            SessionState::Live
        );
        assert_eq!(
            effective_state(SessionState::Live, end, at(9, 45)),
            SessionState::Ended
        );
        assert_eq!(
            effective_state(SessionState::Scheduled, end, at(8, 44)),
            SessionState::Scheduled
        );
        assert_eq!(
            effective_state(SessionState::Scheduled, end, at(8, 45)),
            SessionState::Ended
        );
    }
}

//! Interactive sessions (三个课堂): a main classroom and one to four remote
//! classrooms linked for a scheduled lesson. Each classroom's feed stays its
//! own lesson (served and recorded as any other); a session says who may see
//! whom while it is live, holds the teacher's mute and "speaking" choices,
//! and finds the recordings that belong together afterwards.
//!
//! When a session is over is decided here from explicit instants
//! ([`effective_state`], [`may_start`]), so it is unit-tested without a clock.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{CatalogError, Validation, valid_name};

/// Remote classrooms per session: a teacher can follow four at once.
pub const MAX_REMOTES: usize = 4;
/// A session may be started this long before its slot (setting up, a sound check).
pub const EARLY_START_MINUTES: i64 = 30;
/// A live session nobody ended is over this long after its slot, so a
/// forgotten one does not keep other schools' access open overnight.
pub const OVERRUN_MINUTES: i64 = 60;

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

/// A linked recording: one classroom's part of the session.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct LinkedRecording {
    pub classroom_id: Uuid,
    pub recording_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

type Row = (
    Uuid,
    String,
    String,
    Uuid,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    Option<Uuid>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<Uuid>,
);

const COLUMNS: &str = "id, title, kind, main_classroom_id, scheduled_start, scheduled_end, state, \
    speaking_classroom_id, started_at, ended_at, created_by";

fn stored_state(text: &str) -> SessionState {
    match text {
        "live" => SessionState::Live,
        "ended" => SessionState::Ended,
        _ => SessionState::Scheduled,
    }
}

async fn assemble(
    db: &PgPool,
    rows: Vec<Row>,
    now: DateTime<Utc>,
) -> Result<Vec<Session>, CatalogError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    // The main classroom is position 0 here, the remote ones 1–4.
    let members: Vec<(Uuid, Uuid, String, Uuid, i16, bool)> = sqlx::query_as(
        "SELECT s.id, c.id, c.name, c.school_id, 0::smallint, false
           FROM interactive_sessions s JOIN classrooms c ON c.id = s.main_classroom_id
          WHERE s.id = ANY($1)
         UNION ALL
         SELECT p.session_id, c.id, c.name, c.school_id, p.position, p.muted
           FROM interactive_participants p JOIN classrooms c ON c.id = p.classroom_id
          WHERE p.session_id = ANY($1)
         ORDER BY 5",
    )
    .bind(&ids)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let participants = members
                .iter()
                .filter(|m| m.0 == r.0)
                .map(|m| Participant {
                    classroom_id: m.1,
                    name: m.2.clone(),
                    school_id: m.3,
                    position: m.4,
                    muted: m.5,
                })
                .collect();
            Session {
                id: r.0,
                title: r.1,
                kind: SessionKind::parse(&r.2),
                main_classroom_id: r.3,
                scheduled_start: r.4,
                scheduled_end: r.5,
                state: effective_state(stored_state(&r.6), r.5, now),
                speaking_classroom_id: r.7,
                started_at: r.8,
                ended_at: r.9,
                created_by: r.10,
                participants,
            }
        })
        .collect())
}

pub async fn get(db: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<Session, CatalogError> {
    let row: Row = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM interactive_sessions WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(db)
    .await?;
    assemble(db, vec![row], now)
        .await?
        .pop()
        .ok_or(CatalogError::NotFound)
}

/// Sessions in which a classroom of one of `schools` takes part (all of
/// them when `schools` is None: system admins), newest slot first.
pub async fn list(
    db: &PgPool,
    schools: Option<&[Uuid]>,
    now: DateTime<Utc>,
) -> Result<Vec<Session>, CatalogError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM interactive_sessions s
          WHERE $1::uuid[] IS NULL OR EXISTS (
                SELECT 1 FROM classrooms c
                 WHERE c.school_id = ANY($1)
                   AND (c.id = s.main_classroom_id OR c.id IN
                        (SELECT classroom_id FROM interactive_participants WHERE session_id = s.id)))
          ORDER BY scheduled_start DESC LIMIT 200"
    ))
    .bind(schools)
    .fetch_all(db)
    .await?;
    assemble(db, rows, now).await
}

pub async fn create(
    db: &PgPool,
    new: NewSession,
    created_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Session, CatalogError> {
    let mut v = Validation::default();
    v.check(valid_name(&new.title), "title", "invalid_name");
    v.check(
        !new.remote_classroom_ids.is_empty(),
        "remote_classroom_ids",
        "at_least_one",
    );
    v.check(
        new.remote_classroom_ids.len() <= MAX_REMOTES,
        "remote_classroom_ids",
        "too_many",
    );
    let distinct: std::collections::BTreeSet<&Uuid> = new.remote_classroom_ids.iter().collect();
    v.check(
        distinct.len() == new.remote_classroom_ids.len(),
        "remote_classroom_ids",
        "duplicate",
    );
    v.check(
        !new.remote_classroom_ids.contains(&new.main_classroom_id),
        "remote_classroom_ids",
        "main_is_remote",
    );
    v.check(
        new.scheduled_end > new.scheduled_start,
        "scheduled_end",
        "before_start",
    );
    v.check(new.scheduled_end > now, "scheduled_end", "in_the_past");
    v.finish()?;
    let known: i64 = sqlx::query_scalar("SELECT count(*) FROM classrooms WHERE id = ANY($1)")
        .bind(&new.remote_classroom_ids)
        .fetch_one(db)
        .await?;
    let mut v = Validation::default();
    v.check(
        known as usize == distinct.len(),
        "remote_classroom_ids",
        "unknown_classroom",
    );
    v.finish()?;
    let id = Uuid::new_v4();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO interactive_sessions
            (id, title, kind, main_classroom_id, scheduled_start, scheduled_end, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(new.title.trim())
    .bind(new.kind.as_str())
    .bind(new.main_classroom_id)
    .bind(new.scheduled_start)
    .bind(new.scheduled_end)
    .bind(created_by)
    .execute(&mut *tx)
    .await?;
    for (i, classroom) in new.remote_classroom_ids.iter().enumerate() {
        sqlx::query(
            "INSERT INTO interactive_participants (session_id, classroom_id, position) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(classroom)
        .bind(i as i16 + 1)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    get(db, id, now).await
}

/// Starts the session if [`may_start`] allows it and none of its classrooms
/// is in another live session (a classroom can only follow one teacher).
pub async fn start(db: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<Session, CatalogError> {
    let session = get(db, id, now).await?;
    may_start(
        session.state,
        session.scheduled_start,
        session.scheduled_end,
        now,
    )
    .map_err(|e| match e {
        StartRefusal::TooEarly => CatalogError::Conflict("too_early"),
        StartRefusal::AlreadyLive => CatalogError::Conflict("already_live"),
        StartRefusal::Over => CatalogError::Conflict("over"),
    })?;
    let classrooms: Vec<Uuid> = session.classroom_ids().collect();
    let busy: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM interactive_sessions s
          WHERE s.id <> $1 AND s.state = 'live'
            AND s.scheduled_end + make_interval(mins => $3) > $4
            AND (s.main_classroom_id = ANY($2) OR EXISTS (
                 SELECT 1 FROM interactive_participants p WHERE p.session_id = s.id AND p.classroom_id = ANY($2))))",
    )
    .bind(id)
    .bind(&classrooms)
    .bind(OVERRUN_MINUTES as i32)
    .bind(now)
    .fetch_one(db)
    .await?;
    if busy {
        return Err(CatalogError::Conflict("classroom_in_another_session"));
    }
    sqlx::query("UPDATE interactive_sessions SET state = 'live', started_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(db)
        .await?;
    get(db, id, now).await
}

/// Ends the session. The guests' access to each other's classrooms ends
/// with it: every participant's revocation epoch moves, so tokens and
/// WebRTC sessions handed out for the session stop within seconds.
pub async fn end(db: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<Session, CatalogError> {
    let session = get(db, id, now).await?;
    if session.ended_at.is_some()
        || session.started_at.is_none() && session.state == SessionState::Ended
    {
        return Err(CatalogError::Conflict("over"));
    }
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE interactive_sessions SET state = 'ended', ended_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    for classroom in session.classroom_ids() {
        super::accounts::revocations::revoke(
            &mut tx,
            super::accounts::revocations::Subject::Classroom(classroom),
        )
        .await?;
    }
    tx.commit().await?;
    get(db, id, now).await
}

pub async fn set_speaking(
    db: &PgPool,
    id: Uuid,
    classroom: Option<Uuid>,
) -> Result<(), CatalogError> {
    sqlx::query("UPDATE interactive_sessions SET speaking_classroom_id = $2 WHERE id = $1")
        .bind(id)
        .bind(classroom)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_muted(
    db: &PgPool,
    id: Uuid,
    classroom: Uuid,
    muted: bool,
) -> Result<(), CatalogError> {
    let done = sqlx::query(
        "UPDATE interactive_participants SET muted = $3 WHERE session_id = $1 AND classroom_id = $2",
    )
    .bind(id)
    .bind(classroom)
    .bind(muted)
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound);
    }
    Ok(())
}

pub async fn delete(db: &PgPool, id: Uuid) -> Result<(), CatalogError> {
    let done = sqlx::query("DELETE FROM interactive_sessions WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound);
    }
    Ok(())
}

/// Each classroom's recordings from while the session was live: the
/// session's lesson as the review pages play it side by side.
pub async fn recordings(
    db: &PgPool,
    session: &Session,
    now: DateTime<Utc>,
) -> Result<Vec<LinkedRecording>, CatalogError> {
    let Some(started) = session.started_at else {
        return Ok(Vec::new());
    };
    let classrooms: Vec<Uuid> = session.classroom_ids().collect();
    Ok(sqlx::query_as(
        "SELECT classroom_id, id AS recording_id, started_at, ended_at FROM recordings
          WHERE classroom_id = ANY($1) AND NOT rolling
            AND started_at < $3 AND coalesce(ended_at, $4) > $2
          ORDER BY started_at",
    )
    .bind(&classrooms)
    .bind(started)
    .bind(session.ended_at.unwrap_or(now))
    .bind(now)
    .fetch_all(db)
    .await?)
}

/// Schools taking part with `classroom` in a session live at `now`: while
/// it lasts they see each other's classrooms as invited audiences do.
pub async fn guest_schools(
    db: &PgPool,
    classroom: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, CatalogError> {
    Ok(sqlx::query_scalar(
        "WITH live AS (
           SELECT s.id, s.main_classroom_id FROM interactive_sessions s
            WHERE s.state = 'live' AND s.scheduled_end + make_interval(mins => $3) > $2
              AND (s.main_classroom_id = $1 OR EXISTS (
                   SELECT 1 FROM interactive_participants p WHERE p.session_id = s.id AND p.classroom_id = $1)))
         SELECT DISTINCT c.school_id FROM classrooms c
          WHERE c.id IN (SELECT main_classroom_id FROM live
                         UNION SELECT p.classroom_id FROM interactive_participants p WHERE p.session_id IN (SELECT id FROM live))",
    )
    .bind(classroom)
    .bind(now)
    .bind(OVERRUN_MINUTES as i32)
    .fetch_all(db)
    .await?)
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

//! The interactive-session tables. State changes are conditional updates,
//! so two teachers (or two server nodes) pressing start or end at once get
//! one success and one conflict, never a session started twice.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::super::CatalogError;
use super::super::accounts::revocations::{self, Subject};
use super::{
    LinkedRecording, NewSession, OVERRUN_MINUTES, Participant, Session, SessionKind, SessionState,
    StartRefusal, check_new, effective_state, may_start,
};

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    title: String,
    kind: String,
    main_classroom_id: Uuid,
    scheduled_start: DateTime<Utc>,
    scheduled_end: DateTime<Utc>,
    state: String,
    speaking_classroom_id: Option<Uuid>,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    created_by: Option<Uuid>,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    session_id: Uuid,
    classroom_id: Uuid,
    name: String,
    school_id: Uuid,
    position: i16,
    muted: bool,
}

const COLUMNS: &str = "id, title, kind, main_classroom_id, scheduled_start, scheduled_end, state, \
    speaking_classroom_id, started_at, ended_at, created_by";

/// SQL on `s`: the session is stored live and its overrun is not over at
/// the instant bound as parameter `now` (the overrun in minutes: `overrun`).
fn running(now: u8, overrun: u8) -> String {
    format!(
        "s.state = 'live' AND s.ended_at IS NULL \
         AND s.scheduled_end + make_interval(mins => ${overrun}) > ${now}"
    )
}

fn stored_state(text: &str) -> SessionState {
    match text {
        "live" => SessionState::Live,
        "ended" => SessionState::Ended,
        _ => SessionState::Scheduled,
    }
}

async fn assemble(
    db: &PgPool,
    rows: Vec<SessionRow>,
    now: DateTime<Utc>,
) -> Result<Vec<Session>, CatalogError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    // The main classroom is position 0 here, the remote ones 1–4.
    let members: Vec<MemberRow> = sqlx::query_as(
        "SELECT s.id AS session_id, c.id AS classroom_id, c.name, c.school_id,
                0::smallint AS position, false AS muted
           FROM interactive_sessions s JOIN classrooms c ON c.id = s.main_classroom_id
          WHERE s.id = ANY($1)
         UNION ALL
         SELECT p.session_id, c.id, c.name, c.school_id, p.position, p.muted
           FROM interactive_participants p JOIN classrooms c ON c.id = p.classroom_id
          WHERE p.session_id = ANY($1)
         ORDER BY position",
    )
    .bind(&ids)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Session {
            participants: members
                .iter()
                .filter(|m| m.session_id == r.id)
                .map(|m| Participant {
                    classroom_id: m.classroom_id,
                    name: m.name.clone(),
                    school_id: m.school_id,
                    position: m.position,
                    muted: m.muted,
                })
                .collect(),
            id: r.id,
            title: r.title,
            kind: SessionKind::parse(&r.kind),
            main_classroom_id: r.main_classroom_id,
            scheduled_start: r.scheduled_start,
            scheduled_end: r.scheduled_end,
            state: effective_state(stored_state(&r.state), r.scheduled_end, now),
            speaking_classroom_id: r.speaking_classroom_id,
            started_at: r.started_at,
            ended_at: r.ended_at,
            created_by: r.created_by,
        })
        .collect())
}

pub async fn get(db: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<Session, CatalogError> {
    let row: SessionRow = sqlx::query_as(&format!(
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
/// them when `schools` is None: system admins), newest slot first, at most
/// 200: the schools' own sessions are exactly what the caller may see, so
/// the limit counts visible ones.
pub async fn list(
    db: &PgPool,
    schools: Option<&[Uuid]>,
    now: DateTime<Utc>,
) -> Result<Vec<Session>, CatalogError> {
    let rows: Vec<SessionRow> = sqlx::query_as(&format!(
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

/// Stores a new session. Who may link which classrooms is the handler's
/// question (policy); what the session itself must be is [`check_new`].
pub async fn create(
    db: &PgPool,
    new: NewSession,
    created_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Session, CatalogError> {
    check_new(&new, now)?;
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
/// is in another running session (a classroom follows one teacher). The
/// check and the update hold one advisory lock, so two sessions sharing a
/// classroom cannot both start, on one node or on several.
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
    let mut tx = db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('classcast.interactive.start'))")
        .execute(&mut *tx)
        .await?;
    let busy: bool = sqlx::query_scalar(&format!(
        "SELECT EXISTS (SELECT 1 FROM interactive_sessions s
          WHERE s.id <> $1 AND {}
            AND (s.main_classroom_id = ANY($2) OR EXISTS (
                 SELECT 1 FROM interactive_participants p WHERE p.session_id = s.id AND p.classroom_id = ANY($2))))",
        running(4, 3)
    ))
    .bind(id)
    .bind(&classrooms)
    .bind(OVERRUN_MINUTES as i32)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    if busy {
        return Err(CatalogError::Conflict("classroom_in_another_session"));
    }
    let started = sqlx::query(
        "UPDATE interactive_sessions SET state = 'live', started_at = $2
          WHERE id = $1 AND state = 'scheduled' AND ended_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if started.rows_affected() == 0 {
        return Err(CatalogError::Conflict("already_live"));
    }
    tx.commit().await?;
    get(db, id, now).await
}

/// Ends the session (or calls off one that never started). The guests'
/// access to each other's classrooms ends with a started one: every
/// participant's revocation epoch moves, so tokens and WebRTC sessions
/// handed out meanwhile stop within seconds (the classrooms' own viewers
/// fetch a fresh token, which the players do on their own).
pub async fn end(db: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<Session, CatalogError> {
    let session = get(db, id, now).await?;
    if session.started_at.is_none() && session.state == SessionState::Ended {
        return Err(CatalogError::Conflict("over"));
    }
    let mut tx = db.begin().await?;
    let ended = sqlx::query(
        "UPDATE interactive_sessions SET state = 'ended', ended_at = $2
          WHERE id = $1 AND ended_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if ended.rows_affected() == 0 {
        return Err(CatalogError::Conflict("over"));
    }
    if session.started_at.is_some() {
        for classroom in session.classroom_ids() {
            revocations::revoke(&mut tx, Subject::Classroom(classroom)).await?;
        }
    }
    tx.commit().await?;
    get(db, id, now).await
}

/// Ends the sessions nobody ended whose overrun is over at `now`, as
/// [`end`] does, with the end of the overrun as their end. Returns them.
/// Any node may run it: the update takes each session once.
pub async fn end_overrun(db: &PgPool, now: DateTime<Utc>) -> Result<Vec<Uuid>, CatalogError> {
    let mut tx = db.begin().await?;
    let ended: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "UPDATE interactive_sessions
            SET state = 'ended', ended_at = scheduled_end + make_interval(mins => $2)
          WHERE state = 'live' AND ended_at IS NULL
            AND scheduled_end + make_interval(mins => $2) <= $1
      RETURNING id, main_classroom_id",
    )
    .bind(now)
    .bind(OVERRUN_MINUTES as i32)
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<Uuid> = ended.iter().map(|(id, _)| *id).collect();
    let remotes: Vec<Uuid> = sqlx::query_scalar(
        "SELECT classroom_id FROM interactive_participants WHERE session_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    for classroom in ended.iter().map(|(_, main)| *main).chain(remotes) {
        revocations::revoke(&mut tx, Subject::Classroom(classroom)).await?;
    }
    tx.commit().await?;
    Ok(ids)
}

/// The classrooms muted by their teacher in a session running at `now`:
/// what every node's hub must drop, whichever node the teacher used.
pub async fn muted_classrooms(db: &PgPool, now: DateTime<Utc>) -> Result<Vec<Uuid>, CatalogError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT p.classroom_id FROM interactive_participants p
           JOIN interactive_sessions s ON s.id = p.session_id
          WHERE p.muted AND {}",
        running(1, 2)
    ))
    .bind(now)
    .bind(OVERRUN_MINUTES as i32)
    .fetch_all(db)
    .await?)
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

/// Deletes a session that is not running (a running one is ended first).
pub async fn delete(db: &PgPool, id: Uuid) -> Result<(), CatalogError> {
    let done = sqlx::query(
        "DELETE FROM interactive_sessions
          WHERE id = $1 AND NOT (state = 'live' AND ended_at IS NULL)",
    )
    .bind(id)
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM interactive_sessions WHERE id = $1)")
                .bind(id)
                .fetch_one(db)
                .await?;
        return Err(if exists {
            CatalogError::Conflict("session_live")
        } else {
            CatalogError::NotFound
        });
    }
    Ok(())
}

/// Each classroom's recordings from while the session was live: the
/// session's lesson as the review pages play it side by side. Who may play
/// which of them is the handler's question.
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

/// Schools taking part with `classroom` in a session running at `now`:
/// while it lasts they see each other's classrooms as invited audiences do.
pub async fn guest_schools(
    db: &PgPool,
    classroom: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, CatalogError> {
    Ok(sqlx::query_scalar(&format!(
        "WITH live AS (
           SELECT s.id, s.main_classroom_id FROM interactive_sessions s
            WHERE {}
              AND (s.main_classroom_id = $1 OR EXISTS (
                   SELECT 1 FROM interactive_participants p WHERE p.session_id = s.id AND p.classroom_id = $1)))
         SELECT DISTINCT c.school_id FROM classrooms c
          WHERE c.id IN (SELECT main_classroom_id FROM live
                         UNION SELECT p.classroom_id FROM interactive_participants p WHERE p.session_id IN (SELECT id FROM live))",
        running(2, 3)
    ))
    .bind(classroom)
    .bind(now)
    .bind(OVERRUN_MINUTES as i32)
    .fetch_all(db)
    .await?)
}

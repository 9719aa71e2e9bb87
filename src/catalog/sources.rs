//! Sources: the feeds of a classroom (IP cameras pulled over RTSP, encoders
//! pushing RTMP or SRT with a stream key, or a generated test pattern).

use rand::RngExt as _;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{CatalogError, Validation};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "source_kind", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Rtsp,
    Rtmp,
    Srt,
    Test,
    /// WebRTC-HTTP ingest (RFC 9725): a browser, OBS 30+ or an encoder.
    Whip,
}

impl SourceKind {
    pub fn is_pushed(self) -> bool {
        matches!(self, SourceKind::Rtmp | SourceKind::Srt | SourceKind::Whip)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "source_role", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum SourceRole {
    Teacher,
    Students,
    Blackboard,
    Screen,
    Other,
}

/// A source as stored. `password` never leaves the server: see [`SourceView`].
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Source {
    pub id: Uuid,
    pub classroom_id: Uuid,
    pub kind: SourceKind,
    pub role: SourceRole,
    pub name: String,
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub stream_key: Option<String>,
    pub enabled: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// What the API shows of a source.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceView {
    pub id: Uuid,
    pub classroom_id: Uuid,
    pub kind: SourceKind,
    pub role: SourceRole,
    pub name: String,
    pub url: Option<String>,
    pub username: Option<String>,
    pub has_password: bool,
    pub stream_key: Option<String>,
    pub enabled: bool,
    /// For pushed sources: what to enter in OBS or a classroom encoder.
    pub publish: Option<Publish>,
}

/// Where a pushed source publishes to, in the shapes encoders ask for:
/// OBS and most classroom encoders want the server and the key apart;
/// ffmpeg and SRT callers take one URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Publish {
    /// `rtmp://HOST:PORT/live`, `srt://HOST:PORT` or `http://HOST:PORT/whip`.
    pub server_url: String,
    /// RTMP: the stream key to put after the server URL.
    pub stream_key: String,
    /// SRT: the stream id callers send (`publish:KEY`).
    pub stream_id: Option<String>,
    /// The whole URL, for ffmpeg: `rtmp://HOST:PORT/live/KEY` or
    /// `srt://HOST:PORT?streamid=publish:KEY`; for WHIP devices that cannot
    /// send a Bearer token, `http://HOST:PORT/whip/KEY`.
    pub url: String,
}

/// The publish URLs of a pushed source as seen from `host` (a name or
/// address, IPv6 in brackets), or None for pulled and test sources.
pub fn publish_urls(
    kind: SourceKind,
    key: Option<&str>,
    host: &str,
    rtmp_port: u16,
    srt_port: u16,
    http_port: u16,
) -> Option<Publish> {
    let key = key?;
    match kind {
        SourceKind::Rtmp => {
            let server_url = format!("rtmp://{host}:{rtmp_port}/live");
            Some(Publish {
                url: format!("{server_url}/{key}"),
                server_url,
                stream_key: key.to_string(),
                stream_id: None,
            })
        }
        SourceKind::Srt => {
            let server_url = format!("srt://{host}:{srt_port}");
            let stream_id = format!("publish:{key}");
            Some(Publish {
                url: format!("{server_url}?streamid={stream_id}"),
                server_url,
                stream_key: key.to_string(),
                stream_id: Some(stream_id),
            })
        }
        SourceKind::Whip => {
            // OBS takes the server URL and the key as its Bearer token.
            let server_url = format!("http://{host}:{http_port}/whip");
            Some(Publish {
                url: format!("{server_url}/{key}"),
                server_url,
                stream_key: key.to_string(),
                stream_id: None,
            })
        }
        SourceKind::Rtsp | SourceKind::Test => None,
    }
}

impl From<Source> for SourceView {
    fn from(source: Source) -> Self {
        Self {
            id: source.id,
            classroom_id: source.classroom_id,
            kind: source.kind,
            role: source.role,
            name: source.name,
            url: source.url,
            username: source.username,
            has_password: source.password.is_some(),
            stream_key: source.stream_key,
            enabled: source.enabled,
            publish: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSource {
    pub kind: SourceKind,
    #[serde(default = "default_role")]
    pub role: SourceRole,
    #[serde(default)]
    pub name: String,
    /// `rtsp://` URL, for kind `rtsp` only.
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceUpdate {
    pub role: Option<SourceRole>,
    pub name: Option<String>,
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub enabled: Option<bool>,
}

fn default_role() -> SourceRole {
    SourceRole::Teacher
}

fn yes() -> bool {
    true
}

/// 24 random characters from an alphabet with no look-alikes, so a key can be
/// read aloud over the phone to a classroom's IT contact.
pub fn new_stream_key() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..24)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Stream keys have a fixed shape; anything else is refused before a lookup.
pub fn plausible_stream_key(key: &str) -> bool {
    (8..=64).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn valid_rtsp_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("rtsp://") || lower.starts_with("rtsps://"))
        && url.len() > "rtsp://".len()
        && url.len() <= 2000
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// What a source's free text may be; `validate` checks the rest.
struct SourceText<'a> {
    url: Option<&'a str>,
    name: &'a str,
    username: Option<&'a str>,
    password: Option<&'a str>,
}

fn validate(validation: &mut Validation, kind: SourceKind, text: SourceText<'_>) {
    match kind {
        SourceKind::Rtsp => validation.check(
            text.url.is_some_and(valid_rtsp_url),
            "url",
            "invalid_rtsp_url",
        ),
        _ => validation.check(text.url.is_none(), "url", "url_only_for_rtsp"),
    }
    validation.text(Some(text.name), super::MAX_NAME_CHARS, "name");
    validation.text(text.username, super::MAX_SHORT_TEXT_CHARS, "username");
    validation.text(text.password, super::MAX_SHORT_TEXT_CHARS, "password");
}

pub async fn list_for_classroom(
    db: &PgPool,
    classroom_id: Uuid,
) -> Result<Vec<Source>, CatalogError> {
    Ok(
        sqlx::query_as("SELECT * FROM sources WHERE classroom_id = $1 ORDER BY created_at")
            .bind(classroom_id)
            .fetch_all(db)
            .await?,
    )
}

/// Every source of every classroom, for the live registry's snapshot.
pub async fn list_all(db: &PgPool) -> Result<Vec<Source>, CatalogError> {
    Ok(
        sqlx::query_as("SELECT * FROM sources ORDER BY classroom_id, created_at")
            .fetch_all(db)
            .await?,
    )
}

pub async fn get(db: &PgPool, classroom_id: Uuid, id: Uuid) -> Result<Source, CatalogError> {
    Ok(
        sqlx::query_as("SELECT * FROM sources WHERE id = $1 AND classroom_id = $2")
            .bind(id)
            .bind(classroom_id)
            .fetch_one(db)
            .await?,
    )
}

pub async fn find_by_stream_key(db: &PgPool, key: &str) -> Result<Option<Source>, CatalogError> {
    if !plausible_stream_key(key) {
        return Ok(None);
    }
    Ok(
        sqlx::query_as("SELECT * FROM sources WHERE stream_key = $1")
            .bind(key)
            .fetch_optional(db)
            .await?,
    )
}

pub async fn create(
    db: &PgPool,
    classroom_id: Uuid,
    new: NewSource,
) -> Result<Source, CatalogError> {
    let mut validation = Validation::default();
    validate(
        &mut validation,
        new.kind,
        SourceText {
            url: new.url.as_deref(),
            name: &new.name,
            username: new.username.as_deref(),
            password: new.password.as_deref(),
        },
    );
    validation.finish()?;
    // Make sure the classroom exists, so an unknown one is a 404, not a 409.
    super::classrooms::get(db, classroom_id).await?;
    let stream_key = new.kind.is_pushed().then(new_stream_key);
    Ok(sqlx::query_as(
        "INSERT INTO sources (id, classroom_id, kind, role, name, url, username, password, stream_key, enabled)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
    )
    .bind(Uuid::new_v4())
    .bind(classroom_id)
    .bind(new.kind)
    .bind(new.role)
    .bind(new.name.trim())
    .bind(new.url)
    .bind(new.username)
    .bind(new.password)
    .bind(stream_key)
    .bind(new.enabled)
    .fetch_one(db)
    .await?)
}

/// The key a classroom publishes into interactive sessions with: its
/// enabled WHIP source's, or a new WHIP source's (a classroom that joins
/// from a browser needs no setup by its IT office; the bool says one was
/// made). A WHIP source an admin turned off is respected: 409. The
/// classroom's row is locked meanwhile, so two devices joining at once
/// make one source.
pub async fn session_key(db: &PgPool, classroom_id: Uuid) -> Result<(Source, bool), CatalogError> {
    let mut tx = db.begin().await?;
    sqlx::query("SELECT id FROM classrooms WHERE id = $1 FOR UPDATE")
        .bind(classroom_id)
        .fetch_one(&mut *tx)
        .await?;
    let whip: Vec<Source> = sqlx::query_as(
        "SELECT * FROM sources WHERE classroom_id = $1 AND kind = 'whip' ORDER BY created_at",
    )
    .bind(classroom_id)
    .fetch_all(&mut *tx)
    .await?;
    if let Some(source) = whip.iter().find(|s| s.enabled && s.stream_key.is_some()) {
        return Ok((source.clone(), false));
    }
    if !whip.is_empty() {
        return Err(CatalogError::Conflict("whip_source_disabled"));
    }
    let created: Source = sqlx::query_as(
        "INSERT INTO sources (id, classroom_id, kind, role, name, stream_key, enabled)
         VALUES ($1, $2, 'whip', 'other', $3, $4, true) RETURNING *",
    )
    .bind(Uuid::new_v4())
    .bind(classroom_id)
    .bind("互动课堂 / Interactive")
    .bind(new_stream_key())
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((created, true))
}

pub async fn update(
    db: &PgPool,
    classroom_id: Uuid,
    id: Uuid,
    update: SourceUpdate,
) -> Result<Source, CatalogError> {
    let current = get(db, classroom_id, id).await?;
    let url = update.url.or(current.url);
    let name = update.name.unwrap_or(current.name);
    let mut validation = Validation::default();
    validate(
        &mut validation,
        current.kind,
        SourceText {
            url: url.as_deref(),
            name: &name,
            username: update.username.as_deref(),
            password: update.password.as_deref(),
        },
    );
    validation.finish()?;
    Ok(sqlx::query_as(
        "UPDATE sources SET role = $3, name = $4, url = $5, username = $6, password = $7,
             enabled = $8, updated_at = now()
         WHERE id = $1 AND classroom_id = $2 RETURNING *",
    )
    .bind(id)
    .bind(classroom_id)
    .bind(update.role.unwrap_or(current.role))
    .bind(name.trim())
    .bind(url)
    .bind(update.username.or(current.username))
    .bind(update.password.or(current.password))
    .bind(update.enabled.unwrap_or(current.enabled))
    .fetch_one(db)
    .await?)
}

/// Gives a pushed source a new key; the caller disconnects the old publisher.
pub async fn rotate_key(db: &PgPool, classroom_id: Uuid, id: Uuid) -> Result<Source, CatalogError> {
    let current = get(db, classroom_id, id).await?;
    if !current.kind.is_pushed() {
        let mut validation = Validation::default();
        validation.check(false, "kind", "no_stream_key");
        validation.finish()?;
    }
    Ok(sqlx::query_as(
        "UPDATE sources SET stream_key = $3, updated_at = now()
         WHERE id = $1 AND classroom_id = $2 RETURNING *",
    )
    .bind(id)
    .bind(classroom_id)
    .bind(new_stream_key())
    .fetch_one(db)
    .await?)
}

pub async fn delete(db: &PgPool, classroom_id: Uuid, id: Uuid) -> Result<(), CatalogError> {
    let deleted = sqlx::query("DELETE FROM sources WHERE id = $1 AND classroom_id = $2")
        .bind(id)
        .bind(classroom_id)
        .execute(db)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(CatalogError::NotFound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_plausible_and_distinct() {
        let a = new_stream_key();
        let b = new_stream_key();
        assert!(plausible_stream_key(&a));
        assert_ne!(a, b);
        assert!(!plausible_stream_key("../../etc/passwd"));
        assert!(!plausible_stream_key(""));
    }

    #[test]
    fn publish_urls_are_what_obs_and_ffmpeg_ask_for() {
        let rtmp = publish_urls(
            SourceKind::Rtmp,
            Some("abc23"),
            "class.example",
            1935,
            8890,
            8080,
        )
        .expect("rtmp publishes");
        assert_eq!(rtmp.server_url, "rtmp://class.example:1935/live");
        assert_eq!(rtmp.stream_key, "abc23");
        assert_eq!(rtmp.url, "rtmp://class.example:1935/live/abc23");
        let srt = publish_urls(SourceKind::Srt, Some("abc23"), "[::1]", 1935, 8890, 8080)
            .expect("srt publishes");
        assert_eq!(srt.server_url, "srt://[::1]:8890");
        assert_eq!(srt.stream_id.as_deref(), Some("publish:abc23"));
        assert_eq!(srt.url, "srt://[::1]:8890?streamid=publish:abc23");
        let whip = publish_urls(SourceKind::Whip, Some("abc23"), "class.example", 1, 2, 8080)
            .expect("whip publishes");
        assert_eq!(whip.server_url, "http://class.example:8080/whip");
        assert_eq!(whip.url, "http://class.example:8080/whip/abc23");
        assert_eq!(publish_urls(SourceKind::Rtsp, None, "h", 1, 2, 3), None);
    }

    #[test]
    fn only_rtsp_urls_are_accepted_for_cameras() {
        assert!(valid_rtsp_url(
            "rtsp://192.168.1.64:554/Streaming/Channels/101"
        ));
        assert!(!valid_rtsp_url("http://example.com/x"));
        assert!(!valid_rtsp_url("rtsp://"));
        assert!(!valid_rtsp_url("rtsp://a b"));
    }
}

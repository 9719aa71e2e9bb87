//! Playback tokens: what lets a player (hls.js, Safari, VLC) fetch one live
//! lesson or one recording without a cookie. A token names what it opens
//! (a classroom and the lesson live when it was issued, or a recording),
//! the viewer it was issued to, how current that viewer's and that
//! classroom's access were (revocation epochs), and when it expires. It is
//! signed with HMAC-SHA256, so a token opens nothing else and cannot be
//! stretched.
//!
//! Checking is two pure steps, neither touching the database: `verify`
//! (signature, scope, expiry) and `Revocations::check` (the lesson still
//! live, nobody's access revoked since). The revocation list is kept
//! current by a task in `server` (LISTEN/NOTIFY plus a periodic reload).
//!
//! Pure: the key, the time and the list are parameters.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// Tag bytes kept: 128 bits is far beyond guessing within a token's life.
const TAG_LEN: usize = 16;
const VERSION: u8 = 2;
/// version, kind, scope id, lesson, viewer, two epochs, expiry.
const BODY_LEN: usize = 1 + 1 + 16 + 16 + 16 + 4 + 4 + 8;

/// What a request asks to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Live(Uuid),
    Recording(Uuid),
}

impl Scope {
    fn kind(&self) -> u8 {
        match self {
            Scope::Live(_) => b'L',
            Scope::Recording(_) => b'R',
        }
    }

    pub fn id(&self) -> Uuid {
        match self {
            Scope::Live(id) | Scope::Recording(id) => *id,
        }
    }
}

/// What a token grants, as signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub scope: Scope,
    /// The lesson live when the token was issued (live scopes only): a
    /// token opens that lesson, never the classroom's next one.
    pub lesson: Option<Uuid>,
    pub viewer: Uuid,
    /// The viewer's revocation epoch when issued.
    pub viewer_epoch: u32,
    /// The classroom's (or recording's) revocation epoch when issued.
    pub scope_epoch: u32,
    /// Unix seconds.
    pub expires: i64,
}

#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum PlaybackError {
    #[error("malformed playback token")]
    Malformed,
    #[error("playback token does not match its signature")]
    BadSignature,
    #[error("playback token is for another classroom or recording")]
    WrongScope,
    #[error("playback token expired")]
    Expired,
    #[error("playback token is for another lesson")]
    OtherLesson,
    #[error("playback token revoked")]
    Revoked,
}

impl PlaybackError {
    /// The error code answered (and the message key, `error.{code}`).
    pub fn code(self) -> &'static str {
        match self {
            PlaybackError::Malformed => "playback_token_malformed",
            PlaybackError::BadSignature => "playback_token_bad_signature",
            PlaybackError::WrongScope => "playback_token_wrong_scope",
            PlaybackError::Expired => "playback_token_expired",
            PlaybackError::OtherLesson => "playback_token_other_lesson",
            PlaybackError::Revoked => "playback_token_revoked",
        }
    }
}

#[derive(Clone)]
pub struct PlaybackKey(Vec<u8>);

impl std::fmt::Debug for PlaybackKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlaybackKey(..)")
    }
}

impl PlaybackKey {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    fn mac(&self, body: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length.
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(b"classcast playback v2");
        mac.update(body);
        mac
    }

    pub fn sign(&self, grant: &Grant) -> String {
        let mut token = Vec::with_capacity(BODY_LEN + TAG_LEN);
        token.push(VERSION);
        token.push(grant.scope.kind());
        token.extend_from_slice(grant.scope.id().as_bytes());
        token.extend_from_slice(grant.lesson.unwrap_or(Uuid::nil()).as_bytes());
        token.extend_from_slice(grant.viewer.as_bytes());
        token.extend_from_slice(&grant.viewer_epoch.to_be_bytes());
        token.extend_from_slice(&grant.scope_epoch.to_be_bytes());
        token.extend_from_slice(&grant.expires.to_be_bytes());
        let tag = self.mac(&token).finalize().into_bytes();
        token.extend_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The grant of a genuine, unexpired token for `scope`.
    pub fn verify(&self, scope: Scope, token: &str, now: i64) -> Result<Grant, PlaybackError> {
        // Decoding more than a token's length is wasted work.
        if token.len() > 2 * (BODY_LEN + TAG_LEN) {
            return Err(PlaybackError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| PlaybackError::Malformed)?;
        if bytes.len() != BODY_LEN + TAG_LEN || bytes[0] != VERSION {
            return Err(PlaybackError::Malformed);
        }
        let (body, tag) = bytes.split_at(BODY_LEN);
        self.mac(body)
            .verify_truncated_left(tag)
            .map_err(|_| PlaybackError::BadSignature)?;
        let grant = decode(body).ok_or(PlaybackError::Malformed)?;
        if grant.scope != scope {
            return Err(PlaybackError::WrongScope);
        }
        if now >= grant.expires {
            return Err(PlaybackError::Expired);
        }
        Ok(grant)
    }
}

fn decode(body: &[u8]) -> Option<Grant> {
    let uuid = |at: usize| Uuid::from_slice(body.get(at..at + 16)?).ok();
    let u32_at = |at: usize| Some(u32::from_be_bytes(body.get(at..at + 4)?.try_into().ok()?));
    let id = uuid(2)?;
    let scope = match body[1] {
        b'L' => Scope::Live(id),
        b'R' => Scope::Recording(id),
        _ => return None,
    };
    let lesson = uuid(18)?;
    Some(Grant {
        scope,
        lesson: (!lesson.is_nil()).then_some(lesson),
        viewer: uuid(34)?,
        viewer_epoch: u32_at(50)?,
        scope_epoch: u32_at(54)?,
        expires: i64::from_be_bytes(body.get(58..66)?.try_into().ok()?),
    })
}

/// Revocation epochs: each time a viewer's access shrinks (disabled,
/// deleted, roles or school changed, password reset) or a classroom's
/// audience shrinks, its epoch goes up, and tokens issued under an older
/// epoch stop working. Ids of users, classrooms and recordings are UUIDs
/// and never collide, so one map holds them all. Absent means epoch 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    epochs: HashMap<Uuid, u32>,
}

impl Revocations {
    pub fn new(epochs: HashMap<Uuid, u32>) -> Self {
        Self { epochs }
    }

    pub fn epoch(&self, subject: Uuid) -> u32 {
        self.epochs.get(&subject).copied().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.epochs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.epochs.is_empty()
    }

    /// Does a verified grant still hold? `live_lesson` is the lesson the
    /// classroom shows now (live scopes only).
    pub fn check(&self, grant: &Grant, live_lesson: Option<Uuid>) -> Result<(), PlaybackError> {
        if matches!(grant.scope, Scope::Live(_)) && grant.lesson != live_lesson {
            return Err(PlaybackError::OtherLesson);
        }
        if self.epoch(grant.viewer) > grant.viewer_epoch
            || self.epoch(grant.scope.id()) > grant.scope_epoch
        {
            return Err(PlaybackError::Revoked);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(scope: Scope, expires: i64) -> Grant {
        Grant {
            scope,
            lesson: None,
            viewer: Uuid::new_v4(),
            viewer_epoch: 0,
            scope_epoch: 0,
            expires,
        }
    }

    #[test]
    fn a_token_opens_its_own_scope_until_it_expires() {
        let key = PlaybackKey::new(b"test key, 32 bytes or so........".to_vec());
        let (room, other) = (Uuid::new_v4(), Uuid::new_v4());
        let mut issued = grant(Scope::Live(room), 1_000);
        issued.lesson = Some(Uuid::new_v4());
        issued.viewer_epoch = 3;
        let token = key.sign(&issued);
        assert_eq!(key.verify(Scope::Live(room), &token, 999), Ok(issued));
        assert_eq!(
            key.verify(Scope::Live(room), &token, 1_000),
            Err(PlaybackError::Expired)
        );
        assert_eq!(
            key.verify(Scope::Live(other), &token, 0),
            Err(PlaybackError::WrongScope)
        );
        assert_eq!(
            key.verify(Scope::Recording(room), &token, 0),
            Err(PlaybackError::WrongScope)
        );
        let other_key = PlaybackKey::new(b"another key".to_vec());
        assert_eq!(
            other_key.verify(Scope::Live(room), &token, 0),
            Err(PlaybackError::BadSignature)
        );
    }

    #[test]
    fn tampering_and_garbage_are_refused() {
        let key = PlaybackKey::new(vec![7; 32]);
        let room = Uuid::new_v4();
        let token = key.sign(&grant(Scope::Live(room), i64::MAX));
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[60] ^= 1; // push the expiry
        let tampered = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(
            key.verify(Scope::Live(room), &tampered, 0),
            Err(PlaybackError::BadSignature)
        );
        for garbage in ["", "abc", "../../etc/passwd", &"A".repeat(110), "é"] {
            assert_eq!(
                key.verify(Scope::Live(room), garbage, 0),
                Err(PlaybackError::Malformed),
                "{garbage}"
            );
        }
    }

    #[test]
    fn a_live_token_covers_one_lesson_and_revocation_ends_it() {
        let room = Uuid::new_v4();
        let (lesson, next) = (Uuid::new_v4(), Uuid::new_v4());
        let mut issued = grant(Scope::Live(room), i64::MAX);
        issued.lesson = Some(lesson);
        let none = Revocations::default();
        assert_eq!(none.check(&issued, Some(lesson)), Ok(()));
        assert_eq!(
            none.check(&issued, Some(next)),
            Err(PlaybackError::OtherLesson)
        );
        assert_eq!(none.check(&issued, None), Err(PlaybackError::OtherLesson));

        let viewer_revoked = Revocations::new(HashMap::from([(issued.viewer, 1)]));
        assert_eq!(
            viewer_revoked.check(&issued, Some(lesson)),
            Err(PlaybackError::Revoked)
        );
        // A token issued after the revocation carries the new epoch.
        let reissued = Grant {
            viewer_epoch: 1,
            ..issued
        };
        assert_eq!(viewer_revoked.check(&reissued, Some(lesson)), Ok(()));
        let audience_shrank = Revocations::new(HashMap::from([(room, 2)]));
        assert_eq!(
            audience_shrank.check(&reissued, Some(lesson)),
            Err(PlaybackError::Revoked)
        );

        // Recordings have no lesson to match.
        let recording = grant(Scope::Recording(Uuid::new_v4()), i64::MAX);
        assert_eq!(none.check(&recording, None), Ok(()));
    }
}

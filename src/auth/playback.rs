//! Playback tokens: what lets a player (hls.js, Safari, VLC) fetch one
//! classroom's live HLS or one recording without a cookie. A token names
//! the viewer it was issued to and when it expires, and is signed with
//! HMAC-SHA256 over the scope, so one for classroom A opens nothing else.
//!
//! Pure: the key and the time are parameters.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// Tag bytes kept: 128 bits is far beyond guessing within a token's life.
const TAG_LEN: usize = 16;
const BODY_LEN: usize = 16 + 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Live(Uuid),
    Recording(Uuid),
}

impl Scope {
    fn label(&self) -> [u8; 17] {
        let (kind, id) = match self {
            Scope::Live(id) => (b'L', id),
            Scope::Recording(id) => (b'R', id),
        };
        let mut out = [0u8; 17];
        out[0] = kind;
        out[1..].copy_from_slice(id.as_bytes());
        out
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlaybackError {
    #[error("malformed playback token")]
    Malformed,
    #[error("playback token does not match")]
    BadSignature,
    #[error("playback token expired")]
    Expired,
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

    fn mac(&self, scope: Scope, body: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length.
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(b"classcast playback v1");
        mac.update(&scope.label());
        mac.update(body);
        mac
    }

    /// A token for `viewer` to play `scope` until `expires` (Unix seconds).
    pub fn sign(&self, scope: Scope, viewer: Uuid, expires: i64) -> String {
        let mut token = Vec::with_capacity(BODY_LEN + TAG_LEN);
        token.extend_from_slice(viewer.as_bytes());
        token.extend_from_slice(&expires.to_be_bytes());
        let tag = self.mac(scope, &token).finalize().into_bytes();
        token.extend_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The viewer a valid token was issued to.
    pub fn verify(&self, scope: Scope, token: &str, now: i64) -> Result<Uuid, PlaybackError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| PlaybackError::Malformed)?;
        if bytes.len() != BODY_LEN + TAG_LEN {
            return Err(PlaybackError::Malformed);
        }
        let (body, tag) = bytes.split_at(BODY_LEN);
        self.mac(scope, body)
            .verify_truncated_left(tag)
            .map_err(|_| PlaybackError::BadSignature)?;
        // Lengths checked above.
        let viewer = Uuid::from_slice(&body[..16]).expect("16 bytes");
        let expires = i64::from_be_bytes(body[16..].try_into().expect("8 bytes"));
        if now >= expires {
            return Err(PlaybackError::Expired);
        }
        Ok(viewer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_its_own_scope_until_it_expires() {
        let key = PlaybackKey::new(b"test key, 32 bytes or so........".to_vec());
        let (room, other, viewer) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let token = key.sign(Scope::Live(room), viewer, 1_000);
        assert_eq!(key.verify(Scope::Live(room), &token, 999), Ok(viewer));
        assert_eq!(
            key.verify(Scope::Live(room), &token, 1_000),
            Err(PlaybackError::Expired)
        );
        assert_eq!(
            key.verify(Scope::Live(other), &token, 0),
            Err(PlaybackError::BadSignature)
        );
        assert_eq!(
            key.verify(Scope::Recording(room), &token, 0),
            Err(PlaybackError::BadSignature)
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
        let token = key.sign(Scope::Live(room), Uuid::new_v4(), i64::MAX);
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[20] ^= 1; // push the expiry
        let tampered = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(
            key.verify(Scope::Live(room), &tampered, 0),
            Err(PlaybackError::BadSignature)
        );
        for garbage in ["", "abc", "../../etc/passwd", &"A".repeat(54), "é"] {
            assert!(
                key.verify(Scope::Live(room), garbage, 0).is_err(),
                "{garbage}"
            );
        }
    }
}

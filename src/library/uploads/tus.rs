//! tus 1.0 decisions, pure: headers and the stored state in, a verdict
//! out; time is a parameter. Core, creation, creation-with-upload,
//! termination, expiration and checksum (sha1). No I/O here: the handlers
//! read the request and the row, ask this module, and act on the answer.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

pub const VERSION: &str = "1.0.0";
pub const EXTENSIONS: &str = "creation,creation-with-upload,termination,expiration,checksum";
pub const CHECKSUM_ALGORITHMS: &str = "sha1";
/// The content type of every chunk.
pub const CHUNK_TYPE: &str = "application/offset+octet-stream";

/// Why a tus request is refused; the HTTP layer maps each to a status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TusError {
    /// `Tus-Resumable` missing or another version: 412.
    #[error("unsupported tus version")]
    Version,
    /// Upload-Length missing, negative or not a number (deferred lengths
    /// are not offered): 400.
    #[error("Upload-Length missing or invalid")]
    Length,
    /// Larger than the configured maximum: 413, before a byte is stored.
    #[error("upload larger than allowed")]
    TooLarge,
    /// The person already has as many unfinished uploads as allowed: 429.
    #[error("too many unfinished uploads")]
    TooMany,
    #[error("Upload-Metadata invalid")]
    Metadata,
    /// Upload-Offset missing or not a number: 400.
    #[error("Upload-Offset missing or invalid")]
    Offset,
    /// Upload-Offset is not where the upload stands: 409.
    #[error("Upload-Offset does not match")]
    OffsetMismatch,
    /// A chunk not sent as `application/offset+octet-stream`: 415.
    #[error("chunks must be application/offset+octet-stream")]
    ContentType,
    /// An algorithm other than sha1, or a malformed checksum: 400.
    #[error("Upload-Checksum unsupported or malformed")]
    Checksum,
    /// The chunk's bytes do not match its checksum: 460.
    #[error("checksum mismatch")]
    ChecksumMismatch,
    /// More bytes than Upload-Length leaves room for: 400.
    #[error("chunk runs past Upload-Length")]
    PastLength,
}

/// The `Tus-Resumable` header every request but OPTIONS carries.
pub fn check_version(header: Option<&str>) -> Result<(), TusError> {
    match header {
        Some(VERSION) => Ok(()),
        _ => Err(TusError::Version),
    }
}

/// A creation request's length, checked against the size limit (before
/// anything is stored).
pub fn check_length(length: Option<&str>, max_bytes: u64) -> Result<u64, TusError> {
    let length: u64 = length
        .and_then(|l| l.trim().parse().ok())
        .ok_or(TusError::Length)?;
    if length > max_bytes {
        return Err(TusError::TooLarge);
    }
    Ok(length)
}

/// Whether a person with `unfinished` uploads may start another.
pub fn check_room_for_another(unfinished: i64, max_per_user: i64) -> Result<(), TusError> {
    if unfinished >= max_per_user {
        return Err(TusError::TooMany);
    }
    Ok(())
}

/// `Upload-Metadata`: comma-separated `key base64value` pairs (the value
/// may be absent).
pub fn parse_metadata(header: Option<&str>) -> Result<BTreeMap<String, String>, TusError> {
    let mut out = BTreeMap::new();
    let Some(header) = header else {
        return Ok(out);
    };
    for pair in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut parts = pair.split(' ');
        let key = parts
            .next()
            .filter(|k| !k.is_empty())
            .ok_or(TusError::Metadata)?;
        let value = match parts.next() {
            Some(encoded) => {
                let raw = STANDARD.decode(encoded).map_err(|_| TusError::Metadata)?;
                String::from_utf8(raw).map_err(|_| TusError::Metadata)?
            }
            None => String::new(),
        };
        if parts.next().is_some() || out.insert(key.to_string(), value).is_some() {
            return Err(TusError::Metadata);
        }
    }
    Ok(out)
}

/// `Upload-Checksum: sha1 <base64 digest>`.
pub fn parse_checksum(header: Option<&str>) -> Result<Option<[u8; 20]>, TusError> {
    let Some(header) = header else {
        return Ok(None);
    };
    let (algorithm, digest) = header.trim().split_once(' ').ok_or(TusError::Checksum)?;
    if algorithm != "sha1" {
        return Err(TusError::Checksum);
    }
    let digest = STANDARD
        .decode(digest.trim())
        .map_err(|_| TusError::Checksum)?;
    digest.try_into().map(Some).map_err(|_| TusError::Checksum)
}

/// Where a PATCH may write: the bytes it may send at most.
pub fn check_patch(
    content_type: Option<&str>,
    offset: Option<&str>,
    received: u64,
    length: u64,
) -> Result<u64, TusError> {
    let media_type = content_type.map(|c| c.split(';').next().unwrap_or("").trim());
    if media_type != Some(CHUNK_TYPE) {
        return Err(TusError::ContentType);
    }
    let offset: u64 = offset
        .and_then(|o| o.trim().parse().ok())
        .ok_or(TusError::Offset)?;
    if offset != received {
        return Err(TusError::OffsetMismatch);
    }
    Ok(length - received)
}

/// Counts a chunk's bytes as they arrive: an error as soon as they run
/// past the room the upload has left.
#[derive(Debug, Clone, Copy)]
pub struct Room {
    left: u64,
}

impl Room {
    pub fn new(left: u64) -> Self {
        Self { left }
    }

    pub fn take(&mut self, bytes: usize) -> Result<(), TusError> {
        self.left = self
            .left
            .checked_sub(bytes as u64)
            .ok_or(TusError::PastLength)?;
        Ok(())
    }
}

/// Whether a chunk cut off part-way keeps what arrived: yes, unless a
/// checksum was promised for the whole chunk (it cannot be checked).
pub fn keeps_partial_chunk(has_checksum: bool, received: u64) -> bool {
    !has_checksum && received > 0
}

/// What follows a chunk that ends at `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterChunk {
    /// More to come.
    Continue,
    /// The last byte is in: assemble and probe.
    Complete,
}

pub fn after_chunk(offset: u64, length: u64) -> AfterChunk {
    if offset >= length {
        AfterChunk::Complete
    } else {
        AfterChunk::Continue
    }
}

/// An unfinished upload lives `expiry` past its last activity.
pub fn expires_at(last_activity: DateTime<Utc>, expiry: Duration) -> DateTime<Utc> {
    last_activity + chrono::Duration::from_std(expiry).unwrap_or(chrono::Duration::days(1))
}

pub fn is_expired(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    expires_at <= now
}

/// `Upload-Expires` is an HTTP date (RFC 9110 IMF-fixdate).
pub fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_checks_the_length_and_the_count() {
        assert_eq!(check_length(Some("100"), 1000), Ok(100));
        assert_eq!(check_length(Some("1000"), 1000), Ok(1000));
        assert_eq!(check_length(None, 1000), Err(TusError::Length));
        assert_eq!(check_length(Some("-1"), 1000), Err(TusError::Length));
        assert_eq!(check_length(Some("1001"), 1000), Err(TusError::TooLarge));
        assert_eq!(check_room_for_another(2, 3), Ok(()));
        assert_eq!(check_room_for_another(3, 3), Err(TusError::TooMany));
    }

    #[test]
    fn metadata_is_base64_pairs() {
        let parsed = parse_metadata(Some("filename d29ybGQubXA0,is_confidential")).unwrap();
        assert_eq!(parsed["filename"], "world.mp4");
        assert_eq!(parsed["is_confidential"], "");
        assert_eq!(
            parse_metadata(Some("filename !!!")),
            Err(TusError::Metadata)
        );
        assert_eq!(
            parse_metadata(Some("a YQ==,a YQ==")),
            Err(TusError::Metadata)
        );
        assert!(parse_metadata(None).unwrap().is_empty());
    }

    #[test]
    fn a_patch_must_start_where_the_upload_stands() {
        assert_eq!(check_patch(Some(CHUNK_TYPE), Some("10"), 10, 30), Ok(20));
        assert_eq!(
            check_patch(Some(CHUNK_TYPE), Some("0"), 10, 30),
            Err(TusError::OffsetMismatch)
        );
        assert_eq!(
            check_patch(Some("application/json"), Some("10"), 10, 30),
            Err(TusError::ContentType)
        );
        assert_eq!(
            check_patch(Some(CHUNK_TYPE), None, 10, 30),
            Err(TusError::Offset)
        );
        let mut room = Room::new(5);
        assert_eq!(room.take(5), Ok(()));
        assert_eq!(room.take(1), Err(TusError::PastLength));
    }

    #[test]
    fn checksums_are_sha1_in_base64() {
        // sha1("hello") = aaf4c61d dcc5e8a2 dabede0f 3b482cd9 aea9434d
        let digest = parse_checksum(Some("sha1 qvTGHdzF6KLavt4PO0gs2a6pQ00=")).unwrap();
        assert_eq!(digest.unwrap()[0], 0xaa);
        assert_eq!(
            parse_checksum(Some("md5 qvTGHdzF6KLavt4PO0gs2a6pQ00=")),
            Err(TusError::Checksum)
        );
        assert_eq!(parse_checksum(Some("sha1 AAAA")), Err(TusError::Checksum));
        assert_eq!(parse_checksum(None), Ok(None));
        assert!(!keeps_partial_chunk(true, 10));
        assert!(keeps_partial_chunk(false, 10));
        assert!(!keeps_partial_chunk(false, 0));
    }

    #[test]
    fn an_upload_expires_after_its_last_chunk() {
        let start = DateTime::parse_from_rfc3339("2026-12-03T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let expires = expires_at(start, Duration::from_secs(3600));
        assert!(!is_expired(expires, start + chrono::Duration::minutes(59)));
        assert!(is_expired(expires, start + chrono::Duration::minutes(60)));
        assert_eq!(http_date(expires), "Thu, 03 Dec 2026 09:00:00 GMT");
        assert_eq!(after_chunk(30, 30), AfterChunk::Complete);
        assert_eq!(after_chunk(29, 30), AfterChunk::Continue);
        assert_eq!(check_version(Some("1.0.0")), Ok(()));
        assert_eq!(check_version(Some("0.2.2")), Err(TusError::Version));
    }
}

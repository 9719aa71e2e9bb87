//! A lesson's attachments: its learning task sheet (学习任务单), slides,
//! practice questions (检测习题) and other files, as PDF, DOCX, PPTX or
//! pictures. The bytes go to the media store under
//! `library/{lesson}/attachments/{id}` (so every node serves what any took
//! in), the row to `catalog::library::attachments`.
//!
//! Taking one in refuses bad input before keeping anything: a name that is
//! no name, a declared length over the limit, a file whose first bytes are
//! no accepted type (`sniff`), a body that runs past the limit. Only then is
//! the object written, streamed and never whole in memory, and only once
//! it is complete is the row written; a failure in between deletes the
//! object. Who may add or remove is `auth::policy`'s answer, not this
//! module's.

pub mod kind;
pub mod sniff;

pub use kind::{Kind, UnknownKind};

use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use sqlx::PgPool;
use uuid::Uuid;

use crate::catalog::library::attachments::{self as rows, Attachment};
use crate::catalog::{CatalogError, Validation};
use crate::storage::{MediaStore, StorageError};

/// Longest file name kept (characters).
pub const MAX_NAME_CHARS: usize = 200;
/// A refused body is read (and thrown away) up to this many times the limit
/// before the answer, so the client reads the answer rather than a reset;
/// a longer one is cut off (see `http::body_limit`).
const DRAIN_FACTOR: u64 = 16;
/// And for at most this long.
const DRAIN_TIME: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    /// Longer than the limit (declared, or found while reading).
    #[error("larger than the limit")]
    TooLarge,
    /// Not one of the accepted types, whatever its name says.
    #[error("not an accepted file type")]
    Refused,
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The client stopped sending; nothing is kept.
    #[error("the client went away: {0}")]
    ClientGone(String),
}

/// The media store key of an attachment's bytes.
pub fn storage_key(lesson: Uuid, id: Uuid) -> String {
    format!("library/{lesson}/attachments/{id}")
}

/// The file name as it will be kept: trimmed, not blank, at most
/// `MAX_NAME_CHARS`, no control characters (a NUL cannot even be stored).
pub fn check_name(name: &str) -> Result<&str, CatalogError> {
    let mut check = Validation::default();
    check.name(name, MAX_NAME_CHARS, "name");
    check.finish()?;
    Ok(name.trim())
}

/// Whether a body refused by its declared length is read before the answer.
/// Not when the client waits to be told to go on (`Expect: 100-continue`,
/// as curl sends for large files): it sends nothing, and reads the answer.
/// Not when it is far over: a client may not keep a connection busy.
pub fn drains_before_refusal(declared: u64, max: u64, expects_continue: bool) -> bool {
    !expects_continue && declared <= max.saturating_mul(DRAIN_FACTOR)
}

/// What one upload request brings.
pub struct Incoming {
    pub lesson: Uuid,
    pub kind: Kind,
    pub name: String,
    pub by: Option<Uuid>,
    pub body: Body,
    /// `Content-Length`, if sent.
    pub declared: Option<u64>,
    pub expects_continue: bool,
}

/// Takes an attachment in (see the module's doc). Runs as a task of its
/// own: a request dropped half-way (its client gone) must not leave an
/// object without a row.
pub async fn add(
    db: &PgPool,
    store: &MediaStore,
    incoming: Incoming,
    max: u64,
) -> Result<Attachment, AttachmentError> {
    let (db, store) = (db.clone(), store.clone());
    tokio::spawn(async move { add_here(&db, &store, incoming, max).await })
        .await
        .map_err(|e| StorageError::Source(format!("attachment task: {e}")))?
}

async fn add_here(
    db: &PgPool,
    store: &MediaStore,
    incoming: Incoming,
    max: u64,
) -> Result<Attachment, AttachmentError> {
    let mut data = incoming.body.into_data_stream();
    if let Some(declared) = incoming.declared
        && declared > max
    {
        if drains_before_refusal(declared, max, incoming.expects_continue) {
            drain(&mut data, declared).await;
        }
        return Err(AttachmentError::TooLarge);
    }
    let name = match check_name(&incoming.name) {
        Ok(name) => name.to_string(),
        Err(e) => {
            drain(&mut data, max).await;
            return Err(e.into());
        }
    };
    let prefix = match read_prefix(&mut data, max).await {
        Ok(prefix) => prefix,
        Err(e) => {
            drain(&mut data, max.saturating_mul(DRAIN_FACTOR)).await;
            return Err(e);
        }
    };
    let Some(file_type) = sniff::classify(&prefix) else {
        drain(&mut data, max).await;
        return Err(AttachmentError::Refused);
    };
    let id = Uuid::new_v4();
    let key = storage_key(incoming.lesson, id);
    let mut seen = prefix.len() as u64;
    let rest = (&mut data).map(|next| {
        let chunk = next.map_err(|e| Failure::Client(e.to_string()))?;
        seen += chunk.len() as u64;
        if seen > max {
            return Err(Failure::TooLarge);
        }
        Ok(chunk)
    });
    let bytes = futures::stream::iter([Ok(prefix)]).chain(rest);
    let (written, failure) = store.put_stream(&key, bytes, |_, _| false).await?;
    match failure {
        None => {}
        Some(Failure::TooLarge) => {
            drain(&mut data, max.saturating_mul(DRAIN_FACTOR)).await;
            return Err(AttachmentError::TooLarge);
        }
        Some(Failure::Client(e)) => return Err(AttachmentError::ClientGone(e)),
    }
    let attachment = Attachment {
        id,
        lesson_id: incoming.lesson,
        kind: incoming.kind,
        file_name: name,
        content_type: file_type.content_type().to_string(),
        byte_size: written as i64,
        storage_key: key,
        uploaded_by: incoming.by,
        created_at: chrono::Utc::now(),
    };
    if let Err(e) = rows::insert(db, &attachment).await {
        // The lesson went away meanwhile, or the database did.
        if let Err(gone) = store.delete(&attachment.storage_key).await {
            tracing::warn!(key = %attachment.storage_key, "unrecorded attachment not deleted: {gone}");
        }
        return Err(e.into());
    }
    Ok(attachment)
}

enum Failure {
    Client(String),
    TooLarge,
}

/// The first `SNIFF_BYTES` of the body (all of it when shorter).
async fn read_prefix(data: &mut BodyDataStream, max: u64) -> Result<Bytes, AttachmentError> {
    let mut prefix = BytesMut::new();
    while prefix.len() < sniff::SNIFF_BYTES {
        match data.next().await {
            Some(Ok(chunk)) => prefix.extend_from_slice(&chunk),
            Some(Err(e)) => return Err(AttachmentError::ClientGone(e.to_string())),
            None => break,
        }
        if prefix.len() as u64 > max {
            return Err(AttachmentError::TooLarge);
        }
    }
    Ok(prefix.freeze())
}

/// Reads what is left of a refused body, up to `up_to` bytes and
/// `DRAIN_TIME`, and throws it away.
async fn drain(data: &mut BodyDataStream, up_to: u64) {
    let until = tokio::time::Instant::now() + DRAIN_TIME;
    let mut seen = 0u64;
    while seen <= up_to {
        match tokio::time::timeout_at(until, data.next()).await {
            Ok(Some(Ok(chunk))) => seen += chunk.len() as u64,
            _ => return,
        }
    }
}

/// Deletes an attachment: the row first, so nobody is offered an object
/// that is going; an object whose delete fails is garbage, never shown.
pub async fn remove(
    db: &PgPool,
    store: &MediaStore,
    lesson: Uuid,
    id: Uuid,
) -> Result<Attachment, AttachmentError> {
    let removed = rows::delete(db, lesson, id).await?;
    if let Err(e) = store.delete(&removed.storage_key).await {
        tracing::warn!(key = %removed.storage_key, "removed attachment's object not deleted: {e}");
    }
    Ok(removed)
}

/// `Content-Disposition` for a download under its original name: an ASCII
/// fallback for old clients, and the name itself percent-encoded in UTF-8
/// (RFC 6266, RFC 8187), so 学习任务单.pdf arrives as it was uploaded.
pub fn content_disposition(name: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    // RFC 8187's attr-char, less what is left encoded.
    const ATTR: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        utf8_percent_encode(name, ATTR)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kept_trimmed_and_bounded() {
        assert_eq!(check_name("  学习任务单.pdf ").unwrap(), "学习任务单.pdf");
        for bad in ["", "   ", "a\0b.pdf", "line\nbreak.pdf"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"长".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(check_name(&"长".repeat(MAX_NAME_CHARS + 1)).is_err());
    }

    #[test]
    fn a_download_keeps_its_chinese_name() {
        assert_eq!(
            content_disposition("学习任务单 1.pdf"),
            "attachment; filename=\"_____ 1.pdf\"; \
             filename*=UTF-8''%E5%AD%A6%E4%B9%A0%E4%BB%BB%E5%8A%A1%E5%8D%95%201.pdf"
        );
        // Quotes cannot end the fallback early, nor anything break the header.
        let tricky = content_disposition("a\";b.pdf");
        assert!(tricky.starts_with("attachment; filename=\"a_;b.pdf\"; "));
        assert!(tricky.ends_with("filename*=UTF-8''a%22%3Bb.pdf"));
    }

    #[test]
    fn only_a_modest_refusal_is_read_to_its_end() {
        let mib = 1024 * 1024;
        assert!(drains_before_refusal(2 * mib, mib, false));
        assert!(!drains_before_refusal(2 * mib, mib, true));
        assert!(!drains_before_refusal(100 * mib, mib, false));
    }
}

//! What an attachment is, decided from its first bytes alone: never from
//! the client's `Content-Type` or the file's extension, which say what the
//! sender hoped. Pure: the bytes come in, a type (or a refusal) comes out.
//!
//! The magic numbers are the `infer` crate's. DOCX and PPTX are zip files,
//! told from any other zip by the entries inside: an Office Open XML
//! package has `[Content_Types].xml`, and a `word/` or a `ppt/` part.
//! `infer`'s own Office check looks at whichever entry comes fourth, which
//! fits Microsoft Office's order but not every writer's (WPS, LibreOffice),
//! so the entries are read here, from the zip's local headers. Executables
//! are refused first, so that a program carrying `%PDF` in its first
//! kilobyte (where PDF readers accept the header) is still a program.

/// How much of the start of a file is looked at. `infer` finds the third
/// and fourth zip entries of an Office file within a few kilobytes of the
/// first one's end; [Content_Types].xml is small, so this holds them.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// The kinds of file a lesson may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Pdf,
    Docx,
    Pptx,
    Png,
    Jpeg,
    WebP,
    Gif,
}

impl FileType {
    /// The media type the download is served with.
    pub fn content_type(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            FileType::Pptx => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
            FileType::Png => "image/png",
            FileType::Jpeg => "image/jpeg",
            FileType::WebP => "image/webp",
            FileType::Gif => "image/gif",
        }
    }
}

/// The type of a file that starts with `prefix` (its first `SNIFF_BYTES`,
/// or all of it when shorter); `None` for anything a lesson may not carry.
pub fn classify(prefix: &[u8]) -> Option<FileType> {
    let executable = infer::app::is_exe(prefix)
        || infer::app::is_elf(prefix)
        || infer::app::is_mach(prefix)
        || prefix.starts_with(b"#!");
    if executable {
        return None;
    }
    // Zips first: an Office file is one, and nothing else below is.
    if infer::archive::is_zip(prefix) {
        return office_package(prefix);
    }
    if infer::archive::is_pdf(prefix) {
        return Some(FileType::Pdf);
    }
    if infer::image::is_png(prefix) {
        return Some(FileType::Png);
    }
    if infer::image::is_jpeg(prefix) {
        return Some(FileType::Jpeg);
    }
    // `infer` looks at "WEBP" only; a RIFF container must hold it.
    if prefix.starts_with(b"RIFF") && infer::image::is_webp(prefix) {
        return Some(FileType::WebP);
    }
    if prefix.starts_with(b"GIF87a") || prefix.starts_with(b"GIF89a") {
        return Some(FileType::Gif);
    }
    None
}

/// DOCX or PPTX by the entries whose local headers lie in `prefix`: the
/// package's `[Content_Types].xml` and its `word/` or `ppt/` parts.
fn office_package(prefix: &[u8]) -> Option<FileType> {
    let (mut types, mut word, mut ppt) = (false, false, false);
    for name in zip_entry_names(prefix) {
        types |= name == b"[Content_Types].xml";
        word |= name.starts_with(b"word/");
        ppt |= name.starts_with(b"ppt/");
    }
    match (types, word, ppt) {
        (true, true, false) => Some(FileType::Docx),
        (true, false, true) => Some(FileType::Pptx),
        _ => None,
    }
}

const LOCAL_HEADER: &[u8] = b"PK\x03\x04";

/// The names of a zip's entries, read from their local headers one after
/// the other, as far as `prefix` reaches.
fn zip_entry_names(prefix: &[u8]) -> Vec<&[u8]> {
    let u16_at = |at: usize| u16::from_le_bytes([prefix[at], prefix[at + 1]]) as usize;
    let u32_at = |at: usize| {
        u32::from_le_bytes([prefix[at], prefix[at + 1], prefix[at + 2], prefix[at + 3]]) as usize
    };
    let mut names = Vec::new();
    let mut at = 0;
    while prefix.len() >= at + 30 && prefix[at..].starts_with(LOCAL_HEADER) {
        let (flags, packed) = (u16_at(at + 6), u32_at(at + 18));
        let (name_len, extra_len) = (u16_at(at + 26), u16_at(at + 28));
        let name_end = at + 30 + name_len;
        let Some(name) = prefix.get(at + 30..name_end) else {
            break;
        };
        names.push(name);
        let data = name_end + extra_len;
        at = if flags & 0x08 != 0 {
            // Sizes follow the data (streamed writers): find the next header.
            match prefix.get(data..).and_then(|rest| {
                rest.windows(LOCAL_HEADER.len())
                    .position(|w| w == LOCAL_HEADER)
            }) {
                Some(found) => data + found,
                None => break,
            }
        } else {
            data.saturating_add(packed)
        };
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zip whose entries are `names` (stored, empty), as Office writes
    /// them: the local headers one after another.
    fn zip_with(names: &[&str]) -> Vec<u8> {
        zip_of(names, false)
    }

    /// `streamed`: as writers that cannot seek back, with the sizes in a
    /// descriptor after each entry's data (flag bit 3), zeros before it.
    fn zip_of(names: &[&str], streamed: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for name in names {
            let data: &[u8] = if streamed { b"<x/>" } else { b"" };
            out.extend_from_slice(b"PK\x03\x04");
            out.extend_from_slice(&[20, 0, if streamed { 8 } else { 0 }, 0]);
            out.extend_from_slice(&[0; 6]); // method (stored), time, date
            out.extend_from_slice(&[0; 12]); // crc and sizes, or in the descriptor
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            if streamed {
                out.extend_from_slice(b"PK\x07\x08");
                out.extend_from_slice(&[0; 4]);
                out.extend_from_slice(&(data.len() as u32).to_le_bytes());
                out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            }
        }
        out.extend_from_slice(b"PK\x05\x06");
        out.extend_from_slice(&[0; 18]);
        out
    }

    #[test]
    fn documents_and_pictures_are_known_by_their_first_bytes() {
        assert_eq!(
            classify(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\n"),
            Some(FileType::Pdf)
        );
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
        assert_eq!(classify(png), Some(FileType::Png));
        assert_eq!(
            classify(b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01"),
            Some(FileType::Jpeg)
        );
        assert_eq!(
            classify(b"RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0"),
            Some(FileType::WebP)
        );
        assert_eq!(classify(b"GIF89a\x01\0\x01\0\x80\0\0"), Some(FileType::Gif));
    }

    #[test]
    fn office_files_are_zips_with_their_own_entries() {
        let docx = zip_with(&["[Content_Types].xml", "_rels/.rels", "word/document.xml"]);
        assert_eq!(classify(&docx), Some(FileType::Docx));
        let pptx = zip_with(&["[Content_Types].xml", "_rels/.rels", "ppt/presentation.xml"]);
        assert_eq!(classify(&pptx), Some(FileType::Pptx));
        // Other writers' orders: parts first, the types last.
        let other_order = zip_with(&[
            "docProps/app.xml",
            "word/document.xml",
            "word/styles.xml",
            "_rels/.rels",
            "[Content_Types].xml",
        ]);
        assert_eq!(classify(&other_order), Some(FileType::Docx));
        let streamed = zip_of(
            &[
                "[Content_Types].xml",
                "_rels/.rels",
                "ppt/slides/slide1.xml",
            ],
            true,
        );
        assert_eq!(classify(&streamed), Some(FileType::Pptx));
        // A zip that only has a word/ folder is no Office package.
        assert_eq!(classify(&zip_with(&["word/document.xml"])), None);
        // A spreadsheet, a zip of photos, an OpenDocument: not for lessons.
        let xlsx = zip_with(&["[Content_Types].xml", "_rels/.rels", "xl/workbook.xml"]);
        assert_eq!(classify(&xlsx), None);
        assert_eq!(classify(&zip_with(&["photos/1.jpg", "photos/2.jpg"])), None);
        assert_eq!(classify(&zip_with(&["mimetype", "content.xml"])), None);
    }

    #[test]
    fn programs_and_unknown_bytes_are_refused_whatever_their_name() {
        let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
        elf.resize(64, 0);
        assert_eq!(classify(&elf), None);
        // A Windows program that carries a PDF header early on.
        let mut exe = b"MZ\x90\0\x03\0\0\0".to_vec();
        exe.extend_from_slice(b"%PDF-1.7");
        assert_eq!(classify(&exe), None);
        assert_eq!(classify(b"#!/bin/sh\necho %PDF\n"), None);
        assert_eq!(classify(b"hello, this is plain text"), None);
        assert_eq!(classify(b""), None);
        assert_eq!(classify(b"RIFF\x24\0\0\0WAVEfmt "), None);
    }
}

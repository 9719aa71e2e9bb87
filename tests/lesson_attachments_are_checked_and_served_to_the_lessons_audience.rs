//! A lesson's attachments (task sheet, slides, practice questions): real
//! PDF, DOCX, PPTX and PNG files are kept and come back byte for byte,
//! under their own names and the type their bytes say; a program or random
//! bytes named `.pdf`, or a zip that is no Office file, is refused with its
//! code, and so is a file over the limit, whether it says so or not; a
//! refused file leaves no row and no object. They reach exactly the
//! lesson's audience, and only its editors change them. Downloads answer
//! byte ranges (206, 416), as PDF viewers and resuming downloads ask.

mod common;

use std::io::{Read, Write};

use common::accounts::psql;
use common::library::{Group, reviewer, teacher, teaching_group};
use reqwest::Method;
use serde_json::{Value, json};

/// Small, so that going over it is quick.
const LIMIT: usize = 256 * 1024;

const DOCX_TYPE: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const PPTX_TYPE: &str = "application/vnd.openxmlformats-officedocument.presentationml.presentation";

/// A one-page PDF with its cross-reference table, as a PDF reader wants.
fn pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A zip of stored entries with its central directory, as `unzip` reads it.
fn zip(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, text) in entries {
        let (name, data) = (name.as_bytes(), text.as_bytes());
        let crc = crc32fast::hash(data);
        let offset = out.len() as u32;
        let sizes = [crc, data.len() as u32, data.len() as u32];
        let mut fixed = Vec::new();
        fixed.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]); // version, flags, stored, time, date
        for n in sizes {
            fixed.extend_from_slice(&n.to_le_bytes());
        }
        fixed.extend_from_slice(&(name.len() as u16).to_le_bytes());
        fixed.extend_from_slice(&[0, 0]);
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&fixed);
        out.extend_from_slice(name);
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&[20, 0]); // made by
        central.extend_from_slice(&fixed);
        central.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        central.extend_from_slice(&[0; 4]); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let (start, size) = (out.len() as u32, central.len() as u32);
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    let count = (entries.len() as u16).to_le_bytes();
    out.extend_from_slice(&[count[0], count[1], count[0], count[1]]);
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="MAIN"/></Relationships>"#;

fn docx() -> Vec<u8> {
    zip(&[
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#,
        ),
        ("_rels/.rels", &RELS.replace("MAIN", "word/document.xml")),
        (
            "word/document.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>学习任务单：认识分数</w:t></w:r></w:p></w:body></w:document>"#,
        ),
    ])
}

fn pptx() -> Vec<u8> {
    zip(&[
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/></Types>"#,
        ),
        ("_rels/.rels", &RELS.replace("MAIN", "ppt/presentation.xml")),
        (
            "ppt/presentation.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"><p:sldSz cx="9144000" cy="6858000"/><p:notesSz cx="6858000" cy="9144000"/></p:presentation>"#,
        ),
    ])
}

/// A 1×1 grey PNG: signature, IHDR, IDAT (zlib, one stored block), IEND.
fn png() -> Vec<u8> {
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        let mut typed = kind.to_vec();
        typed.extend_from_slice(data);
        c.extend_from_slice(&typed);
        c.extend_from_slice(&crc32fast::hash(&typed).to_be_bytes());
        c
    };
    let scanline = [0u8, 0x80]; // filter none, one grey pixel
    let adler = {
        let (mut a, mut b) = (1u32, 0u32);
        for byte in scanline {
            a = (a + byte as u32) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    };
    let mut idat = vec![0x78, 0x01, 0x01, 0x02, 0x00, 0xfd, 0xff];
    idat.extend_from_slice(&scanline);
    idat.extend_from_slice(&adler.to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]));
    out.extend(chunk(b"IDAT", &idat));
    out.extend(chunk(b"IEND", &[]));
    out
}

/// The start of a Linux program, as `cc` writes it.
fn elf() -> Vec<u8> {
    let mut out = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0".to_vec();
    out.resize(4096, 0x90);
    out
}

struct Lesson<'a> {
    g: &'a Group,
    id: String,
}

impl Lesson<'_> {
    fn path(&self, rest: &str) -> String {
        format!("/api/library/lessons/{}/attachments{rest}", self.id)
    }

    /// Posts `bytes` as an attachment; the client's type is a lie on purpose.
    async fn attach(&self, bearer: &str, kind: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
        let name = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
        let url = self
            .g
            .server
            .url(&self.path(&format!("?kind={kind}&name={name}")));
        let response = self
            .g
            .server
            .client
            .post(&url)
            .bearer_auth(bearer)
            .header("content-type", "text/plain")
            .header("accept-language", "en")
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn download(&self, bearer: &str, attachment: &str) -> reqwest::Response {
        self.g
            .server
            .client
            .get(self.g.server.url(&self.path(&format!("/{attachment}"))))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap()
    }

    fn rows(&self) -> usize {
        psql(
            &self.g.server,
            &format!(
                "SELECT count(*) FROM lesson_attachments WHERE lesson_id = '{}'",
                self.id
            ),
        )
        .parse()
        .unwrap()
    }

    /// The objects under the lesson's attachments in the media store.
    fn objects(&self) -> Vec<String> {
        let dir = self
            .g
            .server
            .media
            .path()
            .join(format!("objects/library/{}/attachments", self.id));
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// Sends `total` bytes (a PDF's start, then filler) in chunks, with no
/// Content-Length: the server finds out while reading.
fn post_chunked(port: u16, path: &str, bearer: &str, total: usize) -> u16 {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST {path}?kind=slides&name=big.pdf HTTP/1.1\r\nhost: 127.0.0.1\r\n\
         authorization: Bearer {bearer}\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut body = pdf();
    body.resize(total, b' ');
    for piece in body.chunks(16 * 1024) {
        let sent = stream
            .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
            .and_then(|_| stream.write_all(piece))
            .and_then(|_| stream.write_all(b"\r\n"));
        if sent.is_err() {
            break; // answered already
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no answer: {answer}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn lesson_attachments_are_checked_and_served_to_the_lessons_audience() {
    let g = Group::start_with(vec![(
        "CLASSCAST_LIBRARY__ATTACHMENT_MAX_BYTES",
        LIMIT.to_string(),
    )])
    .await;
    let math = g.term("subjects", "math").await;
    let grade = g.term("grades", "g3").await;
    let author = g.person("li_laoshi", &g.main, teacher()).await;
    let colleague = g.person("zhao_laoshi", &g.main, teacher()).await;
    let partner = g
        .person("viewer_partner", &g.partner, json!([{"role": "viewer"}]))
        .await;
    let id = g
        .draft(
            &author,
            json!({"title": "认识分数", "subject_id": math, "grade_id": grade,
                   "visibility": "school"}),
        )
        .await;
    let lesson = Lesson { g: &g, id };

    // Four real files, each typed by its bytes whatever the client said.
    let files = [
        ("task_sheet", "学习任务单.pdf", pdf(), "application/pdf"),
        ("exercises", "检测习题 第1课.docx", docx(), DOCX_TYPE),
        ("slides", "课件.pptx", pptx(), PPTX_TYPE),
        ("other", "板书.png", png(), "image/png"),
    ];
    let mut kept = Vec::new();
    for (kind, name, bytes, content_type) in &files {
        let (status, added) = lesson.attach(&author, kind, name, bytes.clone()).await;
        assert_eq!(status, 201, "{name}: {added}");
        assert_eq!(added["content_type"], *content_type, "{name}");
        assert_eq!(added["file_name"], *name);
        assert_eq!(added["kind"], *kind);
        assert_eq!(added["byte_size"], bytes.len());
        kept.push(added["id"].as_str().unwrap().to_string());
    }
    assert_eq!((lesson.rows(), lesson.objects().len()), (4, 4));

    // Programs, random bytes and a plain zip, named as documents: refused
    // with the code and a message, and nothing of them kept.
    let mut random = vec![0u8; 8192];
    for (i, b) in random.iter_mut().enumerate() {
        *b = (i * 7919 % 251) as u8;
    }
    let photos = zip(&[("photos/1.jpg", "not really"), ("photos/2.jpg", "no")]);
    for (name, bytes) in [
        ("任务单.pdf", elf()),
        (
            "任务单.pdf",
            b"MZ\x90\0\x03\0\0\0%PDF-1.7 and a program".to_vec(),
        ),
        ("习题.pdf", random),
        ("习题.docx", photos),
    ] {
        let (status, refused) = lesson.attach(&author, "exercises", name, bytes).await;
        assert_eq!(status, 415, "{name}: {refused}");
        assert_eq!(refused["error"]["code"], "attachment_type_refused");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("PDF"),
            "{refused}"
        );
    }
    assert_eq!((lesson.rows(), lesson.objects().len()), (4, 4));

    // Over the limit: said in Content-Length, or found while streaming.
    let mut big = pdf();
    big.resize(LIMIT + 1, b' ');
    let (status, refused) = lesson.attach(&author, "slides", "big.pdf", big).await;
    assert_eq!(status, 413, "{refused}");
    assert_eq!(refused["error"]["code"], "payload_too_large");
    let (port, path, bearer) = (g.server.http, lesson.path(""), author.clone());
    let status = tokio::task::spawn_blocking(move || post_chunked(port, &path, &bearer, LIMIT * 3))
        .await
        .unwrap();
    assert_eq!(status, 413);
    // At the limit exactly, it is taken.
    let mut full = pdf();
    full.resize(LIMIT, b' ');
    let (status, at_limit) = lesson.attach(&author, "slides", "满.pdf", full).await;
    assert_eq!(status, 201, "{at_limit}");
    assert_eq!((lesson.rows(), lesson.objects().len()), (5, 5));

    // A bad name is the name's fault, and keeps nothing either.
    let (status, refused) = lesson.attach(&author, "other", "a\u{0}b.pdf", pdf()).await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused["error"]["fields"]["name"].is_string(), "{refused}");
    assert_eq!((lesson.rows(), lesson.objects().len()), (5, 5));

    // Each comes back as it went in, under its own name and type.
    for ((_, name, bytes, content_type), attachment) in files.iter().zip(&kept) {
        let response = lesson.download(&author, attachment).await;
        assert_eq!(response.status(), 200, "{name}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], *content_type, "{name}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let disposition = headers["content-disposition"].to_str().unwrap();
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        let encoded = disposition
            .split("filename*=UTF-8''")
            .nth(1)
            .unwrap_or_else(|| panic!("no filename*: {disposition}"));
        let decoded = percent_decode(encoded);
        assert_eq!(decoded, *name);
        assert_eq!(response.bytes().await.unwrap().to_vec(), *bytes, "{name}");
    }
    // Ranges, as a PDF viewer and a resuming download ask for them: the
    // bytes asked for (206), or 416 for a range outside the file.
    let sheet = pdf();
    let len = sheet.len();
    let ranged = |range: &'static str, if_range: Option<String>| {
        let mut r = g
            .server
            .client
            .get(g.server.url(&lesson.path(&format!("/{}", kept[0]))))
            .bearer_auth(&author)
            .header("range", range);
        if let Some(tag) = if_range {
            r = r.header("if-range", tag);
        }
        r.send()
    };
    let whole = lesson.download(&author, &kept[0]).await;
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    let etag = whole.headers()["etag"].to_str().unwrap().to_string();
    for (range, part) in [
        ("bytes=9-28", 9..29),
        ("bytes=100-", 100..len),
        ("bytes=-16", len - 16..len),
        ("bytes=0-99999", 0..len),
    ] {
        let response = ranged(range, None).await.unwrap();
        assert_eq!(response.status(), 206, "{range}");
        assert_eq!(
            response.headers()["content-range"],
            format!("bytes {}-{}/{len}", part.start, part.end - 1).as_str(),
            "{range}"
        );
        assert_eq!(response.headers()["content-type"], "application/pdf");
        assert_eq!(
            response.bytes().await.unwrap().to_vec(),
            sheet[part].to_vec(),
            "{range}"
        );
    }
    let response = ranged("bytes=100000-", None).await.unwrap();
    assert_eq!(response.status(), 416);
    assert_eq!(
        response.headers()["content-range"],
        format!("bytes */{len}").as_str()
    );
    let refused: Value = response.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "range_not_satisfiable");
    // Resuming the same file keeps the range; another file's tag gets it whole.
    let response = ranged("bytes=9-28", Some(etag)).await.unwrap();
    assert_eq!(response.status(), 206);
    let response = ranged("bytes=9-28", Some("\"another\"".into()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().to_vec(), sheet);
    // Several ranges at once are answered with the whole file.
    let response = ranged("bytes=0-1,5-9", None).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().len(), len);
    // A stranger gets no part of it either.
    let stranger_part = g
        .server
        .client
        .get(g.server.url(&lesson.path(&format!("/{}", kept[0]))))
        .bearer_auth(&colleague)
        .header("range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(stranger_part.status(), 403);
    // The lesson's own JSON lists them, oldest first.
    let (_, view) = g
        .call(
            &author,
            Method::GET,
            &format!("/api/library/lessons/{}", lesson.id),
            None,
        )
        .await;
    let names: Vec<&str> = view["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["file_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "学习任务单.pdf",
            "检测习题 第1课.docx",
            "课件.pptx",
            "板书.png",
            "满.pdf"
        ]
    );

    // A draft is its author's: others are refused as on the lesson itself.
    for stranger in [&colleague, &partner] {
        let (lesson_status, _) = g
            .call(
                stranger,
                Method::GET,
                &format!("/api/library/lessons/{}", lesson.id),
                None,
            )
            .await;
        assert_eq!(lesson_status, 403);
        let (status, _) = g.call(stranger, Method::GET, &lesson.path(""), None).await;
        assert_eq!(status, lesson_status);
        let response = lesson.download(stranger, &kept[0]).await;
        assert_eq!(response.status().as_u16(), lesson_status);
        let (status, _) = lesson.attach(stranger, "other", "x.pdf", pdf()).await;
        assert_eq!(status, 403);
        let (status, _) = g
            .call(
                stranger,
                Method::DELETE,
                &lesson.path(&format!("/{}", kept[0])),
                None,
            )
            .await;
        assert_eq!(status, 403);
    }
    assert_eq!((lesson.rows(), lesson.objects().len()), (5, 5));

    // Deleting one removes its row and its object.
    let (status, _) = g
        .call(
            &author,
            Method::DELETE,
            &lesson.path(&format!("/{}", kept[3])),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!((lesson.rows(), lesson.objects().len()), (4, 4));
    assert!(!lesson.objects().contains(&kept[3]));
    assert_eq!(lesson.download(&author, &kept[3]).await.status(), 404);

    // Published for its school: the colleague now downloads it, the partner
    // school still may not; and the author changes nothing any more.
    let group = g
        .person("math_group", &g.main, teaching_group(&[&math]))
        .await;
    let school = g.person("school_rev", &g.main, reviewer("school")).await;
    let center = g
        .person("center_rev", &g.sister, reviewer("resource_center"))
        .await;
    g.publish(&author, [&group, &school, &center], &lesson.id)
        .await;
    let response = lesson.download(&colleague, &kept[0]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().to_vec(), pdf());
    assert_eq!(lesson.download(&partner, &kept[0]).await.status(), 403);
    let (status, refused) = lesson.attach(&author, "other", "晚了.pdf", pdf()).await;
    assert_eq!(
        (status, refused["error"]["code"].clone()),
        (409, json!("lesson_not_editable"))
    );
    let (status, _) = g
        .call(
            &author,
            Method::DELETE,
            &lesson.path(&format!("/{}", kept[0])),
            None,
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!((lesson.rows(), lesson.objects().len()), (4, 4));

    // Each addition and removal is in the audit log.
    let audited = psql(
        &g.server,
        "SELECT action, count(*) FROM audit_log WHERE action LIKE 'lesson_attachment_%' \
         GROUP BY action ORDER BY action",
    );
    assert_eq!(
        audited,
        "lesson_attachment_added|5\nlesson_attachment_removed|1"
    );
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

//! The library's way in, end to end: a teacher uploads a video with
//! tus-js-client, makes it a draft lesson's video, the server's worker
//! transcodes it, and the lesson plays through its own HLS route — every
//! rendition, every segment decoded — for whoever may see the lesson, and
//! for nobody else. A second video replaces the first without mixing the
//! two ladders; the rules around it answer clearly.

mod common;

use std::time::Duration;

use common::jobs::{fast_jobs_env, objects};
use common::lesson_media::{attach, draft, file, play, upload_id, wait_media};
use common::uploads::{self, last, teacher_of};
use common::{ServerOptions, TestServer};

fn names_under(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn an_uploaded_video_becomes_a_playable_lesson() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        env: fast_jobs_env(true),
        ..Default::default()
    })
    .await;
    let teacher = uploads::teacher(&server, "wang").await;
    let root = common::accounts::api_token(&server, "root", common::accounts::PASSWORD).await;
    let other_school = common::accounts::school(&server, &root, "山区小学", "partner").await;
    let stranger = teacher_of(&server, &root, &other_school, "li").await;

    let work = tempfile::tempdir().unwrap();
    let video = work.path().join("分数的加减法.mp4");
    uploads::video(&video, 6.0, "1280x720", false);
    let events = uploads::tus_upload(&server, &teacher, &video, &[]);
    assert!(last(&events, "success").is_some(), "{events:?}");
    let upload = upload_id(&events);
    let lesson = draft(&server, &teacher, "认识分数的加减法").await;

    // Nothing to play before a video is attached.
    assert_eq!(file(&server, &teacher, &lesson, "master.m3u8").await.0, 404);
    // Someone else's upload is no upload of yours.
    let (status, body) = attach(&server, &stranger, &lesson, &upload).await;
    assert_eq!(status, 403, "{body}");
    let stranger_lesson = draft(&server, &stranger, "别人的课").await;
    let (status, body) = attach(&server, &stranger, &stranger_lesson, &upload).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["fields"]["upload_id"]
            .as_str()
            .unwrap()
            .contains("上传"),
        "{body}"
    );

    let (status, attached) = attach(&server, &teacher, &lesson, &upload).await;
    assert_eq!(status, 202, "{attached}");
    assert_eq!(attached["media"]["state"], "processing", "{attached}");
    assert_eq!(attached["upload_id"], upload.as_str());
    assert!((attached["media"]["duration_seconds"].as_f64().unwrap() - 6.0).abs() < 0.2);
    // A second video while the first is being made: refused, not mixed.
    let (status, body) = attach(&server, &teacher, &lesson, &upload).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "media_processing", "{body}");
    assert_eq!(file(&server, &teacher, &lesson, "master.m3u8").await.0, 404);

    let (_, media) = wait_media(&server, &teacher, &lesson, Duration::from_secs(180)).await;
    assert_eq!(media["state"], "ready", "{media}\n{}", server.logs());
    let playlist = media["playlist"].as_str().unwrap();
    assert_eq!(
        playlist,
        format!("/api/library/lessons/{lesson}/hls/master.m3u8")
    );

    // 720p input: 720p, 360p and audio only, each the whole 6 s, decoding.
    let played = play(&server, &teacher, &lesson).await;
    let names: Vec<&str> = played.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["720", "360", "audio"]);
    for (name, seconds) in &played {
        assert!((seconds - 6.0).abs() < 0.5, "{name}: {seconds} s of 6");
    }

    // The poster and the seek-preview track are served beside the ladder.
    let poster = media["poster"].as_str().unwrap();
    assert!(poster.ends_with("/hls/poster.jpg"), "{media}");
    let (status, jpeg) = file(&server, &teacher, &lesson, "poster.jpg").await;
    assert_eq!(status, 200);
    assert_eq!(&jpeg[..2], b"\xff\xd8", "a JPEG");
    let (status, vtt) = file(&server, &teacher, &lesson, "preview/thumbnails.vtt").await;
    assert_eq!(status, 200);
    assert!(
        String::from_utf8(vtt)
            .unwrap()
            .contains("sprite.jpg#xywh=0,0,")
    );
    assert_eq!(
        file(&server, &teacher, &lesson, "preview/sprite.jpg")
            .await
            .0,
        200
    );

    // A draft is its author's: another school's teacher sees none of it,
    // and a path outside the ladder is nothing.
    assert_eq!(
        file(&server, &stranger, &lesson, "master.m3u8").await.0,
        403
    );
    for bad in [
        "720/../../../uploads",
        "..%2F..%2Fsecret.ts",
        "720/nope.ts",
        "x.exe",
    ] {
        let (status, _) = file(&server, &teacher, &lesson, bad).await;
        assert!(status == 404 || status == 400, "{bad}: {status}");
    }

    // A second video replaces the first: a new ladder under a new key, the
    // old one deleted, never two at once.
    let lesson_dir = objects(&server).join("lessons").join(&lesson);
    let before = names_under(&lesson_dir);
    assert_eq!(before.len(), 1, "{before:?}");
    let second = work.path().join("second.mp4");
    uploads::video(&second, 4.0, "640x360", false);
    let events = uploads::tus_upload(&server, &teacher, &second, &[]);
    let (status, body) = attach(&server, &teacher, &lesson, &upload_id(&events)).await;
    assert_eq!(status, 202, "{body}");
    let (_, media) = wait_media(&server, &teacher, &lesson, Duration::from_secs(180)).await;
    assert_eq!(media["state"], "ready", "{media}");
    let played = play(&server, &teacher, &lesson).await;
    let names: Vec<&str> = played.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["360", "audio"]);
    assert!((played[0].1 - 4.0).abs() < 0.5, "{played:?}");
    let after = names_under(&lesson_dir);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, before);
}

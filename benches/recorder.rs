//! Recorder cost over a two-hour lesson: 3,600 two-second segments of
//! each of three renditions (a passthrough source, 720p, 360p) fed through
//! the production recorder as fast as it takes them, in batches of 100
//! per rendition with a flush after each, so every batch is timed to disk.
//! A recorder whose cost grows with the lesson (rewriting every playlist
//! per segment) shows it as a rising time per segment; this one must stay
//! flat from the first batch to the last.
//!
//! Real disk (the target folder) with fsync, real PostgreSQL for the
//! ledger's progress rows (`DATABASE_URL`'s server, a database of its own).
//!
//!     cargo bench --bench recorder [-- SEGMENTS]

use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use classcast::catalog::ledger::{Ledger, Write};
use classcast::hls::playlist::{SegmentEntry, Variant};
use classcast::recording::{self, RecorderMsg, RecordingMeta};
use uuid::Uuid;

const BATCH: usize = 100;
/// Sizes of 2-second segments at the default ladder's bitrates, scaled down
/// 16x: the cost measured is the recorder's per segment, not the disk's
/// bandwidth, which a real lesson's sizes would measure instead.
const RENDITIONS: [(&str, u32, u32, usize); 3] = [
    ("source", 1920, 1080, 80_000),
    ("720p", 1280, 720, 36_000),
    ("360p", 640, 360, 9_000),
];

#[tokio::main]
async fn main() {
    let segments: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3600);
    let admin_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://classcast:classcast@127.0.0.1:5432/postgres".into());
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(b, _)| b);
    let name = format!("classcast_bench_recorder_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&format!("{base}/postgres"))
        .await
        .expect("PostgreSQL (make db)");
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&admin)
        .await
        .unwrap();
    let db = sqlx::PgPool::connect(&format!("{base}/{name}"))
        .await
        .unwrap();
    sqlx::migrate!("./migrations").run(&db).await.unwrap();

    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let ledger = Ledger::start(db.clone());
    let (school, classroom, lesson, id) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    let started_at = Utc::now();
    sqlx::query("INSERT INTO schools (id, name) VALUES ($1, 'bench')")
        .bind(school)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("INSERT INTO classrooms (id, school_id, name) VALUES ($1, $2, 'bench')")
        .bind(classroom)
        .bind(school)
        .execute(&db)
        .await
        .unwrap();
    ledger.write(Write::LessonStarted {
        id: lesson,
        classroom_id: classroom,
        source_id: None,
        started_at,
        node: "bench".into(),
    });
    ledger.write(Write::RecordingStarted {
        id,
        classroom_id: classroom,
        lesson_id: lesson,
        started_at,
        rolling: false,
        title: Some("two-hour lesson".into()),
    });
    let meta = RecordingMeta {
        id,
        classroom_id: classroom,
        lesson_id: lesson,
        started_at,
        rolling: false,
        title: Some("two-hour lesson".into()),
        node: "bench".into(),
    };
    let recorder = recording::start(
        ledger.clone(),
        root.path(),
        meta,
        None,
        Duration::from_secs(2),
    );
    let payloads: Vec<Bytes> = RENDITIONS
        .iter()
        .map(|(_, _, _, size)| Bytes::from(vec![0x42u8; *size]))
        .collect();
    for (name, ..) in RENDITIONS {
        recorder.send(RecorderMsg::Init {
            rendition: name.to_string(),
            init: 1,
            data: Bytes::from_static(b"ftypmoov"),
        });
    }

    let mut per_segment = Vec::new();
    let mut sequence = 0u64;
    let total = Instant::now();
    while (sequence as usize) < segments {
        let batch = Instant::now();
        for _ in 0..BATCH.min(segments - sequence as usize) {
            for (rank, (name, width, height, _)) in RENDITIONS.iter().enumerate() {
                recorder.send(RecorderMsg::Segment {
                    rank,
                    rendition: name.to_string(),
                    entry: SegmentEntry {
                        sequence,
                        duration: Duration::from_secs(2),
                        started_at: started_at + chrono::Duration::seconds(2 * sequence as i64),
                        init: 1,
                        discontinuity: sequence == 0,
                        slate: false,
                        size: payloads[rank].len() as u64,
                    },
                    data: payloads[rank].clone(),
                    variant: Variant {
                        name: name.to_string(),
                        width: *width,
                        height: *height,
                        bandwidth: payloads[rank].len() as u64 * 4,
                        codecs: "avc1.640028,mp4a.40.2".into(),
                        frame_rate: Some(25.0),
                    },
                });
            }
            sequence += 1;
        }
        recorder.flush().await;
        let segments_in_batch = (sequence as usize - 1) % BATCH + 1;
        per_segment.push(batch.elapsed().as_secs_f64() * 1000.0 / segments_in_batch as f64);
    }
    let finished = recorder.finish(
        classcast::catalog::recordings::RecordingStatus::Complete,
        Utc::now(),
        false,
    );
    let _ = finished.await;
    assert!(
        ledger.flush(Duration::from_secs(30)).await,
        "ledger drained"
    );
    let total = total.elapsed();

    let (duration_ms,): (i64,) = sqlx::query_as("SELECT duration_ms FROM recordings WHERE id = $1")
        .bind(id)
        .fetch_one(&db)
        .await
        .unwrap();
    let lines = std::fs::read_to_string(root.path().join(id.to_string()).join("source/index.m3u8"))
        .unwrap()
        .lines()
        .filter(|l| l.ends_with(".m4s"))
        .count();
    assert_eq!(lines, segments, "every segment listed");
    assert_eq!(duration_ms, segments as i64 * 2000, "catalogued length");

    let batches = per_segment.len();
    let window = (batches / 6).max(1);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let first = mean(&per_segment[..window]);
    let last = mean(&per_segment[batches - window..]);
    println!(
        "{segments} segments x {} renditions ({:.1} h of lesson) in {:.1} s",
        RENDITIONS.len(),
        segments as f64 * 2.0 / 3600.0,
        total.as_secs_f64()
    );
    println!(
        "per segment (all renditions), by batch of {BATCH}: {}",
        per_segment
            .iter()
            .map(|ms| format!("{ms:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "first {} batches {first:.2} ms/segment, last {} batches {last:.2} ms/segment: ratio {:.2}",
        window,
        window,
        last / first
    );
    drop(db);
    let _ = sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .execute(&admin)
        .await;
}

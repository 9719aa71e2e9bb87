//! What a viewer would check of an HLS stream: playlists that parse,
//! segments that decode, sound that is heard (not inserted silence), the
//! slate told apart from the camera.

use std::process::Command;

use super::TestServer;

/// Duration in seconds of a playlist as ffprobe decodes it.
pub fn ffprobe_duration(url: &str) -> f64 {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
            url,
        ])
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| {
            panic!(
                "ffprobe could not read {url}: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

/// Fetches and parses a master playlist and each media playlist, downloads
/// every listed segment with its init segment, and decodes them with
/// ffprobe. Returns the media playlist paths.
pub async fn check_hls(server: &TestServer, master_path: &str) -> Vec<String> {
    let text = server.get(master_path).await.text().await.unwrap();
    let master = m3u8_rs::parse_master_playlist_res(text.as_bytes())
        .unwrap_or_else(|e| panic!("master playlist does not parse: {e:?}\n{text}"));
    assert!(!master.variants.is_empty(), "no variants in {text}");
    let base = master_path.rsplit_once('/').unwrap().0;
    let mut paths = Vec::new();
    for variant in &master.variants {
        let path = format!("{base}/{}", variant.uri);
        let response = server.get(&path).await;
        assert_eq!(
            response.headers()["content-type"],
            "application/vnd.apple.mpegurl"
        );
        let text = response.text().await.unwrap();
        let media = m3u8_rs::parse_media_playlist_res(text.as_bytes())
            .unwrap_or_else(|e| panic!("media playlist does not parse: {e:?}\n{text}"));
        assert!(!media.segments.is_empty(), "{path} has no segments");
        let slate = slate_segments(&text);
        let dir = path.rsplit_once('/').unwrap().0;
        // Every file is fetched first, then decoded: a live playlist's
        // oldest segments leave its window while FFmpeg works, and on a
        // busy machine decoding them one by one outlasts it.
        let mut init = None;
        let mut files = Vec::new();
        for segment in &media.segments {
            if let Some(map) = &segment.map {
                init = Some(fetch(server, &format!("{dir}/{}", map.uri)).await);
            }
            let mut file = init.clone().expect("EXT-X-MAP before the first segment");
            let response = server.get(&format!("{dir}/{}", segment.uri)).await;
            assert_eq!(response.status(), 200, "{dir}/{}", segment.uri);
            assert_eq!(response.headers()["content-type"], "video/iso.segment");
            file.extend_from_slice(&response.bytes().await.unwrap());
            files.push(file);
        }
        let mut total_frames = 0;
        for (index, (segment, file)) in media.segments.iter().zip(&files).enumerate() {
            let (frames, errors) = decode_bytes(file);
            assert!(
                frames > 0 && errors.is_empty(),
                "{dir}/{} does not decode: {errors}",
                segment.uri
            );
            // Viewers hear the lesson too: every segment carries sound, and
            // the camera's segments carry its tone, not inserted silence
            // (which a dead audio path would also decode to).
            let (audio, errors) = decode_audio(file);
            assert!(
                audio > 0 && errors.is_empty(),
                "{dir}/{} has no decodable audio: {errors}",
                segment.uri
            );
            if !slate[index] {
                let level = audio_peak_db(file);
                assert!(
                    level > AUDIBLE_DB,
                    "{dir}/{} is silent ({level} dB peak): the camera's sound was lost",
                    segment.uri
                );
            }
            total_frames += frames;
        }
        assert!(total_frames > 0);
        paths.push(path);
    }
    paths
}

/// A tone is far above this; inserted silence is digital zero (-91 dB).
const AUDIBLE_DB: f64 = -50.0;

/// Which segments of a media playlist show the "signal lost" slate: from a
/// signal-lost DATERANGE up to the next discontinuity (the camera's return).
pub fn slate_segments(playlist: &str) -> Vec<bool> {
    let mut slate = false;
    let mut segments = Vec::new();
    for line in playlist.lines() {
        if line.starts_with("#EXT-X-DISCONTINUITY") && !line.contains("SEQUENCE") {
            slate = false;
        } else if line.starts_with("#EXT-X-DATERANGE") && line.contains("signal-lost") {
            slate = true;
        } else if !line.is_empty() && !line.starts_with('#') {
            segments.push(slate);
        }
    }
    segments
}

/// The loudest sample of an fMP4's audio, in dB (ffmpeg's volumedetect).
pub fn audio_peak_db(data: &[u8]) -> f64 {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), data).unwrap();
    let output = Command::new("ffmpeg")
        .args(["-v", "info", "-nostdin", "-i"])
        .arg(file.path())
        .args(["-map", "0:a:0", "-af", "volumedetect", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let log = String::from_utf8_lossy(&output.stderr);
    log.lines()
        .find_map(|l| l.split("max_volume:").nth(1))
        .and_then(|v| v.trim().trim_end_matches("dB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no volume measured:\n{log}"))
}

async fn fetch(server: &TestServer, path: &str) -> Vec<u8> {
    let response = server.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.bytes().await.unwrap().to_vec()
}

/// Decodes an fMP4 (init + fragment) completely: (video frames, errors).
pub fn decode_bytes(data: &[u8]) -> (u64, String) {
    decode_stream(data, "0:v:0")
}

/// Decodes the audio of an fMP4 completely: (audio frames, errors).
pub fn decode_audio(data: &[u8]) -> (u64, String) {
    decode_stream(data, "0:a:0")
}

fn decode_stream(data: &[u8], stream: &str) -> (u64, String) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), data).unwrap();
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(file.path())
        .args(["-map", stream, "-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg runs");
    let frames = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count() as u64;
    (frames, String::from_utf8_lossy(&output.stderr).to_string())
}

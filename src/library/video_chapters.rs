//! Chapters within a lesson's video (视频分段): the pure part. Whether a
//! list its editor sends is acceptable (`check`), and the WebVTT chapters
//! track made from one (`webvtt`). No I/O: the rows are
//! `catalog::library::video_chapters`, the routes `http::library_chapters`.
//! Not the textbook chapter (教材章节), which is a field of the lesson.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const MAX_VIDEO_CHAPTERS: usize = 50;
pub const MAX_VIDEO_CHAPTER_TITLE_CHARS: usize = 100;

/// One chapter: where it starts and what it is called.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoChapter {
    /// Seconds from the video's start, kept to the millisecond.
    pub start_seconds: f64,
    pub title: String,
}

impl VideoChapter {
    pub fn start_ms(&self) -> i64 {
        (self.start_seconds * 1000.0).round() as i64
    }

    pub fn from_ms(start_ms: i64, title: String) -> Self {
        VideoChapter {
            start_seconds: start_ms as f64 / 1000.0,
            title,
        }
    }
}

/// Why a list of chapters was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChaptersRefused {
    /// More than `MAX_VIDEO_CHAPTERS`.
    TooMany,
    /// Chapter number (from 1, as the editor lists them) → message code,
    /// for every bad chapter at once.
    Rows(BTreeMap<usize, &'static str>),
}

/// Checks a lesson's new chapters against its video's duration (None: not
/// known yet, no video) and returns them as they will be kept: titles
/// trimmed, starts rounded to the millisecond. Starts are ≥ 0, strictly
/// increasing and before the video's end; titles are not blank, at most
/// `MAX_VIDEO_CHAPTER_TITLE_CHARS` and without control characters. One
/// code per chapter: its start's problem first, as that is what moves it.
pub fn check(
    chapters: &[VideoChapter],
    duration_seconds: Option<f64>,
) -> Result<Vec<VideoChapter>, ChaptersRefused> {
    if chapters.len() > MAX_VIDEO_CHAPTERS {
        return Err(ChaptersRefused::TooMany);
    }
    let end_ms = duration_seconds.map(|d| (d * 1000.0).round() as i64);
    let mut refused = BTreeMap::new();
    let mut kept = Vec::with_capacity(chapters.len());
    let mut previous: Option<i64> = None;
    for (i, chapter) in chapters.iter().enumerate() {
        let title = chapter.title.trim();
        let start = chapter.start_ms();
        let code = if !chapter.start_seconds.is_finite() || start < 0 {
            Some("video_chapter_start_negative")
        } else if previous.is_some_and(|p| start <= p) {
            Some("video_chapter_not_after_previous")
        } else if end_ms.is_some_and(|end| start >= end) {
            Some("video_chapter_past_end")
        } else if title.is_empty() {
            Some("video_chapter_title_missing")
        } else if title.chars().count() > MAX_VIDEO_CHAPTER_TITLE_CHARS {
            Some("video_chapter_title_too_long")
        } else if title.chars().any(char::is_control) {
            Some("invalid_text")
        } else {
            None
        };
        if let Some(code) = code {
            refused.insert(i + 1, code);
        }
        // Each start is compared with the one before as sent, so one
        // misplaced chapter is the only one named.
        if chapter.start_seconds.is_finite() {
            previous = Some(start);
        }
        kept.push(VideoChapter::from_ms(start, title.to_string()));
    }
    if refused.is_empty() {
        Ok(kept)
    } else {
        Err(ChaptersRefused::Rows(refused))
    }
}

/// The chapters a viewer is shown: those starting before the video's end
/// (when known). Chapters past it were kept from before the video was
/// replaced by a shorter one; they stay stored until the editor saves.
pub fn within_video(
    chapters: Vec<VideoChapter>,
    duration_seconds: Option<f64>,
) -> Vec<VideoChapter> {
    let end_ms = duration_seconds.map(|d| (d * 1000.0).round() as i64);
    chapters
        .into_iter()
        .filter(|c| end_ms.is_none_or(|end| c.start_ms() < end))
        .collect()
}

/// A WebVTT chapters track (`<track kind="chapters">`): one cue per
/// chapter, each lasting until the next starts and the last until the
/// video's end. Chapters at or past a known end (kept from before the
/// video was replaced by a shorter one) are left out; with no known end
/// the last chapter runs to `OPEN_END_MS`, since a cue must end somewhere.
pub fn webvtt(chapters: &[VideoChapter], duration_seconds: Option<f64>) -> String {
    const OPEN_END_MS: i64 = 100 * 3600 * 1000 - 1;
    let end_ms = duration_seconds.map_or(OPEN_END_MS, |d| (d * 1000.0).round() as i64);
    let starts: Vec<i64> = chapters
        .iter()
        .map(VideoChapter::start_ms)
        .take_while(|s| *s < end_ms)
        .collect();
    let mut out = String::from("WEBVTT\n");
    for (i, (chapter, start)) in chapters.iter().zip(&starts).enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(end_ms);
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "\n{}\n{} --> {}\n{}\n",
            i + 1,
            timestamp(*start),
            timestamp(end),
            escape(&chapter.title)
        );
    }
    out
}

fn timestamp(ms: i64) -> String {
    crate::library::webvtt_time(std::time::Duration::from_millis(ms.max(0) as u64))
}

/// Cue text is markup: `&` and `<` would start an entity or a tag, and a
/// `-->` in a title would read as a timing line.
fn escape(title: &str) -> String {
    title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chapters_past_a_shorter_video_are_not_shown() {
        let chapters = vec![
            VideoChapter::from_ms(0, "导入".into()),
            VideoChapter::from_ms(60_000, "新授".into()),
            VideoChapter::from_ms(600_000, "练习".into()),
        ];
        let titles = |d| -> Vec<String> {
            within_video(chapters.clone(), d)
                .into_iter()
                .map(|c| c.title)
                .collect()
        };
        assert_eq!(titles(Some(120.0)), ["导入", "新授"]);
        assert_eq!(titles(Some(60.0)), ["导入"]);
        assert_eq!(titles(None).len(), 3);
    }

    fn at(start_seconds: f64, title: &str) -> VideoChapter {
        VideoChapter {
            start_seconds,
            title: title.into(),
        }
    }

    fn rows(result: Result<Vec<VideoChapter>, ChaptersRefused>) -> Vec<(usize, &'static str)> {
        match result {
            Err(ChaptersRefused::Rows(rows)) => rows.into_iter().collect(),
            other => panic!("not refused by row: {other:?}"),
        }
    }

    #[test]
    fn a_good_list_is_kept_trimmed_and_to_the_millisecond() {
        let kept = check(&[at(0.0, " 导入 "), at(90.0004, "新授")], Some(300.0)).unwrap();
        assert_eq!(kept, [at(0.0, "导入"), at(90.0, "新授")]);
        assert_eq!(check(&[], None).unwrap(), []);
    }

    #[test]
    fn starts_must_be_non_negative_increasing_and_before_the_end() {
        let sent = [
            at(-1.0, "负"),
            at(10.0, "一"),
            at(10.0, "同一时刻"),
            at(5.0, "倒退"),
            at(20.0, "二"),
            at(300.0, "片尾之后"),
        ];
        assert_eq!(
            rows(check(&sent, Some(300.0))),
            [
                (1, "video_chapter_start_negative"),
                (3, "video_chapter_not_after_previous"),
                (4, "video_chapter_not_after_previous"),
                (6, "video_chapter_past_end")
            ]
        );
        // With no video yet, any later start is fine.
        assert!(check(&[at(0.0, "a"), at(99999.0, "b")], None).is_ok());
        // Rounded to the same millisecond is the same instant.
        assert_eq!(
            rows(check(&[at(1.0001, "a"), at(1.0002, "b")], None)),
            [(2, "video_chapter_not_after_previous")]
        );
    }

    #[test]
    fn titles_must_be_present_short_and_plain() {
        let long = "长".repeat(MAX_VIDEO_CHAPTER_TITLE_CHARS + 1);
        let sent = [
            at(0.0, "  "),
            at(1.0, &long),
            at(2.0, "a\u{0}b"),
            at(3.0, &"长".repeat(MAX_VIDEO_CHAPTER_TITLE_CHARS)),
        ];
        assert_eq!(
            rows(check(&sent, None)),
            [
                (1, "video_chapter_title_missing"),
                (2, "video_chapter_title_too_long"),
                (3, "invalid_text")
            ]
        );
    }

    #[test]
    fn at_most_fifty() {
        let many: Vec<_> = (0..=MAX_VIDEO_CHAPTERS)
            .map(|i| at(i as f64, "段"))
            .collect();
        assert_eq!(check(&many, None), Err(ChaptersRefused::TooMany));
        assert!(check(&many[..MAX_VIDEO_CHAPTERS], None).is_ok());
    }

    #[test]
    fn the_track_has_one_cue_per_chapter_ending_where_the_next_starts() {
        let track = webvtt(
            &[
                at(0.0, "导入"),
                at(90.5, "新授 <例题> & 练习"),
                at(3725.0, "小结"),
            ],
            Some(3800.25),
        );
        assert_eq!(
            track,
            "WEBVTT\n\
             \n1\n00:00:00.000 --> 00:01:30.500\n导入\n\
             \n2\n00:01:30.500 --> 01:02:05.000\n新授 &lt;例题&gt; &amp; 练习\n\
             \n3\n01:02:05.000 --> 01:03:20.250\n小结\n"
        );
    }

    #[test]
    fn the_track_leaves_out_chapters_past_the_end_and_is_open_without_one() {
        let chapters = [at(0.0, "a"), at(50.0, "b"), at(70.0, "c")];
        assert_eq!(
            webvtt(&chapters, Some(60.0)),
            "WEBVTT\n\n1\n00:00:00.000 --> 00:00:50.000\na\n\n2\n00:00:50.000 --> 00:01:00.000\nb\n"
        );
        assert!(webvtt(&chapters[..1], None).contains("00:00:00.000 --> 99:59:59.999"));
        assert_eq!(webvtt(&[], Some(10.0)), "WEBVTT\n");
    }
}

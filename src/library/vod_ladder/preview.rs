//! What a player shows before and while seeking: a poster picture, and a
//! sprite of small pictures every few seconds with a WebVTT thumbnails
//! track (`#xywh=` cues) pointing into it, the convention video.js,
//! Shaka, Plyr and JW Player read. Pure: frames come in as RGB, images and
//! text go out; GStreamer grabs the frames and encodes the JPEGs.

use crate::library::webvtt_time;
use std::time::Duration;

/// Size of the grabbed frames (height; width keeps the aspect ratio) and
/// of the poster made from one of them.
pub const FRAME_HEIGHT: u32 = 180;
/// Sprite tiles are the frames halved.
pub const TILE_SCALE: u32 = 2;
/// Tiles per sprite row.
pub const COLUMNS: u32 = 10;
/// At most this many tiles: long lessons get a wider interval instead.
pub const MAX_TILES: u64 = 200;
/// Seconds between tiles for short lessons.
pub const MIN_INTERVAL_SECONDS: u64 = 5;

pub const POSTER: &str = "poster.jpg";
pub const SPRITE: &str = "preview/sprite.jpg";
pub const THUMBNAILS: &str = "preview/thumbnails.vtt";

/// Seconds between preview frames for a lesson of `duration`.
pub fn interval(duration: Duration) -> u64 {
    MIN_INTERVAL_SECONDS.max(duration.as_secs().div_ceil(MAX_TILES))
}

/// Frame width for a video of `width`×`height`: even, aspect kept.
pub fn frame_width(width: u32, height: u32) -> u32 {
    let w = (u64::from(width) * u64::from(FRAME_HEIGHT) / u64::from(height.max(1))) as u32;
    ((w + 1) & !1).clamp(2, 4 * FRAME_HEIGHT)
}

/// An RGB picture, rows top to bottom, 3 bytes a pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct Rgb {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl Rgb {
    pub fn blank(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            data: vec![0; (width * height * 3) as usize],
        }
    }

    /// Each `factor`×`factor` block averaged into one pixel.
    pub fn shrink(&self, factor: u32) -> Rgb {
        let (w, h) = (self.width / factor, self.height / factor);
        let mut out = Rgb::blank(w, h);
        let area = factor * factor;
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    let mut sum = 0u32;
                    for dy in 0..factor {
                        for dx in 0..factor {
                            let (sx, sy) = (x * factor + dx, y * factor + dy);
                            sum += u32::from(self.data[((sy * self.width + sx) * 3 + c) as usize]);
                        }
                    }
                    out.data[((y * w + x) * 3 + c) as usize] = (sum / area) as u8;
                }
            }
        }
        out
    }

    fn paste(&mut self, tile: &Rgb, left: u32, top: u32) {
        for y in 0..tile.height {
            let from = (y * tile.width * 3) as usize;
            let to = (((top + y) * self.width + left) * 3) as usize;
            let row = (tile.width * 3) as usize;
            self.data[to..to + row].copy_from_slice(&tile.data[from..from + row]);
        }
    }
}

/// A frame grabbed at `at` into the lesson.
#[derive(Debug, Clone)]
pub struct Frame {
    pub at: Duration,
    pub picture: Rgb,
}

/// The sprite (tiles left to right, top to bottom) and its WebVTT track,
/// whose cues name the sprite by `sprite_name` (relative to the track).
pub fn sprite(frames: &[Frame], duration: Duration, sprite_name: &str) -> Option<(Rgb, String)> {
    let first = frames.first()?;
    let tile_w = first.picture.width / TILE_SCALE;
    let tile_h = first.picture.height / TILE_SCALE;
    let count = frames.len() as u32;
    let columns = count.min(COLUMNS);
    let rows = count.div_ceil(COLUMNS);
    let mut sheet = Rgb::blank(columns * tile_w, rows * tile_h);
    let mut vtt = String::from("WEBVTT\n");
    for (i, frame) in frames.iter().enumerate() {
        let i = i as u32;
        let (x, y) = ((i % COLUMNS) * tile_w, (i / COLUMNS) * tile_h);
        let tile = frame.picture.shrink(TILE_SCALE);
        if tile.width == tile_w && tile.height == tile_h {
            sheet.paste(&tile, x, y);
        }
        let end = frames
            .get(i as usize + 1)
            .map_or(duration.max(frame.at), |next| next.at);
        vtt.push_str(&format!(
            "\n{} --> {}\n{sprite_name}#xywh={x},{y},{tile_w},{tile_h}\n",
            webvtt_time(frame.at),
            webvtt_time(end)
        ));
    }
    Some((sheet, vtt))
}

/// The poster: the frame a tenth of the way in (past titles and black
/// openings), or the last one of a very short lesson.
pub fn poster(frames: &[Frame], duration: Duration) -> Option<&Frame> {
    let wanted = duration / 10;
    frames
        .iter()
        .find(|f| f.at >= wanted)
        .or_else(|| frames.last())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(at: u64, value: u8) -> Frame {
        Frame {
            at: Duration::from_secs(at),
            picture: Rgb {
                width: 4,
                height: 2,
                data: vec![value; 4 * 2 * 3],
            },
        }
    }

    #[test]
    fn long_lessons_get_fewer_frames_per_minute() {
        assert_eq!(interval(Duration::from_secs(60)), 5);
        assert_eq!(interval(Duration::from_secs(600)), 5);
        assert_eq!(interval(Duration::from_secs(7200)), 36);
        assert_eq!(frame_width(1920, 1080), 320);
        assert_eq!(frame_width(1080, 1920), 102);
    }

    #[test]
    fn the_track_points_each_cue_at_its_tile() {
        let frames: Vec<Frame> = (0..12).map(|i| frame(i * 5, i as u8 * 10)).collect();
        let (sheet, vtt) = sprite(&frames, Duration::from_millis(58_500), "sprite.jpg").unwrap();
        // 10 tiles of 2×1 a row, two rows.
        assert_eq!((sheet.width, sheet.height), (20, 2));
        assert!(
            vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:05.000\nsprite.jpg#xywh=0,0,2,1\n")
        );
        assert!(vtt.contains("00:00:50.000 --> 00:00:55.000\nsprite.jpg#xywh=0,1,2,1\n"));
        assert!(vtt.ends_with("00:00:55.000 --> 00:00:58.500\nsprite.jpg#xywh=2,1,2,1\n"));
        // The 12th tile (value 110) sits at column 1 of row 1.
        assert_eq!(sheet.data[((20 + 2) * 3) as usize], 110);
    }

    #[test]
    fn shrinking_averages_blocks() {
        let picture = Rgb {
            width: 2,
            height: 2,
            data: vec![0, 0, 0, 100, 100, 100, 200, 200, 200, 100, 100, 100],
        };
        assert_eq!(picture.shrink(2).data, vec![100, 100, 100]);
    }

    #[test]
    fn the_poster_is_a_tenth_of_the_way_in() {
        let frames: Vec<Frame> = (0..12).map(|i| frame(i * 5, 0)).collect();
        assert_eq!(
            poster(&frames, Duration::from_secs(60)).unwrap().at,
            Duration::from_secs(10)
        );
        assert_eq!(
            poster(&frames[..1], Duration::from_secs(2)).unwrap().at,
            Duration::ZERO
        );
        assert!(poster(&[], Duration::from_secs(2)).is_none());
    }
}

// Chapters within a lesson's video (视频分段), as the page and the edit
// dialog handle them: times written the way teachers write them (1:30,
// 1:02:03, or plain seconds), and which chapter a moment of the video is
// in. The server checks the list again (library::video_chapters).

import { formatDuration } from '../composables/format.js';

/** "1:30", "1:02:03", "0:01.5" or "90" → seconds; null when it is none of those. */
export function parseChapterTime(text) {
  const parts = String(text ?? '').trim().split(':');
  if (parts.length > 3 || parts.some((p) => !/^\d+(\.\d+)?$/.test(p))) return null;
  // Only the last part (seconds) may have a fraction, and under an hour's
  // parts each is below 60.
  if (parts.slice(0, -1).some((p) => p.includes('.'))) return null;
  if (parts.length > 1 && parts.slice(1).some((p) => Number(p) >= 60)) return null;
  return parts.reduce((total, p) => total * 60 + Number(p), 0);
}

/** 90.5 → "01:30.5"; 3723 → "1:02:03": the UI's durations (formatDuration)
 * with the fraction a chapter may have; what parseChapterTime reads back. */
export function formatChapterTime(seconds) {
  // Whole milliseconds first, so a fraction never rounds up to 1000.
  const ms = Math.round(Math.max(0, Number(seconds) || 0) * 1000);
  const fraction = ms % 1000;
  const tail = fraction ? `.${String(fraction).padStart(3, '0').replace(/0+$/, '')}` : '';
  return `${formatDuration(ms)}${tail}`;
}

/** The index of the chapter playing at `time` (the last one started), or -1 before the first. */
export function chapterAt(chapters, time) {
  let at = -1;
  chapters.forEach((c, i) => {
    if (c.start_seconds <= time + 0.001) at = i;
  });
  return at;
}

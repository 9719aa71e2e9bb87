-- Chapters within a lesson's video (视频分段): where each part starts and
-- what it is called, shown beside the player and served as a WebVTT
-- chapters track. Not the textbook chapter (教材章节, micro_lessons.chapter),
-- which says where in the book the lesson belongs.
--
-- Plain rows, one per chapter, ordered by their start: the track is made
-- from them on each request, so every server node sharing this database
-- serves the same chapters and nothing is cached on one machine. A save
-- replaces a lesson's chapters in one transaction holding the lesson's
-- row lock, so two nodes saving at once leave one whole list, never a mix.
CREATE TABLE lesson_video_chapters (
    lesson_id uuid NOT NULL REFERENCES micro_lessons(id) ON DELETE CASCADE,
    -- Milliseconds from the video's start: exact where seconds as floats
    -- are not, and what WebVTT timestamps are written in. Strictly
    -- increasing per lesson (checked in Rust with field names; the key
    -- makes two chapters at one instant impossible here as well).
    start_ms  integer NOT NULL CHECK (start_ms >= 0),
    -- Validated in Rust (trimmed, no control characters); bounded here too.
    title     text NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
    PRIMARY KEY (lesson_id, start_ms)
);

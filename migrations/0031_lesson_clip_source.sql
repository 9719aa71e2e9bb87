-- A micro-lesson cut from a classroom recording (剪辑微课) remembers where
-- it came from: the recording and the span, seconds on its timeline. The
-- link goes when the recording is deleted; the span stays, so the lesson
-- still says it was cut (and that its video has a picture).
ALTER TABLE micro_lessons
    ADD COLUMN source_recording_id uuid REFERENCES recordings(id) ON DELETE SET NULL,
    ADD COLUMN source_start_seconds double precision,
    ADD COLUMN source_end_seconds double precision,
    ADD CONSTRAINT micro_lessons_source_span CHECK (
        (source_start_seconds IS NULL) = (source_end_seconds IS NULL)
        AND (source_start_seconds IS NULL OR source_start_seconds < source_end_seconds));

-- A lesson's video: the upload it is made from, and the job that turns it
-- into an HLS ladder under media_key in the media store (shared by every
-- node). The ladder is served only once that job has succeeded, so a
-- half-made or replaced ladder is never seen; what the job is doing
-- (queued, running at some percent, failed with a reason) is read from the
-- job itself, never copied here. media_state was never written: it goes.
ALTER TABLE micro_lessons DROP COLUMN media_state;
ALTER TABLE micro_lessons
    ADD COLUMN media_job_id uuid REFERENCES jobs(id) ON DELETE SET NULL,
    ADD COLUMN media_key text CHECK (media_key IS NULL OR length(media_key) <= 300),
    ADD COLUMN duration_seconds double precision CHECK (duration_seconds IS NULL OR duration_seconds >= 0);
-- The upload a lesson was made from is kept as long as the lesson is.
ALTER TABLE micro_lessons
    ADD CONSTRAINT micro_lessons_upload FOREIGN KEY (upload_id) REFERENCES uploads(id) ON DELETE SET NULL;
CREATE INDEX micro_lessons_media_job ON micro_lessons (media_job_id) WHERE media_job_id IS NOT NULL;

-- A micro-lesson's attachments: its learning task sheet (学习任务单),
-- slides, practice questions (检测习题) and other files. The bytes live in
-- the media store under storage_key (shared by every node, local directory
-- or S3), never at a path on one machine; this row is what makes an object
-- an attachment. The row is written only after the object is complete and
-- its type known, so a refused upload leaves neither.
CREATE TABLE lesson_attachments (
    id           uuid PRIMARY KEY,
    lesson_id    uuid NOT NULL REFERENCES micro_lessons(id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('task_sheet', 'slides', 'exercises', 'other')),
    -- As the uploader's computer named it, shown and offered on download.
    -- Validated in Rust (no control characters); bounded here as well.
    file_name    text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 200),
    -- What the bytes are (sniffed from their magic numbers), never what
    -- the client claimed: the download is served with it.
    content_type text NOT NULL CHECK (length(content_type) <= 100),
    byte_size    bigint NOT NULL CHECK (byte_size > 0),
    storage_key  text NOT NULL UNIQUE CHECK (length(storage_key) <= 300),
    uploaded_by  uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
-- The lesson page lists a lesson's attachments, oldest first.
CREATE INDEX lesson_attachments_lesson ON lesson_attachments (lesson_id, created_at);

-- Resumable uploads (tus 1.0) of lesson videos. The state is here, not in
-- a node's memory, so any node sharing this database and the object
-- storage can take the next chunk: each chunk is its own object
-- (upload_parts), the row holds how far the upload has come, and the parts
-- are joined into one object when the last byte is in.
CREATE TABLE uploads (
    id          uuid PRIMARY KEY,
    -- Deleting a person deletes their uploads' rows; their objects go with
    -- the next sweep of the storage prefix (see library::uploads).
    owner_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    length      bigint NOT NULL CHECK (length >= 0),
    -- Bytes stored so far: tus's Upload-Offset ("offset" is an SQL word).
    received    bigint NOT NULL DEFAULT 0 CHECK (received >= 0 AND received <= length),
    -- Upload-Metadata as sent (filename, filetype, ...).
    metadata    jsonb NOT NULL DEFAULT '{}',
    state       text NOT NULL DEFAULT 'receiving' CHECK (state IN ('receiving', 'complete')),
    -- The whole file, once complete and accepted by the probe.
    media_key   text,
    -- What FFmpeg found (container, streams, duration, ...), for the step
    -- that makes a micro-lesson of it.
    probe       jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- An unfinished upload nobody adds to until then is deleted.
    expires_at  timestamptz NOT NULL,
    completed_at timestamptz,
    CHECK ((state = 'complete') = (media_key IS NOT NULL AND probe IS NOT NULL))
);
CREATE INDEX uploads_unfinished_by_owner ON uploads (owner_id) WHERE state = 'receiving';
CREATE INDEX uploads_expiry ON uploads (expires_at) WHERE state = 'receiving';

-- One row per stored chunk. A part's object key carries a random suffix,
-- so two nodes racing on one offset never overwrite each other: the one
-- whose row commits first wins, the other deletes its object.
CREATE TABLE upload_parts (
    upload_id  uuid NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    start      bigint NOT NULL CHECK (start >= 0),
    length     bigint NOT NULL CHECK (length > 0),
    object_key text NOT NULL,
    PRIMARY KEY (upload_id, start)
);

-- Revocable playback. A playback token is checked without the database,
-- so it carries the revocation epochs of its viewer and of its classroom
-- (or recording) as they were when it was issued. Whenever someone's
-- access shrinks (disabled, deleted, roles or school changed, password
-- reset) or a classroom's audience loses a school, the subject's epoch goes
-- up here, NOTIFY tells every node at once, and tokens with an older epoch
-- stop working. Rows stay after a user is deleted: that is the point.
CREATE TABLE playback_revocations (
    subject    uuid PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('user', 'classroom', 'recording')),
    epoch      integer NOT NULL DEFAULT 1 CHECK (epoch > 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Background jobs (transcoding a micro-lesson, and later thumbnails,
-- sprites, cuts): one row per job, shared by every node. A worker claims a
-- row with FOR UPDATE SKIP LOCKED and holds it by a lease it renews with
-- heartbeats; a worker that dies stops renewing, its lease runs out, and
-- another worker claims the job again (counting an attempt). Progress lives
-- in the row itself so the API reads one row to show it.
CREATE TABLE jobs (
    id               uuid PRIMARY KEY,
    kind             text NOT NULL CHECK (length(kind) BETWEEN 1 AND 64),
    payload          jsonb NOT NULL DEFAULT '{}',
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    -- Claims so far, including the running one; a job is given up when a
    -- failure (or an expired lease) happens at max_attempts.
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    -- A queued job is not claimed before this (retry backoff).
    run_at           timestamptz NOT NULL DEFAULT now(),
    -- Held while running: the instant the claim ends unless renewed. Times
    -- are the database's clock, the one clock every node shares.
    lease_until      timestamptz,
    -- The worker (node name, pid and a random part) holding the job, or
    -- that last held it: kept after the end, to tell who ran it.
    worker           text,
    heartbeat_at     timestamptz,
    progress_percent real NOT NULL DEFAULT 0 CHECK (progress_percent BETWEEN 0 AND 100),
    step             text,
    -- Why the last attempt failed (kept while it is retried, for the UI).
    error            text,
    created_by       uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    CHECK ((state = 'running') = (lease_until IS NOT NULL)),
    CHECK (state <> 'running' OR worker IS NOT NULL)
);
-- What claiming scans: queued jobs by when they become eligible, and
-- running jobs by when their lease runs out. Finished jobs are in neither.
CREATE INDEX jobs_queued ON jobs (run_at) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_until) WHERE state = 'running';
-- "My jobs" and the admin list, newest first.
CREATE INDEX jobs_created_by ON jobs (created_by, created_at DESC);
CREATE INDEX jobs_created_at ON jobs (created_at DESC);

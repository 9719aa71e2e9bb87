-- Schools, classrooms, their feeds, live sessions and recordings.
--
-- Ids are UUIDs so several classcast nodes sharing one PostgreSQL can create
-- rows without coordinating, and so ids in URLs cannot be enumerated.
-- Accounts (issue: access control) and the micro-lesson library come in later
-- migrations; they hang off schools(id) and recordings(id).

-- A school group, its campuses and its partner schools form one tree:
-- a campus has the group as parent; partner schools have no parent and are
-- linked to the lessons they are invited to, not to the group.
CREATE TYPE school_kind AS ENUM ('group', 'campus', 'partner');

CREATE TABLE schools (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(btrim(name)) > 0),
    kind        school_kind NOT NULL DEFAULT 'campus',
    parent_id   uuid REFERENCES schools(id) ON DELETE RESTRICT,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE classrooms (
    id              uuid PRIMARY KEY,
    school_id       uuid NOT NULL REFERENCES schools(id) ON DELETE RESTRICT,
    name            text NOT NULL CHECK (length(btrim(name)) > 0),
    -- Recording is on unless a school turns it off for a room.
    recording_enabled boolean NOT NULL DEFAULT true,
    -- NULL keeps every recording whole; a number keeps a rolling window of
    -- that many seconds (the demo classroom, or rooms used only for live).
    recording_window_seconds integer CHECK (recording_window_seconds > 0),
    -- Heights of the transcoded renditions, e.g. {720,360}. The camera's own
    -- H.264 is always offered on top when browsers can play it.
    ladder_heights  integer[] NOT NULL DEFAULT '{720,360}',
    -- Seconds of "signal lost" slate before the lesson ends; NULL = server default.
    grace_seconds   integer CHECK (grace_seconds >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (school_id, name)
);

-- How a feed reaches us. 'rtsp' is pulled from an IP camera; 'rtmp' and 'srt'
-- are pushed by encoders with a stream key; 'test' is a generated pattern.
CREATE TYPE source_kind AS ENUM ('rtsp', 'rtmp', 'srt', 'test');
-- What the feed shows, for multi-camera rooms.
CREATE TYPE source_role AS ENUM ('teacher', 'students', 'blackboard', 'screen', 'other');

CREATE TABLE sources (
    id           uuid PRIMARY KEY,
    classroom_id uuid NOT NULL REFERENCES classrooms(id) ON DELETE CASCADE,
    kind         source_kind NOT NULL,
    role         source_role NOT NULL DEFAULT 'teacher',
    name         text NOT NULL DEFAULT '',
    -- Only for 'rtsp'. Credentials are kept apart from the URL so the URL can
    -- be shown in the UI and logs without leaking them.
    url          text,
    username     text,
    password     text,
    -- Only for pushed kinds. Random, unique across all classrooms; rotating it
    -- replaces the value and disconnects the old publisher.
    stream_key   text UNIQUE,
    enabled      boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'rtsp') = (url IS NOT NULL)),
    CHECK ((kind IN ('rtmp', 'srt')) = (stream_key IS NOT NULL))
);
CREATE INDEX sources_classroom ON sources (classroom_id);

-- One row per lesson as it went live: from the first frame to the end of the
-- grace period after the feed stopped (or to shutdown).
CREATE TABLE live_sessions (
    id           uuid PRIMARY KEY,
    classroom_id uuid NOT NULL REFERENCES classrooms(id) ON DELETE CASCADE,
    source_id    uuid REFERENCES sources(id) ON DELETE SET NULL,
    node         text NOT NULL DEFAULT '',
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    end_reason   text
);
CREATE INDEX live_sessions_classroom ON live_sessions (classroom_id, started_at DESC);
-- At most one open session per classroom, whichever node runs it.
CREATE UNIQUE INDEX live_sessions_one_open ON live_sessions (classroom_id) WHERE ended_at IS NULL;

CREATE TYPE recording_status AS ENUM ('recording', 'complete', 'interrupted');

-- A recording is the lesson's HLS renditions kept on disk (or in object
-- storage later): fMP4 segments plus playlists under media_dir/recordings/{id}.
-- 'interrupted' means the server died mid-lesson; what was written is kept
-- and playable.
CREATE TABLE recordings (
    id              uuid PRIMARY KEY,
    classroom_id    uuid NOT NULL REFERENCES classrooms(id) ON DELETE CASCADE,
    live_session_id uuid REFERENCES live_sessions(id) ON DELETE SET NULL,
    status          recording_status NOT NULL DEFAULT 'recording',
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    duration_ms     bigint NOT NULL DEFAULT 0,
    size_bytes      bigint NOT NULL DEFAULT 0,
    -- [{"name": "source", "width": 1920, "height": 1080, "bandwidth": ..., "codecs": "..."}]
    renditions      jsonb NOT NULL DEFAULT '[]',
    -- true for rolling-window recordings, which keep only recent segments.
    rolling         boolean NOT NULL DEFAULT false,
    title           text NOT NULL DEFAULT ''
);
CREATE INDEX recordings_classroom ON recordings (classroom_id, started_at DESC);

-- Stretches of a recording where the feed was lost and the slate was shown.
-- Offsets are from the start of the recording so players can mark them.
CREATE TABLE recording_gaps (
    recording_id uuid NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    offset_ms    bigint NOT NULL,
    duration_ms  bigint,
    reason       text NOT NULL DEFAULT 'signal_lost',
    PRIMARY KEY (recording_id, offset_ms)
);

-- Interactive sessions (三个课堂: 专递课堂, 名师课堂, 名校网络课堂; and 互动教研):
-- one main classroom teaches one to four remote classrooms live, and each
-- remote classroom's camera and microphone go back to the teacher. Every
-- feed stays an ordinary lesson of its own classroom (transcoded, served,
-- recorded); this table only links them, says who may see whom while the
-- session is live, and holds the teacher's choices (who is muted, who is
-- speaking). Shared by every node, like the rest of the catalogue.
CREATE TABLE interactive_sessions (
    id                    uuid PRIMARY KEY,
    title                 text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    kind                  text NOT NULL DEFAULT 'delivery'
                          CHECK (kind IN ('delivery', 'master_teacher', 'school_network', 'research')),
    main_classroom_id     uuid NOT NULL REFERENCES classrooms(id) ON DELETE CASCADE,
    scheduled_start       timestamptz NOT NULL,
    scheduled_end         timestamptz NOT NULL,
    state                 text NOT NULL DEFAULT 'scheduled' CHECK (state IN ('scheduled', 'live', 'ended')),
    -- The classroom the teacher picked to be heard and seen by everyone.
    speaking_classroom_id uuid REFERENCES classrooms(id) ON DELETE SET NULL,
    started_at            timestamptz,
    ended_at              timestamptz,
    created_by            uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    CHECK (scheduled_end > scheduled_start)
);
CREATE INDEX interactive_sessions_main ON interactive_sessions (main_classroom_id, scheduled_start DESC);
CREATE INDEX interactive_sessions_live ON interactive_sessions (state) WHERE state = 'live';

-- The remote classrooms, in the order the teacher's grid shows them.
CREATE TABLE interactive_participants (
    session_id   uuid NOT NULL REFERENCES interactive_sessions(id) ON DELETE CASCADE,
    classroom_id uuid NOT NULL REFERENCES classrooms(id) ON DELETE CASCADE,
    position     smallint NOT NULL CHECK (position BETWEEN 1 AND 4),
    muted        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (session_id, classroom_id),
    UNIQUE (session_id, position)
);
CREATE INDEX interactive_participants_classroom ON interactive_participants (classroom_id);

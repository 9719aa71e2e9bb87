-- Who watched which micro-lesson on which day, and for how long, from the
-- player's heartbeats. One row per lesson, viewer and day (the viewer's
-- school's calendar day): a view is a viewer-day, so reloading the page or
-- watching twice in a day counts once, and watch time is credited no
-- faster than the clock runs. The viewer's school is kept as it was, so a
-- school's figures stay when a person moves. Shared by every node: each
-- heartbeat is one upsert.
CREATE TABLE lesson_views (
    lesson_id  uuid NOT NULL REFERENCES micro_lessons(id) ON DELETE CASCADE,
    viewer_id  uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    day        date NOT NULL,
    school_id  uuid REFERENCES schools(id) ON DELETE SET NULL,
    seconds    integer NOT NULL DEFAULT 0 CHECK (seconds BETWEEN 0 AND 86400),
    first_at   timestamptz NOT NULL,
    last_at    timestamptz NOT NULL,
    PRIMARY KEY (lesson_id, viewer_id, day)
);
-- Statistics over a date range, per lesson, school or knowledge point.
CREATE INDEX lesson_views_day ON lesson_views (day, lesson_id);
CREATE INDEX lesson_views_school_day ON lesson_views (school_id, day);

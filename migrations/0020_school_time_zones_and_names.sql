-- Schools as the UI manages them.
--
-- Every time the UI shows (recording titles and tables alike) is in the
-- school's own zone, not the browser's or the server's, so a teacher and a
-- partner school read the same clock. IANA names; Beijing time unless set.
ALTER TABLE schools ADD COLUMN time_zone text NOT NULL DEFAULT 'Asia/Shanghai';

-- Two schools of one name under one parent cannot be told apart in a
-- select box. Existing duplicates get a number first, so the index can be
-- built on a database made before it.
WITH numbered AS (
    SELECT id, row_number() OVER (
               PARTITION BY parent_id, lower(btrim(name)) ORDER BY created_at, id) AS n
    FROM schools
)
UPDATE schools s SET name = s.name || ' (' || numbered.n || ')'
FROM numbered WHERE numbered.id = s.id AND numbered.n > 1;

CREATE UNIQUE INDEX schools_name_per_parent
    ON schools (COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'::uuid), lower(btrim(name)));

-- The recordings page filters by teacher and searches titles; the audit
-- log filters by who and what. Both lists are read newest first.
CREATE INDEX recordings_started ON recordings (started_at DESC);
CREATE INDEX audit_log_action ON audit_log (action, at DESC);

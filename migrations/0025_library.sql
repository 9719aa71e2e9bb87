-- The micro-lesson library (微课资源库): what a lesson is about (subjects,
-- grades, textbook editions, knowledge points), the lessons themselves, and
-- their three-level review (教研组 → 学校 → 资源中心). Media (uploads, jobs,
-- the VOD ladder) is referenced, not owned, here.
--
-- Every node shares these rows: ids are uuids made by whichever node
-- inserts, state changes are compare-and-set updates on the row (no node
-- keeps a lesson's state in memory), and the search columns are computed
-- by the writer in Rust, so every node must segment the same way (the
-- vocabulary ships in the binary, never read from a node's disk).

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- 学科. `code` is stable for programs and imports; names are what people
-- read and may be edited by resource-center staff.
CREATE TABLE subjects (
    id         uuid PRIMARY KEY,
    code       text NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]{0,39}$'),
    name       text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 50),
    name_en    text NOT NULL DEFAULT '' CHECK (length(name_en) <= 100),
    position   smallint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- 年级, in school order (position). `stage`: 小学, 初中, 高中.
CREATE TABLE grades (
    id         uuid PRIMARY KEY,
    code       text NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]{0,39}$'),
    name       text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 50),
    name_en    text NOT NULL DEFAULT '' CHECK (length(name_en) <= 100),
    stage      text NOT NULL CHECK (stage IN ('primary', 'junior', 'senior')),
    position   smallint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- 教材版本.
CREATE TABLE editions (
    id         uuid PRIMARY KEY,
    code       text NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]{0,39}$'),
    name       text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 50),
    name_en    text NOT NULL DEFAULT '' CHECK (length(name_en) <= 100),
    position   smallint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO subjects (id, code, name, name_en, position) VALUES
    (gen_random_uuid(), 'chinese', '语文', 'Chinese', 1),
    (gen_random_uuid(), 'math', '数学', 'Mathematics', 2),
    (gen_random_uuid(), 'english', '英语', 'English', 3),
    (gen_random_uuid(), 'physics', '物理', 'Physics', 4),
    (gen_random_uuid(), 'chemistry', '化学', 'Chemistry', 5),
    (gen_random_uuid(), 'biology', '生物', 'Biology', 6),
    (gen_random_uuid(), 'history', '历史', 'History', 7),
    (gen_random_uuid(), 'geography', '地理', 'Geography', 8),
    (gen_random_uuid(), 'morality', '道德与法治', 'Morality and Law', 9),
    (gen_random_uuid(), 'politics', '思想政治', 'Politics', 10),
    (gen_random_uuid(), 'science', '科学', 'Science', 11),
    (gen_random_uuid(), 'music', '音乐', 'Music', 12),
    (gen_random_uuid(), 'art', '美术', 'Art', 13),
    (gen_random_uuid(), 'pe', '体育与健康', 'Physical Education', 14),
    (gen_random_uuid(), 'it', '信息技术', 'Information Technology', 15),
    (gen_random_uuid(), 'technology', '通用技术', 'General Technology', 16),
    (gen_random_uuid(), 'labor', '劳动', 'Labour', 17),
    (gen_random_uuid(), 'psychology', '心理健康', 'Mental Health', 18),
    (gen_random_uuid(), 'calligraphy', '书法', 'Calligraphy', 19),
    (gen_random_uuid(), 'research', '综合实践活动', 'Integrated Practice', 20);

INSERT INTO grades (id, code, name, name_en, stage, position) VALUES
    (gen_random_uuid(), 'g1', '一年级', 'Grade 1', 'primary', 1),
    (gen_random_uuid(), 'g2', '二年级', 'Grade 2', 'primary', 2),
    (gen_random_uuid(), 'g3', '三年级', 'Grade 3', 'primary', 3),
    (gen_random_uuid(), 'g4', '四年级', 'Grade 4', 'primary', 4),
    (gen_random_uuid(), 'g5', '五年级', 'Grade 5', 'primary', 5),
    (gen_random_uuid(), 'g6', '六年级', 'Grade 6', 'primary', 6),
    (gen_random_uuid(), 'g7', '七年级', 'Grade 7', 'junior', 7),
    (gen_random_uuid(), 'g8', '八年级', 'Grade 8', 'junior', 8),
    (gen_random_uuid(), 'g9', '九年级', 'Grade 9', 'junior', 9),
    (gen_random_uuid(), 'g10', '高一', 'Senior 1', 'senior', 10),
    (gen_random_uuid(), 'g11', '高二', 'Senior 2', 'senior', 11),
    (gen_random_uuid(), 'g12', '高三', 'Senior 3', 'senior', 12);

INSERT INTO editions (id, code, name, name_en, position) VALUES
    (gen_random_uuid(), 'pep', '人教版', 'People''s Education Press', 1),
    (gen_random_uuid(), 'tongbian', '部编版', 'Ministry unified edition', 2),
    (gen_random_uuid(), 'bnu', '北师大版', 'Beijing Normal University Press', 3),
    (gen_random_uuid(), 'sujiao', '苏教版', 'Jiangsu Education Press', 4),
    (gen_random_uuid(), 'fltrp', '外研版', 'FLTRP', 5),
    (gen_random_uuid(), 'hujiao', '沪教版', 'Shanghai Education Press', 6),
    (gen_random_uuid(), 'yilin', '译林版', 'Yilin Press', 7),
    (gen_random_uuid(), 'xiangjiao', '湘教版', 'Hunan Education Press', 8),
    (gen_random_uuid(), 'lujiao', '鲁教版', 'Shandong Education Press', 9),
    (gen_random_uuid(), 'zhejiao', '浙教版', 'Zhejiang Education Press', 10),
    (gen_random_uuid(), 'jijiao', '冀教版', 'Hebei Education Press', 11),
    (gen_random_uuid(), 'qingdao', '青岛版', 'Qingdao Press', 12),
    (gen_random_uuid(), 'huke', '沪科版', 'Shanghai Science and Technology Press', 13),
    (gen_random_uuid(), 'jiaoke', '教科版', 'Educational Science Press', 14),
    (gen_random_uuid(), 'yuejiao', '粤教版', 'Guangdong Education Press', 15);

-- 知识点: a tree per subject and grade. A child shares its parent's
-- subject and grade (the composite key makes PostgreSQL check it). A point
-- with children or lessons is not deleted (RESTRICT): the tree and the
-- lessons filed under it would silently change meaning.
CREATE TABLE knowledge_points (
    id         uuid PRIMARY KEY,
    subject_id uuid NOT NULL REFERENCES subjects(id) ON DELETE RESTRICT,
    grade_id   uuid NOT NULL REFERENCES grades(id) ON DELETE RESTRICT,
    parent_id  uuid,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    position   integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, subject_id, grade_id),
    FOREIGN KEY (parent_id, subject_id, grade_id)
        REFERENCES knowledge_points (id, subject_id, grade_id) ON DELETE RESTRICT,
    CHECK (parent_id <> id)
);
-- Siblings have distinct names (a CSV import re-run finds its rows).
CREATE UNIQUE INDEX knowledge_points_sibling_name
    ON knowledge_points (subject_id, grade_id, parent_id, name) NULLS NOT DISTINCT;
CREATE INDEX knowledge_points_parent ON knowledge_points (parent_id);

-- A teaching-research group (教研组) reviewer reviews one subject: the
-- grant names it. Other grants have none.
ALTER TABLE user_roles ADD COLUMN subject_id uuid REFERENCES subjects(id) ON DELETE CASCADE;
ALTER TABLE user_roles ADD CHECK (subject_id IS NULL OR review_level = 'teaching_group');
ALTER TABLE user_roles DROP CONSTRAINT user_roles_user_id_role_review_level_key;
ALTER TABLE user_roles ADD UNIQUE NULLS NOT DISTINCT (user_id, role, review_level, subject_id);

-- 微课. `state` with `review_level` is the review workflow's state
-- (src/library/review.rs): 'submitted' waits at `review_level`.
-- `search` and `search_text` are written by the application (jieba
-- segmentation, NFKC): PostgreSQL cannot segment Chinese itself.
CREATE TABLE micro_lessons (
    id           uuid PRIMARY KEY,
    title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description  text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    subject_id   uuid NOT NULL REFERENCES subjects(id) ON DELETE RESTRICT,
    grade_id     uuid NOT NULL REFERENCES grades(id) ON DELETE RESTRICT,
    edition_id   uuid REFERENCES editions(id) ON DELETE RESTRICT,
    chapter      text NOT NULL DEFAULT '' CHECK (length(chapter) <= 200),
    -- 系列课程, e.g. 七彩阅读课程: free text, filtered by equality.
    series       text NOT NULL DEFAULT '' CHECK (length(series) <= 200),
    tags         text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 20),
    teacher_id   uuid REFERENCES users(id) ON DELETE SET NULL,
    -- Shown and searched even when the teacher has no account here.
    teacher_name text NOT NULL DEFAULT '' CHECK (length(teacher_name) <= 200),
    school_id    uuid NOT NULL REFERENCES schools(id) ON DELETE RESTRICT,
    author_id    uuid REFERENCES users(id) ON DELETE SET NULL,
    -- 'group': every school of the group, not partner schools;
    -- 'partners': the group and its partner schools; 'school': its own.
    visibility   text NOT NULL DEFAULT 'school' CHECK (visibility IN ('group', 'partners', 'school')),
    state        text NOT NULL DEFAULT 'draft'
                 CHECK (state IN ('draft', 'submitted', 'rejected', 'published', 'unpublished')),
    review_level review_level,
    featured     boolean NOT NULL DEFAULT false,
    view_count   bigint NOT NULL DEFAULT 0,
    -- Media, filled by the upload and processing work.
    upload_id    uuid,
    media_state  text,
    search       tsvector NOT NULL DEFAULT ''::tsvector,
    search_text  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    submitted_at timestamptz,
    published_at timestamptz,
    CHECK ((state = 'submitted') = (review_level IS NOT NULL)),
    CHECK (NOT featured OR state = 'published')
);
-- Search: segmented words (GIN on the tsvector), and substrings the
-- segmenter does not cut out (pg_trgm on the normalised text).
CREATE INDEX micro_lessons_search ON micro_lessons USING gin (search);
CREATE INDEX micro_lessons_search_trgm ON micro_lessons USING gin (search_text gin_trgm_ops);
-- Browsing the published library: by subject and grade, newest or most
-- viewed first; featured on the home page.
CREATE INDEX micro_lessons_published_subject
    ON micro_lessons (subject_id, grade_id, published_at DESC) WHERE state = 'published';
CREATE INDEX micro_lessons_published_newest
    ON micro_lessons (published_at DESC) WHERE state = 'published';
CREATE INDEX micro_lessons_published_views
    ON micro_lessons (view_count DESC) WHERE state = 'published';
CREATE INDEX micro_lessons_featured
    ON micro_lessons (published_at DESC) WHERE featured;
CREATE INDEX micro_lessons_school ON micro_lessons (school_id, published_at DESC);
CREATE INDEX micro_lessons_teacher ON micro_lessons (teacher_id) WHERE teacher_id IS NOT NULL;
CREATE INDEX micro_lessons_series ON micro_lessons (series) WHERE series <> '';
-- Authors' "my lessons", and reviewers' queues.
CREATE INDEX micro_lessons_author ON micro_lessons (author_id, updated_at DESC);
CREATE INDEX micro_lessons_waiting
    ON micro_lessons (review_level, school_id, subject_id, submitted_at) WHERE state = 'submitted';

CREATE TABLE micro_lesson_knowledge_points (
    lesson_id          uuid NOT NULL REFERENCES micro_lessons(id) ON DELETE CASCADE,
    knowledge_point_id uuid NOT NULL REFERENCES knowledge_points(id) ON DELETE RESTRICT,
    PRIMARY KEY (lesson_id, knowledge_point_id)
);
-- A knowledge point's page lists its lessons.
CREATE INDEX micro_lesson_knowledge_points_point
    ON micro_lesson_knowledge_points (knowledge_point_id, lesson_id);

-- Every review decision, kept forever and shown on the lesson: the
-- reviewer's name is copied so the history reads after the account goes,
-- and a lesson with history is never deleted (RESTRICT).
CREATE TABLE review_steps (
    id         bigserial PRIMARY KEY,
    lesson_id  uuid NOT NULL REFERENCES micro_lessons(id) ON DELETE RESTRICT,
    actor_id   uuid REFERENCES users(id) ON DELETE SET NULL,
    actor_name text NOT NULL,
    at         timestamptz NOT NULL,
    -- The level decided at; NULL for the author's and the library's own
    -- actions (submit, unpublish, feature).
    level      review_level,
    decision   text NOT NULL
               CHECK (decision IN ('submit', 'approve', 'reject', 'unpublish', 'feature', 'unfeature')),
    comment    text NOT NULL DEFAULT '' CHECK (length(comment) <= 2000),
    CHECK (decision <> 'reject' OR length(btrim(comment)) > 0)
);
CREATE INDEX review_steps_lesson ON review_steps (lesson_id, id);

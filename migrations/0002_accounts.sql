-- Accounts and access control. Classroom video shows children: who may see
-- a lesson or a recording is decided from these rows, on every route,
-- never from a URL being hard to guess.

-- A user can hold several roles. Reviewers review at one or more of the
-- three levels a micro-lesson passes before publishing.
CREATE TYPE role_kind AS ENUM (
    'system_admin',      -- the whole group: every school, every setting
    'school_admin',      -- one school: its classrooms, users, stream keys
    'resource_staff',    -- the resource center: publishes micro-lessons
    'reviewer',          -- reviews micro-lessons at review_level
    'teacher',           -- teaches; sees own recordings
    'classroom_device',  -- a partner classroom's screen: invited lessons only
    'viewer'             -- watches what the school shows
);
CREATE TYPE review_level AS ENUM ('teaching_group', 'school', 'resource_center'); -- 教研组, 学校, 资源中心

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    -- NULL only for group-wide system admins.
    school_id     uuid REFERENCES schools(id) ON DELETE RESTRICT,
    username      text NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    display_name  text NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
    -- argon2id PHC string; NULL for accounts that only sign in through SSO.
    password_hash text,
    -- A linked OpenID Connect identity (统一身份认证).
    oidc_issuer   text,
    oidc_subject  text,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz,
    CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL))
);
-- Usernames are matched without regard to case, as people type them.
CREATE UNIQUE INDEX users_username ON users (lower(username));
CREATE UNIQUE INDEX users_oidc ON users (oidc_issuer, oidc_subject) WHERE oidc_subject IS NOT NULL;
CREATE INDEX users_school ON users (school_id);

CREATE TABLE user_roles (
    user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role         role_kind NOT NULL,
    review_level review_level,
    CHECK ((role = 'reviewer') = (review_level IS NOT NULL)),
    UNIQUE NULLS NOT DISTINCT (user_id, role, review_level)
);

-- Signed-in browsers. The cookie holds a random secret; only its SHA-256
-- is kept, so a leaked table opens nothing. One row per sign-in, so an
-- admin can end all of a user's sessions at once (disable, password reset).
CREATE TABLE user_sessions (
    token_hash   bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- Sent back in X-CSRF-Token on every cookie-authenticated write.
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    address      inet,
    user_agent   text
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);

-- Integration tokens (timetable systems, campus portals). Only a SHA-256 of
-- the secret is kept; the prefix lets an admin recognise a token in a list.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix       text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Failed sign-ins, by account and by address, for rate limiting. In the
-- database rather than in memory so every node behind a load balancer
-- counts the same attempts.
CREATE TABLE login_failures (
    key text NOT NULL,          -- 'user:<lower username>' or 'addr:<ip>'
    at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_key ON login_failures (key, at);

-- Partner schools a classroom's live lessons are shown to (专递课堂): their
-- viewers and classroom devices may watch, nobody else outside the school.
CREATE TABLE classroom_audiences (
    classroom_id uuid NOT NULL REFERENCES classrooms(id) ON DELETE CASCADE,
    school_id    uuid NOT NULL REFERENCES schools(id) ON DELETE CASCADE,
    PRIMARY KEY (classroom_id, school_id)
);

-- Who teaches in a classroom: their recordings are theirs to review.
ALTER TABLE classrooms ADD COLUMN teacher_id uuid REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE recordings ADD COLUMN teacher_id uuid REFERENCES users(id) ON DELETE SET NULL;

-- A recording shared with a person or a whole school (听评课 across schools).
CREATE TABLE recording_shares (
    recording_id uuid NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    user_id      uuid REFERENCES users(id) ON DELETE CASCADE,
    school_id    uuid REFERENCES schools(id) ON DELETE CASCADE,
    shared_by    uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((user_id IS NULL) <> (school_id IS NULL)),
    UNIQUE NULLS NOT DISTINCT (recording_id, user_id, school_id)
);

-- Security-relevant actions: who, when, from where, what. Append-only; the
-- actor's name is copied so the entry still reads after the user is gone.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    uuid REFERENCES users(id) ON DELETE SET NULL,
    actor_name  text,
    address     inet,
    action      text NOT NULL,
    target_kind text,
    target_id   text,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at DESC);

-- Secrets every node must share, such as the key that signs playback
-- tokens: made once by whichever node starts first.
CREATE TABLE server_secrets (
    name       text PRIMARY KEY,
    value      bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

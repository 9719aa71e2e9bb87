-- Single sign-on with a school district's unified identity platform
-- (统一身份认证) over OpenID Connect.

-- The identity platform's code for a school, matched against the school
-- claim of a signing-in user.
ALTER TABLE schools ADD COLUMN external_id text UNIQUE;

-- Sign-ins in flight: between sending the browser to the identity platform
-- and its return. In the database so any node can take the return; rows
-- older than ten minutes are useless and swept on the next sign-in.
CREATE TABLE sso_logins (
    state         text PRIMARY KEY,
    nonce         text NOT NULL,
    pkce_verifier text NOT NULL,
    next_url      text NOT NULL DEFAULT '/#/',
    created_at    timestamptz NOT NULL DEFAULT now()
);

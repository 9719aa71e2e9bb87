-- Sign-in limits that cannot be raced. An attempt reserves a row per key
-- (account and address) before its password is hashed, counting and
-- reserving under one advisory lock per key; a failed attempt's rows stay
-- as its failures, a successful one's are removed. `attempt` names the
-- rows of one attempt.
ALTER TABLE login_failures ADD COLUMN attempt uuid;
CREATE INDEX login_failures_attempt ON login_failures (attempt);

-- Usernames are stored normalised (NFKC, then case folded; the server
-- normalises existing rows at start), and matched exactly: the lock key and
-- the lookup can no longer disagree about which account a spelling names.
-- Any two rows that were unique under lower() are unique as they are.
CREATE UNIQUE INDEX users_username_exact ON users (username);
DROP INDEX users_username;

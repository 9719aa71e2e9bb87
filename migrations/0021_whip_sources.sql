-- WHIP (RFC 9725): browsers, OBS 30+ and hardware encoders publish over
-- WebRTC with the source's stream key as their Bearer token.
ALTER TYPE source_kind ADD VALUE IF NOT EXISTS 'whip';

-- Pushed kinds carry a stream key. The new value cannot be used in this
-- transaction, so the check compares the kind's text.
DO $$
DECLARE c text;
BEGIN
  SELECT conname INTO c FROM pg_constraint
   WHERE conrelid = 'sources'::regclass AND contype = 'c'
     AND pg_get_constraintdef(oid) LIKE '%stream_key IS NOT NULL%';
  IF c IS NOT NULL THEN
    EXECUTE format('ALTER TABLE sources DROP CONSTRAINT %I', c);
  END IF;
END $$;
ALTER TABLE sources ADD CONSTRAINT sources_pushed_have_stream_keys
  CHECK ((kind::text IN ('rtmp', 'srt', 'whip')) = (stream_key IS NOT NULL));

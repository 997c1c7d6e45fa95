-- Activity submitted with a client event id: a retried submission finds its first event here and
-- is not recorded (or counted) again. `event_id` is derived from (user, client id) by the service.
CREATE TABLE activity_submissions (
    event_id     uuid PRIMARY KEY,
    user_id      text NOT NULL,
    event        jsonb NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activity_submissions_age ON activity_submissions (submitted_at);

-- The activity service signs in as `activity` (components/database.py SERVICE_USERS): it checks
-- tracks and users exist (and takes a track's artist and duration) and keeps its submissions.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'activity') THEN
        CREATE ROLE activity LOGIN;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN
        GRANT rds_iam TO activity;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO activity', current_schema());
END
$$;
GRANT SELECT, INSERT, DELETE ON activity_submissions TO activity;
GRANT SELECT (track_id, artist_id, duration_ms) ON tracks TO activity;
GRANT SELECT (user_id) ON users TO activity;

-- A signed-in user whose profile row is missing (the post-confirmation trigger failed or never ran,
-- local runs) gets one on their first write: the row is created from the token, which may carry
-- no e-mail (Cognito access tokens do not), so `email` is optional until the profile is completed.
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'playlists') THEN
        GRANT SELECT (user_id), INSERT (user_id, display_name) ON users TO playlists;
    END IF;
END
$$;

-- Login roles the services sign in as through RDS Proxy (IAM authentication; one per entry of
-- components/database.py SERVICE_USERS), each granted only the tables its service uses.
-- On RDS, membership in `rds_iam` lets a role sign in with an IAM token instead of a password;
-- elsewhere (local PostgreSQL) that role does not exist and the roles get no password at all.
DO $$
DECLARE
    grants CONSTANT jsonb := '{
        "accounts":    {"write": ["users"],                              "read": []},
        "catalog":     {"write": ["artists", "albums", "tracks"],        "read": ["subscriptions"]},
        "playlists":   {"write": ["playlists", "playlist_tracks"],       "read": ["artists", "tracks"]},
        "preferences": {"write": ["rec_user_genres", "rec_signals"],     "read": ["tracks"]},
        "payments":    {"write": ["subscriptions", "processed_events"],  "read": ["users"]}
    }';
    role_name text;
    tables jsonb;
    tbl text;
BEGIN
    FOR role_name, tables IN SELECT * FROM jsonb_each(grants) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', role_name);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN
            EXECUTE format('GRANT rds_iam TO %I', role_name);
        END IF;
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), role_name);
        FOR tbl IN SELECT jsonb_array_elements_text(tables -> 'write') LOOP
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO %I', tbl, role_name);
        END LOOP;
        FOR tbl IN SELECT jsonb_array_elements_text(tables -> 'read') LOOP
            EXECUTE format('GRANT SELECT ON %I TO %I', tbl, role_name);
        END LOOP;
    END LOOP;
END
$$;

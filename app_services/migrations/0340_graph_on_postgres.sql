-- The activity graph in PostgreSQL (`graph.engine: postgres`, dev; Neptune elsewhere): the
-- activity service writes the edge tables of 0100_activity.sql as `activity`, and the feed signs
-- in as `feed` (components/database.py GRAPH_USERS) to read who follows whom, and nothing else.
GRANT SELECT, INSERT, UPDATE, DELETE
    ON activity_tracks, activity_listens, activity_likes, activity_follows TO activity;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'feed') THEN
        CREATE ROLE feed LOGIN;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN
        GRANT rds_iam TO feed;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO feed', current_schema());
END
$$;
GRANT SELECT ON activity_follows TO feed;

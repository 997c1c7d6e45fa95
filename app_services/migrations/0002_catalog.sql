-- Music catalog: artists, albums, tracks with a full-text search document per track.
-- Accent folding uses the unaccent extension when the database can install it; otherwise the
-- catalog repository folds text in Python before it reaches to_tsvector (same results).
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'unaccent unavailable (%); the catalog folds accents in Python', SQLERRM;
END
$$;

CREATE TABLE artists (
    artist_id  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL,
    name_key   text NOT NULL UNIQUE,               -- folded, lower-case name: one row per artist
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE albums (
    album_id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    artist_id  uuid NOT NULL REFERENCES artists (artist_id) ON DELETE CASCADE,
    title      text NOT NULL,
    title_key  text NOT NULL,
    year       integer CHECK (year BETWEEN 1000 AND 9999),
    cover_key  text,                               -- S3 key of the cover art, if any
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (artist_id, title_key)
);

CREATE TABLE tracks (
    track_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    album_id     uuid NOT NULL REFERENCES albums (album_id) ON DELETE CASCADE,
    artist_id    uuid NOT NULL REFERENCES artists (artist_id) ON DELETE CASCADE,
    title        text NOT NULL,
    track_number integer CHECK (track_number > 0),
    disc_number  integer CHECK (disc_number > 0),
    duration_ms  integer NOT NULL CHECK (duration_ms >= 0),
    genre        text,
    media_key    text NOT NULL UNIQUE,             -- S3 key of the audio: re-ingest updates in place
    audio_format text NOT NULL,
    search       tsvector NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tracks_search ON tracks USING gin (search);
CREATE INDEX tracks_album ON tracks (album_id, disc_number, track_number);
CREATE INDEX tracks_artist ON tracks (artist_id);
CREATE INDEX albums_artist ON albums (artist_id);

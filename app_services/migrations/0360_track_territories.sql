-- Licensing territories of a track: the countries (ISO 3166-1 alpha-2, upper case, sorted) where
-- it may be streamed. NULL: wherever the platform is licensed (edge.allowed_countries). Set at
-- ingest from the uploaded object's `territories` metadata (catalog.domain.ingest).
ALTER TABLE tracks ADD COLUMN territories text[]
    CONSTRAINT tracks_territories_codes CHECK (
        territories IS NULL
        OR (array_position(territories, NULL) IS NULL
            AND array_to_string(territories, ',') ~ '^[A-Z]{2}(,[A-Z]{2})*$')
    );

-- Single-track writes shift only the entries after the change (`position = position ± n`); the
-- key is checked at commit so a shift may pass through duplicate positions on its way.
ALTER TABLE playlist_tracks DROP CONSTRAINT playlist_tracks_pkey;
ALTER TABLE playlist_tracks ADD PRIMARY KEY (playlist_id, position) DEFERRABLE INITIALLY IMMEDIATE;

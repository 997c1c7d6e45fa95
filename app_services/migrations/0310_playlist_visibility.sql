-- Playlists are private to their owner unless made public.
ALTER TABLE playlists ADD COLUMN public boolean NOT NULL DEFAULT false;

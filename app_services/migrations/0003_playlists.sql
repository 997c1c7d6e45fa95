-- Playlists: owner-only writes; entries keep their order in `position` (0-based, dense).
CREATE TABLE playlists (
    playlist_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id    text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX playlists_owner ON playlists (owner_id, created_at);

CREATE TABLE playlist_tracks (
    playlist_id uuid NOT NULL REFERENCES playlists (playlist_id) ON DELETE CASCADE,
    position    integer NOT NULL CHECK (position >= 0),
    track_id    uuid NOT NULL REFERENCES tracks (track_id) ON DELETE CASCADE,
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (playlist_id, position)
);

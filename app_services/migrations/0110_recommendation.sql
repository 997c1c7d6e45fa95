-- Recommendation: user preferences. Genres a user picked (cold start) and per-user track affinity
-- built from the activity stream (plays of 30 s or more, likes), the input of co-listening.
CREATE TABLE rec_user_genres (
    user_id   text NOT NULL,
    genre     text NOT NULL,
    position  integer NOT NULL CHECK (position >= 0),
    picked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, genre)
);

CREATE TABLE rec_signals (
    user_id    text NOT NULL,
    track_id   text NOT NULL,
    weight     integer NOT NULL CHECK (weight > 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, track_id)
);
-- co-listening reads "who else listened to this track": by track first
CREATE INDEX rec_signals_track ON rec_signals (track_id, user_id);

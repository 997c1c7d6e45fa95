-- User activity: the local implementation of the user-track-artist graph (Neptune in the cloud).
-- (User)-[LISTENED]->(Track), (User)-[LIKED]->(Track), (Track)-[BY]->(Artist), (User)-[FOLLOWS]->(User)
CREATE TABLE activity_tracks (
    track_id  text PRIMARY KEY,
    artist_id text NOT NULL
);

CREATE TABLE activity_listens (
    user_id   text NOT NULL,
    track_id  text NOT NULL REFERENCES activity_tracks (track_id),
    plays     integer NOT NULL CHECK (plays > 0),
    ms_played bigint NOT NULL CHECK (ms_played >= 0),
    last_at   timestamptz NOT NULL,
    PRIMARY KEY (user_id, track_id)
);

CREATE TABLE activity_likes (
    user_id  text NOT NULL,
    track_id text NOT NULL REFERENCES activity_tracks (track_id),
    liked_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, track_id)
);

CREATE TABLE activity_follows (
    follower_id text NOT NULL,
    followee_id text NOT NULL CHECK (followee_id <> follower_id),
    followed_at timestamptz NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX activity_follows_followee ON activity_follows (followee_id);

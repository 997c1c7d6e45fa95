-- A user's likes and recently played tracks, newest first (GET /activity/likes and
-- /activity/recent-plays page by (time, track id) after a cursor): one index scan per page.
CREATE INDEX activity_likes_by_user_time ON activity_likes (user_id, liked_at DESC, track_id DESC);
CREATE INDEX activity_listens_by_user_time
    ON activity_listens (user_id, last_at DESC, track_id DESC);

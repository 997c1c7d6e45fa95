import { useState } from "react";
import type { PlaylistSummary, Track } from "../lib/endpoints";
import { useServices } from "./context";
import { describe, formatDuration, href, useAsync } from "./hooks";
import { toQueueItem, usePlayer } from "./Player";

type Row = Pick<Track, "track_id" | "title" | "artist" | "duration_ms"> & Partial<Track>;

/** A list of tracks with play, queue, like and add-to-playlist actions. */
export function TrackList({ tracks, showAlbum = true }: { tracks: Row[]; showAlbum?: boolean }) {
  const { api } = useServices();
  const player = usePlayer();
  const mine = useAsync(() => api.playlists(), [api]);
  const playlists = mine.state.status === "ready" ? mine.state.data : [];
  return (
    <ol className="tracks">
      {tracks.map((t, i) => (
        <li key={`${t.track_id}-${i}`}>
          <button type="button" className="play" onClick={() => player.play(tracks.map(toQueueItem), i)} aria-label={`Play ${t.title}`}>
            ▶
          </button>
          <span className="title">
            <strong>{t.title}</strong>
            <span className="muted">
              {t.artist_id ? <a href={href("artist", t.artist_id)}>{t.artist}</a> : t.artist}
              {showAlbum && t.album_id && (
                <>
                  {" · "}
                  <a href={href("album", t.album_id)}>{t.album}</a>
                </>
              )}
            </span>
          </span>
          <span className="muted duration">{formatDuration(t.duration_ms)}</span>
          <TrackActions track={t} playlists={playlists} onQueue={() => player.enqueue([toQueueItem(t)])} />
        </li>
      ))}
    </ol>
  );
}

function TrackActions({ track, playlists, onQueue }: { track: Row; playlists: PlaylistSummary[]; onQueue: () => void }) {
  const { api, liked, like } = useServices();
  const [note, setNote] = useState<string | null>(null);
  const isLiked = liked.has(track.track_id);
  const add = async (playlistId: string) => {
    if (!playlistId) return;
    setNote("Adding…");
    try {
      await api.addTracks(playlistId, [track.track_id]);
      setNote(`Added to ${playlists.find((p) => p.playlist_id === playlistId)?.name ?? "playlist"}`);
    } catch (error) {
      setNote(describe(error));
    }
  };
  return (
    <span className="actions">
      <button type="button" onClick={onQueue} aria-label={`Add ${track.title} to the queue`}>
        + Queue
      </button>
      <button
        type="button"
        aria-pressed={isLiked}
        aria-label={`Like ${track.title}`}
        onClick={() => like(track).catch((e: unknown) => setNote(describe(e)))}
      >
        {isLiked ? "♥" : "♡"}
      </button>
      {playlists.length > 0 && (
        <select aria-label={`Add ${track.title} to a playlist`} value="" onChange={(e) => void add(e.target.value)}>
          <option value="">Add to playlist…</option>
          {playlists.map((p) => (
            <option key={p.playlist_id} value={p.playlist_id}>
              {p.name}
            </option>
          ))}
        </select>
      )}
      {note && (
        <span className="note" role="status">
          {note}
        </span>
      )}
    </span>
  );
}

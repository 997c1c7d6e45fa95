/** Typed calls of the SoundStack HTTP API (paths and bodies live here and nowhere else). */

import { ApiClient, ApiError, newId } from "./api";
import type { LibraryPage, LikedRow, PlayedRow } from "./library";

export type Track = {
  track_id: string;
  title: string;
  track_number: number | null;
  disc_number: number | null;
  duration_ms: number;
  genre: string | null;
  artist_id: string;
  artist: string;
  album_id: string;
  album: string;
  year: number | null;
  cover_key: string | null;
};
export type Album = {
  album_id: string;
  title: string;
  year: number | null;
  cover_key: string | null;
  artist_id: string;
  artist: string;
  tracks: Track[];
};
export type ArtistAlbum = Pick<Album, "album_id" | "title" | "year" | "cover_key">;
export type Artist = { artist_id: string; name: string; albums: ArtistAlbum[] };
export type StreamUrl = { url: string; expires_at: string };

export type PlaylistSummary = {
  playlist_id: string;
  name: string;
  public?: boolean;
  updated_at: string;
  tracks: number;
};
export type PlaylistEntry = {
  position: number;
  track_id: string;
  title: string;
  artist: string;
  duration_ms: number;
};
/** One page of a playlist: its head, `total_tracks`, entries from the cursor, the `next` link. */
export type PlaylistPage = {
  playlist_id: string;
  name: string;
  public?: boolean;
  mine?: boolean;
  total_tracks: number;
  tracks: PlaylistEntry[];
  next: string | null;
};

export type Recommendations = {
  user_id: string;
  source: "co_listening" | "cold_start";
  because_you_listened_to: { seed_track_id: string; tracks: { track_id: string; score: number }[] }[];
  for_you: string[];
};
export type Subscription = {
  provider: string;
  status: string;
  plan: string;
  current_period_end: string | null;
};
export type Provider = "stripe" | "paypal";
export type Plan = {
  id: string;
  kind: "subscription" | "pass";
  currency: string;
  amount?: string | null;
  pass_days?: number | null;
  /** The providers this plan can be bought through. */
  providers: Provider[];
};
export type Redirect = { provider: string; id: string; url: string };
export type ActivityEvent = {
  event_id: string;
  kind: "play" | "like" | "follow";
  user_id: string;
  target_id: string;
  ms_played: number | null;
  occurred_at: string;
};

export const PLAYLIST_PAGE = 100;

/** Split a `next` link (`/playlists/{id}?cursor=100&limit=100`) into path and query. */
export function parseNext(next: string): { path: string; query: Record<string, string> } {
  const url = new URL(next, "http://next.invalid");
  return { path: url.pathname, query: Object.fromEntries(url.searchParams) };
}

export class SoundStackApi {
  constructor(readonly http: ApiClient) {}

  // Catalog
  search(q: string, signal?: AbortSignal, limit = 20): Promise<Track[]> {
    return this.http.request("GET", "/catalog/search", { query: { q, limit }, signal });
  }
  album(id: string): Promise<Album> {
    return this.http.request("GET", `/catalog/albums/${encodeURIComponent(id)}`);
  }
  artist(id: string): Promise<Artist> {
    return this.http.request("GET", `/catalog/artists/${encodeURIComponent(id)}`);
  }
  track(id: string): Promise<Track> {
    return this.http.request("GET", `/catalog/tracks/${encodeURIComponent(id)}`);
  }
  streamUrl(trackId: string): Promise<StreamUrl> {
    return this.http.request("GET", `/catalog/tracks/${encodeURIComponent(trackId)}/stream`);
  }

  // Playlists
  playlists(): Promise<PlaylistSummary[]> {
    return this.http.request("GET", "/playlists");
  }
  /** The first page, or the page a `next` link names. */
  playlistPage(id: string, next?: string | null, limit = PLAYLIST_PAGE): Promise<PlaylistPage> {
    if (next) {
      const { path, query } = parseNext(next);
      return this.http.request("GET", path, { query });
    }
    return this.http.request("GET", `/playlists/${encodeURIComponent(id)}`, {
      query: { limit },
    });
  }
  createPlaylist(name: string, isPublic = false, key = newId()): Promise<PlaylistPage> {
    return this.http.request("POST", "/playlists", {
      body: { name, public: isPublic },
      idempotencyKey: key,
    });
  }
  updatePlaylist(id: string, patch: { name?: string; public?: boolean }): Promise<PlaylistPage> {
    return this.http.request("PATCH", `/playlists/${encodeURIComponent(id)}`, { body: patch });
  }
  deletePlaylist(id: string): Promise<void> {
    return this.http.request("DELETE", `/playlists/${encodeURIComponent(id)}`);
  }
  addTracks(id: string, trackIds: string[], position?: number): Promise<PlaylistPage> {
    return this.http.request("POST", `/playlists/${encodeURIComponent(id)}/tracks`, {
      body: position === undefined ? { track_ids: trackIds } : { track_ids: trackIds, position },
    });
  }
  moveTrack(id: string, from: number, to: number): Promise<PlaylistPage> {
    return this.http.request("POST", `/playlists/${encodeURIComponent(id)}/tracks/move`, {
      body: { from_position: from, to_position: to },
    });
  }
  removeTrack(id: string, position: number): Promise<PlaylistPage> {
    return this.http.request("DELETE", `/playlists/${encodeURIComponent(id)}/tracks/${position}`);
  }

  // Activity: each submission carries a client event id, so a retry is recorded once.
  reportPlay(trackId: string, msPlayed: number, eventId = newId()): Promise<unknown> {
    return this.http.request("POST", "/activity/plays", {
      body: { event_id: eventId, track_id: trackId, ms_played: Math.max(0, Math.round(msPlayed)) },
      retrySafe: true,
    });
  }
  like(trackId: string, eventId = newId()): Promise<unknown> {
    return this.http.request("POST", "/activity/likes", {
      body: { event_id: eventId, track_id: trackId },
      retrySafe: true,
    });
  }
  follow(userId: string, eventId = newId()): Promise<unknown> {
    return this.http.request("POST", "/activity/follows", {
      body: { event_id: eventId, user_id: userId },
      retrySafe: true,
    });
  }

  /** The caller's likes, newest first: the first page, or the page a `next` link names. */
  likes(next?: string | null, limit = 50): Promise<LibraryPage<LikedRow>> {
    return this.libraryPage("/activity/likes", next, limit);
  }
  /** The tracks the caller played, most recently played first (paged like `likes`). */
  recentPlays(next?: string | null, limit = 50): Promise<LibraryPage<PlayedRow>> {
    return this.libraryPage("/activity/recent-plays", next, limit);
  }
  private libraryPage<T>(path: string, next: string | null | undefined, limit: number): Promise<LibraryPage<T>> {
    if (next) {
      const parsed = parseNext(next);
      return this.http.request("GET", parsed.path, { query: parsed.query });
    }
    return this.http.request("GET", path, { query: { limit } });
  }

  // Recommendations
  recommendations(): Promise<Recommendations> {
    return this.http.request("GET", "/recommendations/me");
  }

  // Payments
  async subscription(): Promise<Subscription | null> {
    try {
      return await this.http.request<Subscription>("GET", "/payments/subscription");
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }
  plans(): Promise<Plan[]> {
    return this.http.request("GET", "/payments/plans");
  }
  checkout(provider: Provider, plan: string, key = newId()): Promise<Redirect> {
    return this.http.request("POST", "/payments/checkout", {
      body: { provider, plan },
      idempotencyKey: key,
    });
  }
}

/** Every entry of a playlist, following `next` links page by page. */
export async function allEntries(api: SoundStackApi, id: string): Promise<PlaylistEntry[]> {
  const entries: PlaylistEntry[] = [];
  let page = await api.playlistPage(id);
  entries.push(...page.tracks);
  while (page.next) {
    page = await api.playlistPage(id, page.next);
    entries.push(...page.tracks);
  }
  return entries;
}

/** The caller's library from the activity service: likes and recently played tracks, newest
 * first, page by page (`next` links), each row joined with the catalog's track. */

import type { Track } from "./endpoints";

export type LikedRow = { track_id: string; liked_at: string };
export type PlayedRow = { track_id: string; plays: number; ms_played: number; last_played_at: string };
export type LibraryPage<T> = { tracks: T[]; next: string | null };
/** A row with its track (null: the catalog no longer has it). */
export type Joined<T> = T & { track: Track | null };
export type Listing<T> = { rows: Joined<T>[]; next: string | null };

export const emptyListing = <T>(): Listing<T> => ({ rows: [], next: null });

/** Join each row with its catalog track; a track that fails to load is `null`, not an error. */
export async function joinTracks<T extends { track_id: string }>(
  rows: T[],
  lookup: (id: string) => Promise<Track>,
): Promise<Joined<T>[]> {
  const found = await Promise.allSettled(rows.map((r) => lookup(r.track_id)));
  return rows.map((row, i) => {
    const result = found[i];
    return { ...row, track: result?.status === "fulfilled" ? result.value : null };
  });
}

/** The listing with the next page appended. A track that moved to the top between two pages
 * (played again) can come back on a later page: it stays where it was first shown. */
export function appendPage<T extends { track_id: string }>(
  listing: Listing<T>,
  page: { rows: Joined<T>[]; next: string | null },
): Listing<T> {
  const seen = new Set(listing.rows.map((r) => r.track_id));
  return { rows: [...listing.rows, ...page.rows.filter((r) => !seen.has(r.track_id))], next: page.next };
}

import { useState } from "react";
import type { Track } from "../lib/endpoints";
import { appendPage, emptyListing, joinTracks, type Joined, type LibraryPage, type LikedRow, type Listing, type PlayedRow } from "../lib/library";
import { useServices } from "./context";
import { describe, formatDuration, Loaded, useAsync } from "./hooks";
import { toQueueItem, usePlayer } from "./Player";
import { TrackList } from "./Tracks";

/** One paged list of the library: loading, error with retry, empty, "Load more". */
function useListing<T extends { track_id: string }>(
  load: (next: string | null) => Promise<LibraryPage<T>>,
  deps: unknown[],
) {
  const { api } = useServices();
  const [listing, setListing] = useState<Listing<T>>(emptyListing);
  const [more, setMore] = useState<{ busy: boolean; error: unknown }>({ busy: false, error: null });
  const first = useAsync(async () => {
    const page = await load(null);
    const rows = await joinTracks(page.tracks, (id) => api.track(id));
    setListing(appendPage(emptyListing<T>(), { rows, next: page.next }));
    return true;
  }, [api, ...deps]);
  const loadMore = async () => {
    if (!listing.next) return;
    setMore({ busy: true, error: null });
    try {
      const page = await load(listing.next);
      const rows = await joinTracks(page.tracks, (id) => api.track(id));
      setListing((current) => appendPage(current, { rows, next: page.next }));
      setMore({ busy: false, error: null });
    } catch (error) {
      setMore({ busy: false, error });
    }
  };
  return { first, listing, more, loadMore };
}

function MoreButton({ next, more, loadMore, what }: { next: string | null; more: { busy: boolean; error: unknown }; loadMore: () => void; what: string }) {
  if (!next) return null;
  return (
    <p>
      <button type="button" onClick={loadMore} disabled={more.busy}>
        {more.busy ? "Loading…" : `More ${what}`}
      </button>
      {more.error !== null && (
        <span className="error" role="alert">
          {" "}
          {describe(more.error)}
        </span>
      )}
    </p>
  );
}

const available = <T,>(rows: Joined<T>[]) => rows.filter((r): r is Joined<T> & { track: Track } => r.track !== null);

/** The caller's likes (newest first). */
export function LikesPage() {
  const { api } = useServices();
  const { first, listing, more, loadMore } = useListing<LikedRow>((next) => api.likes(next), []);
  return (
    <section>
      <h1>Liked tracks</h1>
      <Loaded state={first.state} retry={first.reload} empty={() => listing.rows.length === 0} emptyText="Tracks you like (♡) appear here.">
        {() => (
          <>
            <TrackList tracks={available(listing.rows).map((r) => r.track)} />
            <MoreButton next={listing.next} more={more} loadMore={() => void loadMore()} what="liked tracks" />
          </>
        )}
      </Loaded>
    </section>
  );
}

/** The tracks the caller played, most recently played first, with how often and how long. */
export function RecentPage() {
  const { api, recent } = useServices();
  const player = usePlayer();
  // A play this tab reported (and the service recorded) reloads the list.
  const { first, listing, more, loadMore } = useListing<PlayedRow>((next) => api.recentPlays(next), [recent[0]]);
  const rows = available(listing.rows);
  return (
    <section>
      <h1>Recently played</h1>
      <Loaded state={first.state} retry={first.reload} empty={() => listing.rows.length === 0} emptyText="Nothing played yet: tracks you listen to appear here.">
        {() => (
          <>
            <ol className="list recent">
              {rows.map((r, i) => (
                <li key={r.track_id}>
                  <button type="button" className="play" onClick={() => player.play(rows.map((x) => toQueueItem(x.track)), i)} aria-label={`Play ${r.track.title}`}>
                    ▶
                  </button>{" "}
                  <strong>{r.track.title}</strong> <span className="muted">{r.track.artist}</span>{" "}
                  <span className="muted">
                    {r.plays === 1 ? "1 play" : `${r.plays} plays`}, {formatDuration(r.ms_played)} in all, last{" "}
                    <time dateTime={r.last_played_at}>{new Date(r.last_played_at).toLocaleString()}</time>
                  </span>
                </li>
              ))}
            </ol>
            <MoreButton next={listing.next} more={more} loadMore={() => void loadMore()} what="played tracks" />
          </>
        )}
      </Loaded>
    </section>
  );
}

/** Recommendations: "because you listened to …" groups, then the cold-start picks. */
export function ForYouPage() {
  const { api } = useServices();
  const { state, reload } = useAsync(async () => {
    const recs = await api.recommendations();
    const wanted = new Set<string>(recs.for_you.slice(0, 20));
    for (const group of recs.because_you_listened_to.slice(0, 5)) {
      wanted.add(group.seed_track_id);
      group.tracks.slice(0, 10).forEach((t) => wanted.add(t.track_id));
    }
    const found = await Promise.allSettled([...wanted].map((id) => api.track(id)));
    const tracks = new Map<string, Track>();
    for (const r of found) if (r.status === "fulfilled") tracks.set(r.value.track_id, r.value);
    return { recs, tracks };
  }, [api]);
  return (
    <section>
      <h1>For you</h1>
      <Loaded
        state={state}
        retry={reload}
        empty={({ recs }) => recs.for_you.length === 0 && recs.because_you_listened_to.length === 0}
        emptyText="Listen to a few tracks and recommendations appear here."
      >
        {({ recs, tracks }) => {
          const pick = (ids: string[]) => ids.map((id) => tracks.get(id)).filter((t): t is Track => !!t);
          return (
            <>
              {recs.because_you_listened_to.map((group) => (
                <div key={group.seed_track_id}>
                  <h2>Because you listened to {tracks.get(group.seed_track_id)?.title ?? "a track"}</h2>
                  <TrackList tracks={pick(group.tracks.map((t) => t.track_id))} />
                </div>
              ))}
              {recs.for_you.length > 0 && (
                <>
                  <h2>Picked for you</h2>
                  <TrackList tracks={pick(recs.for_you)} />
                </>
              )}
            </>
          );
        }}
      </Loaded>
    </section>
  );
}

import type { Track } from "../lib/endpoints";
import { useServices } from "./context";
import { formatDuration, Loaded, useAsync } from "./hooks";
import { TrackList } from "./Tracks";

/** Likes and recent plays of this browser session (the API offers no read of either yet). */
export function LibraryPage() {
  const { api, liked, recent } = useServices();
  const ids = [...liked];
  const likedTracks = useAsync(() => Promise.all(ids.map((id) => api.track(id))), [api, ids.join()]);
  return (
    <section>
      <h1>Library</h1>
      <h2>Liked</h2>
      {ids.length === 0 ? (
        <p className="muted">Tracks you like (♡) appear here.</p>
      ) : (
        <Loaded state={likedTracks.state} retry={likedTracks.reload}>
          {(tracks) => <TrackList tracks={tracks} />}
        </Loaded>
      )}
      <h2>Recently played</h2>
      {recent.length === 0 ? (
        <p className="muted">Nothing played yet.</p>
      ) : (
        <ol className="list">
          {recent.map((p, i) => (
            <li key={i}>
              <strong>{p.title}</strong> <span className="muted">{p.artist}</span>{" "}
              <span className="muted">
                listened {formatDuration(p.msPlayed)} at {p.at.toLocaleTimeString()}
              </span>
            </li>
          ))}
        </ol>
      )}
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

import { useEffect, useState } from "react";
import type { Track } from "../lib/endpoints";
import { useServices } from "./context";
import { Loaded, type Async } from "./hooks";
import { TrackList } from "./Tracks";

/** Results as you type: debounced, and an earlier request is cancelled by the next keystroke. */
export function SearchPage() {
  const { api } = useServices();
  const [q, setQ] = useState(() => sessionStorage.getItem("soundstack.q") ?? "");
  const [state, setState] = useState<Async<Track[]> | null>(null);
  useEffect(() => {
    sessionStorage.setItem("soundstack.q", q);
    if (!/\w/.test(q)) {
      setState(null);
      return;
    }
    const abort = new AbortController();
    const timer = setTimeout(() => {
      setState({ status: "loading" });
      api.search(q.trim(), abort.signal).then(
        (data) => setState({ status: "ready", data }),
        (error: unknown) => !abort.signal.aborted && setState({ status: "error", error }),
      );
    }, 250);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [api, q]);
  return (
    <section>
      <h1>Search</h1>
      <form role="search" onSubmit={(e) => e.preventDefault()}>
        <label htmlFor="q" className="sr-only">
          Search tracks, artists, albums
        </label>
        <input id="q" type="search" value={q} maxLength={200} placeholder="Tracks, artists, albums" onChange={(e) => setQ(e.target.value)} autoFocus />
      </form>
      <div aria-live="polite">
        {state === null ? (
          <p className="muted">Type to search the catalog.</p>
        ) : (
          <Loaded state={state} empty={(d) => d.length === 0} emptyText={`No tracks match “${q}”.`}>
            {(tracks) => <TrackList tracks={tracks} />}
          </Loaded>
        )}
      </div>
    </section>
  );
}

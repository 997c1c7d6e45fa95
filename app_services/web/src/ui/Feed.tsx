import { useEffect, useState, type FormEvent } from "react";
import type { ActivityEvent } from "../lib/endpoints";
import { FeedConnection, type FeedStatus } from "../lib/feed";
import { useServices } from "./context";
import { describe } from "./hooks";

const VERBS = { play: "played", like: "liked", follow: "followed" } as const;

/** What the people you follow do, live over the WebSocket feed. */
export function FeedPage() {
  const { config, session, api } = useServices();
  const [events, setEvents] = useState<ActivityEvent[]>([]);
  const [status, setStatus] = useState<{ s: FeedStatus; retry?: number }>({ s: "closed" });
  const [note, setNote] = useState<string | null>(null);
  const [titles, setTitles] = useState<Record<string, string>>({});

  useEffect(() => {
    if (!config.feedUrl) return;
    const feed = new FeedConnection({
      url: config.feedUrl,
      token: () => session.feedToken(),
      onEvent: (e) => setEvents((list) => [e, ...list].slice(0, 50)),
      onStatus: (s, retry) => setStatus({ s, retry }),
    });
    feed.start();
    return () => feed.stop();
  }, [config.feedUrl, session]);

  useEffect(() => {
    for (const e of events) {
      if (e.kind === "follow" || titles[e.target_id] !== undefined) continue;
      setTitles((t) => ({ ...t, [e.target_id]: "…" }));
      api.track(e.target_id).then(
        (track) => setTitles((t) => ({ ...t, [e.target_id]: `${track.title} — ${track.artist}` })),
        () => setTitles((t) => ({ ...t, [e.target_id]: "a track" })),
      );
    }
  }, [api, events, titles]);

  const follow = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const user = String(new FormData(form).get("user") ?? "").trim();
    try {
      await api.follow(user);
      setNote(`You follow ${user}: their plays appear here.`);
      form.reset();
    } catch (err) {
      setNote(describe(err));
    }
  };

  return (
    <section>
      <h1>Live</h1>
      <form className="inline" onSubmit={follow}>
        <label>
          Follow a user
          <input name="user" required maxLength={128} placeholder="User id" />
        </label>
        <button type="submit">Follow</button>
      </form>
      {note && <p role="status">{note}</p>}
      {!config.feedUrl ? (
        <p className="muted">No live feed is configured for this deployment (config.json “feedUrl”).</p>
      ) : (
        <p className="muted" role="status">
          {status.s === "open" && "Connected."}
          {status.s === "connecting" && "Connecting…"}
          {status.s === "waiting" && `Disconnected; retrying in ${Math.ceil((status.retry ?? 0) / 1000)} s.`}
          {status.s === "closed" && "Not connected."}
        </p>
      )}
      {events.length === 0 ? (
        <p className="muted">Nothing yet: activity of the people you follow appears as it happens.</p>
      ) : (
        <ol className="list" aria-live="polite">
          {events.map((e) => (
            <li key={e.event_id}>
              <strong>{e.user_id}</strong> {VERBS[e.kind]} {e.kind === "follow" ? e.target_id : titles[e.target_id] ?? "a track"}{" "}
              <span className="muted">{new Date(e.occurred_at).toLocaleTimeString()}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

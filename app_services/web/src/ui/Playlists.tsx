import { useEffect, useState, type FormEvent } from "react";
import { newId } from "../lib/api";
import { allEntries, type PlaylistEntry, type PlaylistPage as Page } from "../lib/endpoints";
import { moveItem } from "../lib/queue";
import { useServices } from "./context";
import { describe, formatDuration, href, Loaded, useAsync } from "./hooks";
import { toQueueItem, usePlayer } from "./Player";

export function PlaylistsPage() {
  const { api } = useServices();
  const { state, reload } = useAsync(() => api.playlists(), [api]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // One key per intended creation: a retried or double-submitted form makes one playlist.
  const [key, setKey] = useState(newId);
  const create = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const name = String(new FormData(form).get("name") ?? "").trim();
    if (!name) return;
    setBusy(true);
    setError(null);
    try {
      const created = await api.createPlaylist(name, false, key);
      form.reset();
      setKey(newId());
      window.location.hash = href("playlists", created.playlist_id);
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section>
      <h1>Playlists</h1>
      <form className="inline" onSubmit={create}>
        <label>
          New playlist
          <input name="name" required maxLength={100} placeholder="Name" />
        </label>
        <button type="submit" disabled={busy}>
          Create
        </button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      <Loaded state={state} retry={reload} empty={(d) => d.length === 0} emptyText="No playlists yet: create one above.">
        {(lists) => (
          <ul className="list">
            {lists.map((p) => (
              <li key={p.playlist_id}>
                <a href={href("playlists", p.playlist_id)}>{p.name}</a>{" "}
                <span className="muted">
                  {p.tracks} tracks{p.public ? " · public" : ""}
                </span>
              </li>
            ))}
          </ul>
        )}
      </Loaded>
    </section>
  );
}

/** One playlist: pages loaded on demand through `next`, reordered by drag and drop or keys. */
export function PlaylistPage({ id }: { id: string }) {
  const { api } = useServices();
  const player = usePlayer();
  const first = useAsync(() => api.playlistPage(id), [api, id]);
  const [head, setHead] = useState<Page | null>(null);
  const [entries, setEntries] = useState<PlaylistEntry[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [dragging, setDragging] = useState<number | null>(null);

  const show = (page: Page) => {
    setHead(page);
    setEntries(page.tracks);
    setNext(page.next);
  };
  useEffect(() => {
    if (first.state.status === "ready") show(first.state.data);
  }, [first.state]);

  const run = async (what: string, call: () => Promise<Page | void>) => {
    setNote(`${what}…`);
    try {
      const page = await call();
      // Writes answer with the first page; keep what was loaded beyond it by reloading it all.
      if (page && entries.length > page.tracks.length) show({ ...page, tracks: await allEntries(api, id), next: null });
      else if (page) show(page);
      setNote(null);
    } catch (error) {
      setNote(describe(error));
      first.reload();
    }
  };

  const move = (from: number, to: number) => {
    if (from === to || to < 0 || to >= entries.length) return;
    setEntries((list) => moveItem(list, from, to).map((e, i) => ({ ...e, position: i })));
    void run("Moving", () => api.moveTrack(id, from, to));
  };

  if (first.state.status !== "ready" || !head) return <Loaded state={first.state} retry={first.reload}>{() => null}</Loaded>;
  const editable = head.mine !== false;
  return (
    <section>
      <h1>{head.name}</h1>
      <p className="muted">
        {head.total_tracks} tracks · {head.public ? "public" : "private"}
      </p>
      <div className="toolbar">
        <button type="button" disabled={!head.total_tracks} onClick={() => void allEntries(api, id).then((all) => player.play(all.map(toQueueItem)), (e: unknown) => setNote(describe(e)))}>
          ▶ Play
        </button>
        {editable && (
          <>
            <RenameForm name={head.name} onRename={(name) => run("Renaming", () => api.updatePlaylist(id, { name }))} />
            <button type="button" onClick={() => run("Saving", () => api.updatePlaylist(id, { public: !head.public }))}>
              Make {head.public ? "private" : "public"}
            </button>
            <button
              type="button"
              className="danger"
              onClick={() => {
                if (!window.confirm(`Delete “${head.name}”?`)) return;
                api.deletePlaylist(id).then(
                  () => (window.location.hash = href("playlists")),
                  (e: unknown) => setNote(describe(e)),
                );
              }}
            >
              Delete
            </button>
          </>
        )}
      </div>
      {note && <p role="status">{note}</p>}
      {entries.length === 0 ? (
        <p className="muted">
          Empty. <a href={href("search")}>Search</a> and use “Add to playlist”.
        </p>
      ) : (
        <ol className="tracks" aria-label="Tracks (drag to reorder, or use the arrow buttons)">
          {entries.map((e, i) => (
            <li
              key={`${e.position}-${e.track_id}`}
              draggable={editable}
              className={dragging === i ? "dragging" : undefined}
              onDragStart={(ev) => {
                setDragging(i);
                ev.dataTransfer.effectAllowed = "move";
                ev.dataTransfer.setData("text/plain", String(i));
              }}
              onDragOver={(ev) => ev.preventDefault()}
              onDrop={(ev) => {
                ev.preventDefault();
                const from = Number(ev.dataTransfer.getData("text/plain"));
                setDragging(null);
                move(from, i);
              }}
              onDragEnd={() => setDragging(null)}
            >
              <span className="handle" aria-hidden="true">
                ⠿
              </span>
              <span className="title">
                <strong>{e.title}</strong> <span className="muted">{e.artist}</span>
              </span>
              <span className="muted duration">{formatDuration(e.duration_ms)}</span>
              {editable && (
                <span className="actions">
                  <button type="button" onClick={() => move(i, i - 1)} disabled={i === 0} aria-label={`Move ${e.title} up`}>
                    ↑
                  </button>
                  <button type="button" onClick={() => move(i, i + 1)} disabled={i === entries.length - 1} aria-label={`Move ${e.title} down`}>
                    ↓
                  </button>
                  <button type="button" onClick={() => run("Removing", () => api.removeTrack(id, e.position))} aria-label={`Remove ${e.title}`}>
                    ✕
                  </button>
                </span>
              )}
            </li>
          ))}
        </ol>
      )}
      {next && (
        <button
          type="button"
          onClick={() =>
            api.playlistPage(id, next).then(
              (page) => {
                setEntries((list) => [...list, ...page.tracks]);
                setNext(page.next);
              },
              (e: unknown) => setNote(describe(e)),
            )
          }
        >
          Load more ({head.total_tracks - entries.length} left)
        </button>
      )}
    </section>
  );
}

function RenameForm({ name, onRename }: { name: string; onRename: (name: string) => Promise<void> }) {
  const [value, setValue] = useState(name);
  useEffect(() => setValue(name), [name]);
  return (
    <form
      className="inline"
      onSubmit={(e) => {
        e.preventDefault();
        if (value.trim() && value.trim() !== name) void onRename(value.trim());
      }}
    >
      <label>
        <span className="sr-only">Playlist name</span>
        <input value={value} maxLength={100} required onChange={(e) => setValue(e.target.value)} />
      </label>
      <button type="submit">Rename</button>
    </form>
  );
}

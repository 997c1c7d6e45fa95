import { useServices } from "./context";
import { formatDuration, href, Loaded, useAsync } from "./hooks";
import { toQueueItem, usePlayer } from "./Player";
import { TrackList } from "./Tracks";

function Cover({ coverKey, title }: { coverKey: string | null; title: string }) {
  const { coverUrl } = useServices();
  const url = coverUrl(coverKey);
  return url ? <img className="cover" src={url} alt={`Cover of ${title}`} width={160} height={160} /> : <div className="cover none" aria-hidden="true">♪</div>;
}

export function AlbumPage({ id }: { id: string }) {
  const { api } = useServices();
  const player = usePlayer();
  const { state, reload } = useAsync(() => api.album(id), [api, id]);
  return (
    <Loaded state={state} retry={reload}>
      {(album) => (
        <section>
          <div className="hero">
            <Cover coverKey={album.cover_key} title={album.title} />
            <div>
              <h1>{album.title}</h1>
              <p>
                <a href={href("artist", album.artist_id)}>{album.artist}</a>
                {album.year ? ` · ${album.year}` : ""} · {album.tracks.length} tracks ·{" "}
                {formatDuration(album.tracks.reduce((sum, t) => sum + t.duration_ms, 0))}
              </p>
              <button type="button" disabled={!album.tracks.length} onClick={() => player.play(album.tracks.map(toQueueItem))}>
                ▶ Play album
              </button>
            </div>
          </div>
          {album.tracks.length ? <TrackList tracks={album.tracks} showAlbum={false} /> : <p className="muted">No tracks.</p>}
        </section>
      )}
    </Loaded>
  );
}

export function ArtistPage({ id }: { id: string }) {
  const { api } = useServices();
  const { state, reload } = useAsync(() => api.artist(id), [api, id]);
  return (
    <Loaded state={state} retry={reload}>
      {(artist) => (
        <section>
          <h1>{artist.name}</h1>
          {artist.albums.length === 0 ? (
            <p className="muted">No albums yet.</p>
          ) : (
            <ul className="grid">
              {artist.albums.map((a) => (
                <li key={a.album_id}>
                  <a href={href("album", a.album_id)}>
                    <Cover coverKey={a.cover_key} title={a.title} />
                    <span>{a.title}</span>
                    {a.year && <span className="muted"> {a.year}</span>}
                  </a>
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </Loaded>
  );
}

import { useCallback, useEffect, useMemo, useState } from "react";
import { ApiClient } from "../lib/api";
import type { RuntimeConfig } from "../lib/config";
import { SoundStackApi } from "../lib/endpoints";
import { CognitoSession, LocalSession, localRegister, type Session } from "../lib/session";
import { AlbumPage, ArtistPage } from "./Catalog";
import { Services, type AppServices, type Played } from "./context";
import { FeedPage } from "./Feed";
import { describe, href, useRoute } from "./hooks";
import { ForYouPage, LikesPage, RecentPage } from "./Library";
import { PlayerProvider } from "./Player";
import { PlaylistPage, PlaylistsPage } from "./Playlists";
import { SearchPage } from "./Search";
import { SignIn } from "./SignIn";
import { SubscriptionPage } from "./Subscription";

const redirectUri = () => `${window.location.origin}${window.location.pathname}`;

function makeSession(config: RuntimeConfig): Session {
  if (config.mode === "local") return new LocalSession(sessionStorage, localRegister(config.apiUrl));
  return new CognitoSession(config, redirectUri());
}

export function App({ config }: { config: RuntimeConfig }) {
  const session = useMemo(() => makeSession(config), [config]);
  const [, setVersion] = useState(0);
  const [signInError, setSignInError] = useState<string | null>(null);
  const [completing, setCompleting] = useState(() => new URLSearchParams(location.search).has("code") || new URLSearchParams(location.search).has("error"));
  useEffect(() => session.subscribe(() => setVersion((n) => n + 1)), [session]);

  // Back from the hosted UI: trade the code (once), then drop it from the address bar.
  useEffect(() => {
    if (!completing || !(session instanceof CognitoSession)) return;
    const query = new URLSearchParams(location.search);
    history.replaceState(null, "", redirectUri() + location.hash);
    session
      .completeSignIn(query)
      .catch((e: unknown) => setSignInError(describe(e)))
      .finally(() => setCompleting(false));
  }, [completing, session]);

  const user = session.user();
  if (completing) return <p role="status" className="center">Signing in…</p>;
  if (!user) return <SignIn session={session} error={signInError} />;
  return <SignedIn key={user.id} config={config} session={session} />;
}

function SignedIn({ config, session }: { config: RuntimeConfig; session: Session }) {
  const api = useMemo(() => new SoundStackApi(new ApiClient({ baseUrl: config.apiUrl, session })), [config, session]);
  const [liked, setLiked] = useState<Set<string>>(() => new Set());
  const [recent, setRecent] = useState<Played[]>([]);
  // The like buttons start from what the activity service knows (the newest 100 likes).
  useEffect(() => {
    let live = true;
    api.likes(null, 100).then(
      (page) => live && setLiked((s) => new Set([...s, ...page.tracks.map((t) => t.track_id)])),
      () => {
        /* the buttons then show only this session's likes; the Likes page says what failed */
      },
    );
    return () => {
      live = false;
    };
  }, [api]);
  const like = useCallback(
    async (track: { track_id: string }) => {
      await api.like(track.track_id);
      setLiked((s) => new Set(s).add(track.track_id));
    },
    [api],
  );
  const services: AppServices = useMemo(
    () => ({
      config,
      session,
      api,
      liked,
      like,
      recent,
      coverUrl: (key) => (key && config.mediaUrl ? `${config.mediaUrl}/${key}` : null),
    }),
    [config, session, api, liked, like, recent],
  );
  const onPlayed = useCallback((p: Played) => setRecent((r) => [p, ...r].slice(0, 50)), []);
  const user = session.user()!;
  return (
    <Services.Provider value={services}>
      <PlayerProvider onPlayed={onPlayed}>
        <a className="skip" href="#main">
          Skip to content
        </a>
        <header className="top">
          <a className="brand" href={href("search")}>
            SoundStack
          </a>
          <nav aria-label="Main">
            <a href={href("search")}>Search</a>
            <a href={href("playlists")}>Playlists</a>
            <a href={href("likes")}>Likes</a>
            <a href={href("recent")}>Recently played</a>
            <a href={href("for-you")}>For you</a>
            <a href={href("feed")}>Live</a>
            <a href={href("subscription")}>Subscription</a>
          </nav>
          <span className="who">
            {user.name}{" "}
            <button type="button" onClick={() => session.signOut()}>
              Sign out
            </button>
          </span>
        </header>
        <main id="main" tabIndex={-1}>
          <Routed />
        </main>
      </PlayerProvider>
    </Services.Provider>
  );
}

function Routed() {
  const [page = "search", id] = useRoute();
  useEffect(() => document.getElementById("main")?.focus({ preventScroll: true }), [page, id]);
  switch (page) {
    case "album":
      return <AlbumPage id={id ?? ""} />;
    case "artist":
      return <ArtistPage id={id ?? ""} />;
    case "playlists":
      return id ? <PlaylistPage id={id} /> : <PlaylistsPage />;
    case "likes":
      return <LikesPage />;
    case "recent":
      return <RecentPage />;
    case "for-you":
      return <ForYouPage />;
    case "feed":
      return <FeedPage />;
    case "subscription":
      return <SubscriptionPage />;
    default:
      return <SearchPage />;
  }
}

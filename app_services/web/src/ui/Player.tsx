import { createContext, useCallback, useContext, useEffect, useMemo, useReducer, useRef, useState, type ReactNode } from "react";
import { ApiError } from "../lib/api";
import type { StreamUrl } from "../lib/endpoints";
import { current, emptyQueue, expiresSoon, ListenTimer, queueReducer, RESTART_THRESHOLD_S, type QueueItem } from "../lib/queue";
import { useServices, type Played } from "./context";
import { describe, formatDuration, href } from "./hooks";

type Player = {
  play: (items: QueueItem[], start?: number) => void;
  enqueue: (items: QueueItem[]) => void;
};

const PlayerContext = createContext<Player | null>(null);

export function usePlayer(): Player {
  const value = useContext(PlayerContext);
  if (!value) throw new Error("usePlayer outside <PlayerProvider>");
  return value;
}

let keys = 0;
export function toQueueItem(t: { track_id: string; title: string; artist: string; duration_ms: number }): QueueItem {
  return { key: `q${++keys}`, trackId: t.track_id, title: t.title, artist: t.artist, durationMs: t.duration_ms };
}

/** The queue as state, one <audio> element following it, plays reported as they end
 * (`onPlayed` once the activity service recorded one). */
export function PlayerProvider({ children, onPlayed }: { children: ReactNode; onPlayed: (p: Played) => void }) {
  const { api } = useServices();
  const [queue, dispatch] = useReducer(queueReducer, emptyQueue);
  const audio = useRef<HTMLAudioElement>(null);
  const urls = useRef(new Map<string, StreamUrl>());
  const timer = useRef(new ListenTimer());
  const playing = useRef<QueueItem | null>(null);
  const resigned = useRef(0);
  const [paused, setPaused] = useState(true);
  const [position, setPosition] = useState(0);
  const [duration, setDuration] = useState(0);
  const [volume, setVolume] = useState(0.8);
  const [problem, setProblem] = useState<ReactNode>(null);
  const item = current(queue);

  /** A signed URL valid for a while yet (a new one when the cached one expires soon). */
  const streamUrl = useCallback(
    async (trackId: string, fresh = false) => {
      const cached = urls.current.get(trackId);
      if (!fresh && cached && !expiresSoon(cached.expires_at, Date.now())) return cached.url;
      const signed = await api.streamUrl(trackId);
      urls.current.set(trackId, signed);
      return signed.url;
    },
    [api],
  );

  /** Report what was listened of the item that is leaving (ended, skipped, replaced). */
  const report = useCallback(
    (leaving: QueueItem | null) => {
      if (!leaving) return;
      const ms = timer.current.take(leaving.durationMs);
      if (ms <= 0) return;
      const played = { trackId: leaving.trackId, title: leaving.title, artist: leaving.artist, msPlayed: ms, at: new Date() };
      api.reportPlay(leaving.trackId, ms).then(
        () => onPlayed(played),
        () => {
          /* the listen happened; a failed report must not interrupt playback */
        },
      );
    },
    [api, onPlayed],
  );

  // The queue moved to another entry: report the last one, load and start the new one.
  useEffect(() => {
    const el = audio.current;
    if (!el) return;
    if (playing.current?.key === item?.key) return;
    report(playing.current);
    playing.current = item;
    timer.current.begin();
    resigned.current = 0;
    setProblem(null);
    if (!item) {
      el.pause();
      el.removeAttribute("src");
      return;
    }
    let cancelled = false;
    streamUrl(item.trackId).then(
      (url) => {
        if (cancelled) return;
        el.src = url;
        el.play().catch(() => setPaused(true)); // autoplay refused: the user presses play
      },
      (error: unknown) => {
        if (cancelled) return;
        if (error instanceof ApiError && error.code === "subscription_required") {
          setProblem(
            <>
              Streaming needs an active subscription. <a href={href("subscription")}>See plans</a>
            </>,
          );
        } else setProblem(describe(error));
      },
    );
    return () => {
      cancelled = true;
    };
  }, [item, report, streamUrl]);

  useEffect(() => {
    if (audio.current) audio.current.volume = volume;
  }, [volume]);

  /** The CDN refused the URL (expired mid-queue or mid-track): sign again, resume where we were. */
  const onError = async () => {
    const el = audio.current;
    if (!el || !item || resigned.current >= 2) {
      setProblem("This track cannot be played right now.");
      return;
    }
    resigned.current += 1;
    const at = el.currentTime;
    try {
      el.src = await streamUrl(item.trackId, true);
      el.currentTime = at;
      await el.play();
    } catch (error) {
      setProblem(describe(error));
    }
  };

  const toggle = () => {
    const el = audio.current;
    if (!el || !item) return;
    if (el.paused) void el.play().catch((e: unknown) => setProblem(describe(e)));
    else el.pause();
  };
  const previous = () => {
    const el = audio.current;
    if (el && el.currentTime > RESTART_THRESHOLD_S) {
      timer.current.break();
      el.currentTime = 0;
    } else dispatch({ type: "previous" });
  };

  const player = useMemo<Player>(
    () => ({
      play: (items, start) => dispatch({ type: "play", items, start }),
      enqueue: (items) => dispatch({ type: "enqueue", items }),
    }),
    [],
  );

  return (
    <PlayerContext.Provider value={player}>
      {children}
      <section className="player" aria-label="Player">
        <audio
          ref={audio}
          data-testid="audio"
          preload="auto"
          onPlay={() => setPaused(false)}
          onPause={() => {
            setPaused(true);
            timer.current.break();
          }}
          onTimeUpdate={(e) => {
            timer.current.tick(e.currentTarget.currentTime);
            setPosition(e.currentTarget.currentTime);
          }}
          onSeeking={() => timer.current.break()}
          onDurationChange={(e) => setDuration(Number.isFinite(e.currentTarget.duration) ? e.currentTarget.duration : 0)}
          onEnded={() => dispatch({ type: "next" })}
          onError={() => void onError()}
        />
        <div className="now">
          {item ? (
            <>
              <strong>{item.title}</strong> <span className="muted">{item.artist}</span>
            </>
          ) : (
            <span className="muted">Nothing playing</span>
          )}
          {problem && (
            <p className="error" role="alert">
              {problem}
            </p>
          )}
        </div>
        <div className="controls">
          <button type="button" onClick={previous} disabled={!item} aria-label="Previous track">
            ◀◀
          </button>
          <button type="button" onClick={toggle} disabled={!item} aria-label={paused ? "Play" : "Pause"}>
            {paused ? "▶" : "❚❚"}
          </button>
          <button type="button" onClick={() => dispatch({ type: "next" })} disabled={!item} aria-label="Next track">
            ▶▶
          </button>
          <label className="seek">
            <span className="sr-only">Seek</span>
            <span aria-hidden="true">{formatDuration(position * 1000)}</span>
            <input
              type="range"
              min={0}
              max={duration || (item ? item.durationMs / 1000 : 0)}
              step={1}
              value={position}
              disabled={!item}
              aria-valuetext={`${formatDuration(position * 1000)} of ${formatDuration(duration * 1000)}`}
              onChange={(e) => {
                if (audio.current) audio.current.currentTime = Number(e.target.value);
              }}
            />
            <span aria-hidden="true">{formatDuration((duration || (item?.durationMs ?? 0) / 1000) * 1000)}</span>
          </label>
          <label className="volume">
            <span className="sr-only">Volume</span>
            <span aria-hidden="true">Vol</span>
            <input type="range" min={0} max={1} step={0.05} value={volume} onChange={(e) => setVolume(Number(e.target.value))} />
          </label>
        </div>
        <details className="queue">
          <summary>Queue ({queue.items.length})</summary>
          {queue.items.length === 0 ? (
            <p className="muted">The queue is empty. Play or queue tracks from search, albums or playlists.</p>
          ) : (
            <ol>
              {queue.items.map((q, i) => (
                <li key={q.key} aria-current={i === queue.index ? "true" : undefined}>
                  <button type="button" className="link" onClick={() => dispatch({ type: "jump", index: i })}>
                    {q.title} — {q.artist}
                  </button>
                  <button type="button" onClick={() => dispatch({ type: "remove", index: i })} aria-label={`Remove ${q.title} from the queue`}>
                    ✕
                  </button>
                </li>
              ))}
            </ol>
          )}
        </details>
      </section>
    </PlayerContext.Provider>
  );
}

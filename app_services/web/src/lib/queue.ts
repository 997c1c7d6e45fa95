/** The player's queue as plain state and a reducer (no DOM: the <audio> element follows it). */

export type QueueItem = {
  /** Unique per queue entry: the same track may be queued twice. */
  key: string;
  trackId: string;
  title: string;
  artist: string;
  durationMs: number;
};

export type QueueState = { items: QueueItem[]; index: number };

export type QueueAction =
  | { type: "play"; items: QueueItem[]; start?: number }
  | { type: "enqueue"; items: QueueItem[] }
  | { type: "next" }
  | { type: "previous" }
  | { type: "jump"; index: number }
  | { type: "remove"; index: number }
  | { type: "move"; from: number; to: number }
  | { type: "clear" };

export const emptyQueue: QueueState = { items: [], index: -1 };

export function current(state: QueueState): QueueItem | null {
  return state.items[state.index] ?? null;
}

/** Move one element as the playlist API does: take it out at `from`, insert it at `to`. */
export function moveItem<T>(list: readonly T[], from: number, to: number): T[] {
  if (from < 0 || from >= list.length || to < 0 || to >= list.length) return [...list];
  const copy = [...list];
  const [moved] = copy.splice(from, 1);
  copy.splice(to, 0, moved as T);
  return copy;
}

export function queueReducer(state: QueueState, action: QueueAction): QueueState {
  switch (action.type) {
    case "play": {
      if (action.items.length === 0) return emptyQueue;
      const start = Math.min(Math.max(action.start ?? 0, 0), action.items.length - 1);
      return { items: action.items, index: start };
    }
    case "enqueue": {
      const items = [...state.items, ...action.items];
      return { items, index: state.index < 0 && items.length ? 0 : state.index };
    }
    case "next":
      // Past the last item the queue stops (index -1 keeps the items for "play again").
      return { ...state, index: state.index + 1 < state.items.length ? state.index + 1 : -1 };
    case "previous":
      return { ...state, index: Math.max(state.index - 1, 0) };
    case "jump":
      if (action.index < 0 || action.index >= state.items.length) return state;
      return { ...state, index: action.index };
    case "remove": {
      if (action.index < 0 || action.index >= state.items.length) return state;
      const items = state.items.filter((_, i) => i !== action.index);
      let index = state.index;
      if (action.index < state.index) index -= 1;
      else if (action.index === state.index && index >= items.length) index = -1;
      return { items, index: items.length ? index : -1 };
    }
    case "move": {
      const items = moveItem(state.items, action.from, action.to);
      const playing = current(state);
      return { items, index: playing ? items.indexOf(playing) : state.index };
    }
    case "clear":
      return emptyQueue;
  }
}

/** "Previous" restarts the track when more than this has been played, as players do. */
export const RESTART_THRESHOLD_S = 3;

/** Milliseconds actually listened: advances with playback, not with seeks. */
export class ListenTimer {
  private lastS: number | null = null;
  playedMs = 0;

  /** Call on `timeupdate` with `currentTime`; jumps over 2 s are seeks and do not count. */
  tick(currentTimeS: number): void {
    if (this.lastS !== null) {
      const delta = currentTimeS - this.lastS;
      if (delta > 0 && delta < 2) this.playedMs += delta * 1000;
    }
    this.lastS = currentTimeS;
  }

  /** A new track loads at 0 s: its first tick counts from there. */
  begin(): void {
    this.playedMs = 0;
    this.lastS = 0;
  }

  /** A seek or pause: the next tick starts a new span. */
  break(): void {
    this.lastS = null;
  }

  /** The listened time, bounded by the track's duration, and reset for the next track. */
  take(durationMs: number): number {
    const ms = Math.round(Math.min(this.playedMs, durationMs > 0 ? durationMs : this.playedMs));
    this.playedMs = 0;
    this.lastS = null;
    return ms;
  }
}

/** True when a signed URL expires within `marginMs` (fetch a new one before using it). */
export function expiresSoon(expiresAt: string, now: number, marginMs = 15_000): boolean {
  const at = Date.parse(expiresAt);
  return !Number.isFinite(at) || at - now <= marginMs;
}

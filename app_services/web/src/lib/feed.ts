/** The live feed: a WebSocket that reconnects with capped, jittered exponential back-off. */

import type { ActivityEvent } from "./endpoints";

export type FeedStatus = "connecting" | "open" | "waiting" | "closed";

export type FeedOptions = {
  url: string;
  token: () => Promise<string | null>;
  onEvent: (event: ActivityEvent) => void;
  onStatus: (status: FeedStatus, retryInMs?: number) => void;
  socket?: (url: string) => WebSocket;
  random?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
  /** API Gateway closes idle WebSocket connections after 10 minutes: ping well before. */
  keepAliveMs?: number;
};

/** Delay before reconnect attempt `n` (0-based): between half and all of min(cap, base·2^n). */
export function reconnectDelay(n: number, random: () => number, base = 1_000, cap = 30_000) {
  const ceiling = Math.min(cap, base * 2 ** n);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export class FeedConnection {
  private ws: WebSocket | null = null;
  private attempts = 0;
  private timer: unknown = null;
  private ping: unknown = null;
  private stopped = false;

  constructor(private o: FeedOptions) {}

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.ws?.close(1000, "bye");
    this.ws = null;
    this.o.onStatus("closed");
  }

  private clearTimers(): void {
    const clear = this.o.clearTimeout ?? ((h: unknown) => clearTimeout(h as number));
    if (this.timer !== null) clear(this.timer);
    if (this.ping !== null) clear(this.ping);
    this.timer = this.ping = null;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.o.onStatus("connecting");
    const token = await this.o.token();
    if (this.stopped) return;
    if (!token) {
      this.o.onStatus("closed");
      return;
    }
    const url = `${this.o.url}${this.o.url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
    const ws = (this.o.socket ?? ((u) => new WebSocket(u)))(url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempts = 0;
      this.o.onStatus("open");
      this.keepAlive();
    };
    ws.onmessage = (message) => {
      try {
        const data = JSON.parse(String(message.data));
        if (data?.type === "activity" && data.event) this.o.onEvent(data.event as ActivityEvent);
      } catch {
        /* not ours */
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearTimers();
      if (this.stopped) return;
      const delay = reconnectDelay(this.attempts++, this.o.random ?? Math.random);
      this.o.onStatus("waiting", delay);
      this.timer = (this.o.setTimeout ?? setTimeout)(() => void this.connect(), delay);
    };
  }

  private keepAlive(): void {
    const every = this.o.keepAliveMs ?? 5 * 60_000;
    this.ping = (this.o.setTimeout ?? setTimeout)(() => {
      if (this.ws?.readyState === 1) this.ws.send('{"action":"ping"}');
      this.keepAlive();
    }, every);
  }
}

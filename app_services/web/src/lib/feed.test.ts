import { describe, expect, it, vi } from "vitest";
import { FeedConnection, reconnectDelay } from "./feed";

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(d: string) {
    this.sent.push(d);
  }
  close() {
    this.readyState = 3;
    this.onclose?.();
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
}

describe("feed", () => {
  it("back-off doubles per attempt, jittered, capped at 30 s", () => {
    expect(reconnectDelay(0, () => 0)).toBe(500);
    expect(reconnectDelay(0, () => 1)).toBe(1000);
    expect(reconnectDelay(3, () => 1)).toBe(8000);
    expect(reconnectDelay(20, () => 1)).toBe(30000);
  });

  it("connects with the token, delivers activity, reconnects with growing delays, resets on open", async () => {
    FakeSocket.all = [];
    const timers: { fn: () => void; ms: number }[] = [];
    const onEvent = vi.fn();
    const statuses: string[] = [];
    const feed = new FeedConnection({
      url: "wss://feed.example.com/prod",
      token: async () => "tok en",
      onEvent,
      onStatus: (s, ms) => statuses.push(ms ? `${s}:${ms}` : s),
      socket: (u) => new FakeSocket(u) as unknown as WebSocket,
      random: () => 1,
      setTimeout: (fn, ms) => timers.push({ fn, ms }),
      clearTimeout: () => {},
      keepAliveMs: 1e9,
    });
    feed.start();
    await vi.waitFor(() => expect(FakeSocket.all).toHaveLength(1));
    const first = FakeSocket.all[0]!;
    expect(first.url).toBe("wss://feed.example.com/prod?token=tok%20en");
    first.open();
    first.onmessage?.({ data: JSON.stringify({ type: "activity", event: { kind: "play", user_id: "bob" } }) });
    first.onmessage?.({ data: "not json" });
    expect(onEvent).toHaveBeenCalledTimes(1);

    first.readyState = 3;
    first.onclose?.();
    expect(timers.at(-1)!.ms).toBe(1000);
    timers.at(-1)!.fn();
    await vi.waitFor(() => expect(FakeSocket.all).toHaveLength(2));
    FakeSocket.all[1]!.onclose?.(); // failed again before opening
    expect(timers.at(-1)!.ms).toBe(2000);
    timers.at(-1)!.fn();
    await vi.waitFor(() => expect(FakeSocket.all).toHaveLength(3));
    FakeSocket.all[2]!.open();
    FakeSocket.all[2]!.onclose?.();
    expect(timers.at(-1)!.ms).toBe(1000); // reset after a successful open
    feed.stop();
    expect(statuses.at(-1)).toBe("closed");
  });
});

import { describe, expect, it } from "vitest";
import { emptyQueue, expiresSoon, ListenTimer, moveItem, queueReducer, type QueueItem } from "./queue";

const item = (n: number): QueueItem => ({
  key: `k${n}`,
  trackId: `t${n}`,
  title: `T${n}`,
  artist: "A",
  durationMs: 60_000,
});
const three = [item(0), item(1), item(2)];

describe("queue", () => {
  it("plays from a start index and walks next/previous", () => {
    let s = queueReducer(emptyQueue, { type: "play", items: three, start: 1 });
    expect(s.index).toBe(1);
    s = queueReducer(s, { type: "next" });
    expect(s.index).toBe(2);
    s = queueReducer(s, { type: "next" });
    expect(s.index).toBe(-1); // stops after the last track
    s = queueReducer({ ...s, index: 0 }, { type: "previous" });
    expect(s.index).toBe(0);
  });

  it("keeps the playing item when items move or earlier ones are removed", () => {
    let s = queueReducer(emptyQueue, { type: "play", items: three, start: 1 });
    s = queueReducer(s, { type: "move", from: 1, to: 2 });
    expect(s.items.map((i) => i.key)).toEqual(["k0", "k2", "k1"]);
    expect(s.items[s.index]?.key).toBe("k1");
    s = queueReducer(s, { type: "remove", index: 0 });
    expect(s.items[s.index]?.key).toBe("k1");
  });

  it("removing the playing last item stops; enqueue on empty selects the first", () => {
    let s = queueReducer(emptyQueue, { type: "play", items: three, start: 2 });
    s = queueReducer(s, { type: "remove", index: 2 });
    expect(s.index).toBe(-1);
    s = queueReducer(emptyQueue, { type: "enqueue", items: [item(5)] });
    expect(s.index).toBe(0);
  });

  it("moveItem matches the API's take-out-then-insert semantics", () => {
    expect(moveItem(["a", "b", "c", "d"], 0, 2)).toEqual(["b", "c", "a", "d"]);
    expect(moveItem(["a", "b", "c", "d"], 3, 0)).toEqual(["d", "a", "b", "c"]);
    expect(moveItem(["a", "b"], 0, 5)).toEqual(["a", "b"]);
  });
});

describe("ListenTimer", () => {
  it("counts played time, not seeks, and is bounded by the duration", () => {
    const t = new ListenTimer();
    for (const s of [0, 0.25, 0.5, 0.75, 1]) t.tick(s);
    t.tick(40); // a seek forward
    t.tick(40.5);
    expect(t.take(60_000)).toBe(1500);
    expect(t.take(60_000)).toBe(0);
    for (let s = 0; s < 100; s += 0.5) t.tick(s);
    expect(t.take(10_000)).toBe(10_000);
  });

  it("a track begun at 0 counts from 0, so a whole 1 s track reports 1000 ms", () => {
    const t = new ListenTimer();
    t.begin();
    for (const s of [0.25, 0.5, 0.75, 1]) t.tick(s);
    expect(t.take(1000)).toBe(1000);
  });

  it("a pause breaks the span", () => {
    const t = new ListenTimer();
    t.tick(1);
    t.tick(1.5);
    t.break();
    t.tick(1.9);
    t.tick(2.4);
    expect(t.take(60_000)).toBe(1000);
  });
});

describe("expiresSoon", () => {
  const now = Date.parse("2026-12-01T00:00:00Z");
  it("asks for a new URL near or past expiry, or when the date is unreadable", () => {
    expect(expiresSoon("2026-12-01T00:05:00Z", now)).toBe(false);
    expect(expiresSoon("2026-12-01T00:00:10Z", now)).toBe(true);
    expect(expiresSoon("2026-11-30T23:00:00Z", now)).toBe(true);
    expect(expiresSoon("garbage", now)).toBe(true);
  });
});

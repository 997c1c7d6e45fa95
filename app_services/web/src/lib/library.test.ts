import { describe, expect, it } from "vitest";
import type { Track } from "./endpoints";
import { appendPage, emptyListing, joinTracks, type LikedRow } from "./library";

const track = (id: string) => ({ track_id: id, title: `T ${id}` }) as Track;
const row = (id: string): LikedRow => ({ track_id: id, liked_at: "2026-12-01T00:00:00+00:00" });

describe("joinTracks", () => {
  it("joins rows with their tracks and marks the ones the catalog cannot give", async () => {
    const lookup = async (id: string) => {
      if (id === "gone") throw new Error("404");
      return track(id);
    };
    const joined = await joinTracks([row("a"), row("gone")], lookup);
    expect(joined.map((r) => [r.track_id, r.track?.title ?? null])).toEqual([
      ["a", "T a"],
      ["gone", null],
    ]);
  });
});

describe("appendPage", () => {
  it("appends in order, keeps the next link, and never shows a track twice", async () => {
    const first = appendPage(emptyListing<LikedRow>(), { rows: await joinTracks([row("a"), row("b")], async (id) => track(id)), next: "/n1" });
    const second = appendPage(first, { rows: await joinTracks([row("b"), row("c")], async (id) => track(id)), next: null });
    expect(first.next).toBe("/n1");
    expect(second.rows.map((r) => r.track_id)).toEqual(["a", "b", "c"]);
    expect(second.next).toBeNull();
  });
});

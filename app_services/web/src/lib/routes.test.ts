import { describe, expect, it } from "vitest";
import { href, parseRoute } from "./routes";

describe("parseRoute", () => {
  it("splits and decodes the hash route", () => {
    expect(parseRoute("#/album/a%20b")).toEqual(["album", "a b"]);
    expect(parseRoute("")).toEqual([]);
    expect(parseRoute("#/")).toEqual([]);
    expect(parseRoute(href("playlists", "x/y"))).toEqual(["playlists", "x/y"]);
  });

  it("ignores a query a payment provider appended to the return route", () => {
    expect(parseRoute("#/subscription?session_id=cs_test_1")).toEqual(["subscription"]);
  });

  it("keeps a malformed escape as typed instead of failing", () => {
    expect(parseRoute("#/album/%E0%A4%A")).toEqual(["album", "%E0%A4%A"]);
  });
});

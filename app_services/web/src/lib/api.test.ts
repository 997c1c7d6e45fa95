import { describe, expect, it, vi } from "vitest";
import { ApiClient, ApiError, backoff } from "./api";
import { allEntries, parseNext, SoundStackApi } from "./endpoints";
import type { Session } from "./session";

function session(overrides: Partial<Session> = {}): Session {
  return {
    user: () => ({ id: "u", name: "u" }),
    authHeaders: async () => ({ authorization: "Bearer T" }),
    recover: async () => false,
    feedToken: async () => "T",
    signOut: () => {},
    subscribe: () => () => {},
    ...overrides,
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });

function client(fetchFn: typeof fetch, s: Session = session()) {
  const sleep = vi.fn(async () => {});
  return { sleep, http: new ApiClient({ baseUrl: "/api", session: s, fetch: fetchFn, sleep, random: () => 0.5 }) };
}

describe("ApiClient", () => {
  it("maps the services' error body to ApiError with code, field and request id", async () => {
    const fetchFn = vi.fn(async () =>
      json(400, { error: { code: "invalid_request", message: "too long", field: "name" } }, { "x-request-id": "r1" }),
    );
    const err = (await client(fetchFn).http.request("POST", "/playlists", { body: {} }).catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, code: "invalid_request", field: "name", requestId: "r1" });
    expect(err.friendly).toBe("name: too long");
    expect(fetchFn).toHaveBeenCalledTimes(1);
  });

  it("a non-JSON error page still becomes an ApiError", async () => {
    const fetchFn = vi.fn(async () => new Response("<html>bad gateway</html>", { status: 500 }));
    const err = await client(fetchFn).http.request("POST", "/x").catch((e) => e);
    expect(err).toMatchObject({ status: 500, code: "http_500" });
  });

  it("retries GETs on 503 and network errors with back-off, honouring Retry-After", async () => {
    const fetchFn = vi
      .fn()
      .mockResolvedValueOnce(json(503, {}, { "retry-after": "2" }))
      .mockRejectedValueOnce(new TypeError("network"))
      .mockResolvedValueOnce(json(200, [{ ok: 1 }]));
    const { http, sleep } = client(fetchFn);
    expect(await http.request("GET", "/catalog/search", { query: { q: "a b" } })).toEqual([{ ok: 1 }]);
    expect(sleep.mock.calls.map((c) => (c as unknown[])[0])).toEqual([2000, 200]);
    expect(fetchFn.mock.calls[0]![0]).toBe("/api/catalog/search?q=a+b");
  });

  it("never retries a POST without an idempotency key; retries one with it, same key", async () => {
    const fail = vi.fn(async () => json(503, {}));
    await expect(client(fail).http.request("POST", "/playlists", { body: {} })).rejects.toMatchObject({ status: 503 });
    expect(fail).toHaveBeenCalledTimes(1);

    const flaky = vi.fn().mockResolvedValueOnce(json(502, {})).mockResolvedValueOnce(json(201, { id: 1 }));
    await client(flaky).http.request("POST", "/playlists", { body: {}, idempotencyKey: "K" });
    const keys = flaky.mock.calls.map((c) => ((c as unknown[])[1] as RequestInit).headers as Record<string, string>);
    expect(keys.map((h) => h["idempotency-key"])).toEqual(["K", "K"]);
  });

  it("gives up after the retry budget", async () => {
    const fetchFn = vi.fn(async () => json(504, {}));
    await expect(client(fetchFn).http.request("GET", "/x")).rejects.toMatchObject({ status: 504 });
    expect(fetchFn).toHaveBeenCalledTimes(4);
  });

  it("after a 401 recovers the session once and repeats the request with new headers", async () => {
    let token = "old";
    const s = session({
      authHeaders: async () => ({ authorization: `Bearer ${token}` }),
      recover: vi.fn(async () => {
        token = "new";
        return true;
      }),
    });
    const fetchFn = vi.fn(async (_url: string, init: RequestInit) =>
      (init.headers as Record<string, string>).authorization === "Bearer new" ? json(200, { ok: true }) : json(401, { error: { code: "unauthorized", message: "expired" } }),
    );
    expect(await client(fetchFn as unknown as typeof fetch, s).http.request("GET", "/playlists")).toEqual({ ok: true });
    expect(s.recover).toHaveBeenCalledTimes(1);
  });

  it("a second 401 is returned, not looped", async () => {
    const s = session({ recover: vi.fn(async () => true) });
    const fetchFn = vi.fn(async () => json(401, { error: { code: "unauthorized", message: "no" } }));
    await expect(client(fetchFn, s).http.request("GET", "/x")).rejects.toMatchObject({ status: 401 });
    expect(fetchFn).toHaveBeenCalledTimes(2);
  });

  it("204 resolves to undefined", async () => {
    expect(await client(vi.fn(async () => new Response(null, { status: 204 }))).http.request("DELETE", "/p/1")).toBeUndefined();
  });

  it("back-off grows and is capped", () => {
    expect(backoff(0, () => 0.999)).toBe(199);
    expect(backoff(10, () => 0.999)).toBe(4995);
  });
});

describe("endpoints", () => {
  it("follows next links to read a whole playlist", async () => {
    const pages: Record<string, unknown> = {
      "/api/playlists/p1?limit=100": { playlist_id: "p1", total_tracks: 3, tracks: [{ position: 0 }, { position: 1 }], next: "/playlists/p1?cursor=2&limit=2" },
      "/api/playlists/p1?cursor=2&limit=2": { playlist_id: "p1", total_tracks: 3, tracks: [{ position: 2 }], next: null },
    };
    const fetchFn = vi.fn(async (url: string) => json(200, pages[url]));
    const api = new SoundStackApi(client(fetchFn as unknown as typeof fetch).http);
    expect((await allEntries(api, "p1")).map((e) => e.position)).toEqual([0, 1, 2]);
    expect(parseNext("/playlists/p1?cursor=2&limit=2")).toEqual({ path: "/playlists/p1", query: { cursor: "2", limit: "2" } });
  });

  it("a play report carries a client event id, the track and rounded ms, and is retried safely", async () => {
    const fetchFn = vi.fn().mockResolvedValueOnce(json(503, {})).mockResolvedValueOnce(json(201, {}));
    const api = new SoundStackApi(client(fetchFn).http);
    await api.reportPlay("t1", 1234.6, "e-1");
    const bodies = fetchFn.mock.calls.map((c) => JSON.parse(((c as unknown[])[1] as RequestInit).body as string));
    expect(bodies).toEqual([
      { event_id: "e-1", track_id: "t1", ms_played: 1235 },
      { event_id: "e-1", track_id: "t1", ms_played: 1235 },
    ]);
  });

  it("no subscription (404) is null, other errors propagate", async () => {
    const api404 = new SoundStackApi(client(vi.fn(async () => json(404, { error: { code: "not_found", message: "none" } }))).http);
    expect(await api404.subscription()).toBeNull();
    const api403 = new SoundStackApi(client(vi.fn(async () => json(403, { error: { code: "forbidden", message: "x" } }))).http);
    await expect(api403.subscription()).rejects.toMatchObject({ status: 403 });
  });
});

import { describe, expect, it, vi } from "vitest";
import type { CognitoConfig } from "./config";
import { CognitoSession, LocalSession, localRegister, REFRESH_SKEW_MS, type Clock } from "./session";

const config: CognitoConfig = {
  mode: "cognito",
  apiUrl: "/api",
  feedUrl: "",
  mediaUrl: "",
  region: "eu-west-1",
  userPoolId: "eu-west-1_abc",
  clientId: "client123",
  hostedUiDomain: "auth.example.com",
};

class MemoryStorage implements Storage {
  private m = new Map<string, string>();
  get length() {
    return this.m.size;
  }
  clear() {
    this.m.clear();
  }
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  key(i: number) {
    return [...this.m.keys()][i] ?? null;
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
  setItem(k: string, v: string) {
    this.m.set(k, v);
  }
}

function fakeClock(start = 1_000_000) {
  let now = start;
  const timers: { at: number; fn: () => void }[] = [];
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const t = { at: now + ms, fn };
      timers.push(t);
      return t;
    },
    clearTimeout: (h) => {
      const i = timers.indexOf(h as (typeof timers)[number]);
      if (i >= 0) timers.splice(i, 1);
    },
  };
  return {
    clock,
    advance(ms: number) {
      now += ms;
      for (const t of [...timers]) {
        if (t.at <= now) {
          timers.splice(timers.indexOf(t), 1);
          t.fn();
        }
      }
    },
    pending: () => timers.length,
  };
}

const jwt = (claims: object) =>
  `h.${btoa(JSON.stringify(claims)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")}.s`;

function tokenReply(access: string, refresh?: string) {
  return new Response(
    JSON.stringify({
      access_token: access,
      id_token: jwt({ sub: "u-1", email: "zoe@example.com" }),
      ...(refresh ? { refresh_token: refresh } : {}),
      expires_in: 3600,
    }),
    { status: 200, headers: { "content-type": "application/json" } },
  );
}

describe("CognitoSession", () => {
  it("completes sign-in: checks state, sends the verifier, keeps tokens in memory", async () => {
    const storage = new MemoryStorage();
    const fetchFn = vi.fn(async () => tokenReply("A1", "R1"));
    const s = new CognitoSession(config, "https://app/", fetchFn, fakeClock().clock, storage);
    const url = new URL(await s.beginSignIn());
    const state = url.searchParams.get("state")!;
    await s.completeSignIn(new URLSearchParams({ code: "c", state }));
    const body = (fetchFn.mock.calls[0] as unknown as [string, RequestInit])[1].body as URLSearchParams;
    expect(body.get("code_verifier")).toMatch(/^[A-Za-z0-9\-._~]{64}$/);
    expect(await s.authHeaders()).toEqual({ authorization: "Bearer A1" });
    expect(s.user()).toEqual({ id: "u-1", name: "zoe@example.com" });
    expect(storage.length).toBe(0); // the verifier is gone; tokens never touch storage
  });

  it("rejects a reply whose state does not match", async () => {
    const storage = new MemoryStorage();
    const s = new CognitoSession(config, "https://app/", vi.fn(), fakeClock().clock, storage);
    await s.beginSignIn();
    await expect(
      s.completeSignIn(new URLSearchParams({ code: "c", state: "forged" })),
    ).rejects.toThrow(/does not match/);
  });

  it("refreshes silently before expiry and keeps the refresh token", async () => {
    const t = fakeClock();
    const fetchFn = vi.fn(async () => tokenReply("A2"));
    const s = new CognitoSession(config, "https://app/", fetchFn, t.clock, new MemoryStorage());
    s.store({ accessToken: "A1", idToken: jwt({ sub: "u" }), refreshToken: "R1", expiresAt: t.clock.now() + 3_600_000 });
    t.advance(3_600_000 - REFRESH_SKEW_MS - 1);
    expect(fetchFn).not.toHaveBeenCalled();
    t.advance(1);
    await vi.waitFor(() => expect(fetchFn).toHaveBeenCalledTimes(1));
    const body = (fetchFn.mock.calls[0] as unknown as [string, RequestInit])[1].body as URLSearchParams;
    expect(body.get("grant_type")).toBe("refresh_token");
    expect(body.get("refresh_token")).toBe("R1");
    await vi.waitFor(async () => expect(await s.authHeaders()).toEqual({ authorization: "Bearer A2" }));
    expect(t.pending()).toBe(1); // the next refresh is scheduled, still with R1
  });

  it("concurrent callers with an expiring token share one refresh", async () => {
    const t = fakeClock();
    let release!: () => void;
    const gate = new Promise<void>((ok) => (release = ok));
    const fetchFn = vi.fn(async () => {
      await gate;
      return tokenReply("A2");
    });
    const s = new CognitoSession(config, "https://app/", fetchFn, t.clock, new MemoryStorage());
    s.store({ accessToken: "A1", idToken: "x", refreshToken: "R1", expiresAt: t.clock.now() + 10_000 });
    const both = Promise.all([s.accessToken(), s.accessToken()]);
    release();
    expect(await both).toEqual(["A2", "A2"]);
    expect(fetchFn).toHaveBeenCalledTimes(1);
  });

  it("a rejected refresh token signs out; a network failure does not", async () => {
    const t = fakeClock();
    const fetchFn = vi
      .fn()
      .mockRejectedValueOnce(new TypeError("offline"))
      .mockResolvedValueOnce(new Response('{"error":"invalid_grant"}', { status: 400 }));
    const s = new CognitoSession(config, "https://app/", fetchFn, t.clock, new MemoryStorage());
    s.store({ accessToken: "A1", idToken: "x", refreshToken: "R1", expiresAt: t.clock.now() + 3_600_000 });
    expect(await s.recover()).toBe(false);
    expect(s.user()).not.toBeNull();
    expect(await s.recover()).toBe(false);
    expect(s.user()).toBeNull();
    expect(await s.authHeaders()).toEqual({});
  });
});

describe("LocalSession", () => {
  it("signs in as a user id the local server reads from x-claim headers", async () => {
    const s = new LocalSession(new MemoryStorage());
    expect(await s.authHeaders()).toEqual({});
    await s.signInAs(" alice ", "Alice");
    expect(await s.authHeaders()).toEqual({ "x-claim-sub": "alice", "x-claim-name": "Alice" });
    await expect(s.signInAs("two words")).rejects.toThrow(/no spaces/);
    s.signOut();
    expect(s.user()).toBeNull();
  });

  it("has the local server create the profile first, and stays signed out if it refuses", async () => {
    const fetchFn = vi
      .fn()
      .mockResolvedValueOnce(new Response("{}", { status: 201 }))
      .mockResolvedValueOnce(new Response("{}", { status: 500 }));
    const storage = new MemoryStorage();
    const s = new LocalSession(storage, localRegister("/api", fetchFn));
    await s.signInAs("bob");
    expect(fetchFn).toHaveBeenCalledWith("/api/_local/sign-in", expect.objectContaining({ method: "POST" }));
    expect(JSON.parse(fetchFn.mock.calls[0]?.[1].body)).toEqual({ user_id: "bob", display_name: "bob" });
    expect(new LocalSession(storage).user()).toEqual({ id: "bob", name: "bob" }); // survives a reload
    s.signOut();
    await expect(s.signInAs("carol")).rejects.toThrow(/HTTP 500/);
    expect(s.user()).toBeNull();
  });
});

/** Who is signed in, and the headers that say so to the API.
 *
 * Cloud: Cognito hosted UI, authorization code + PKCE; tokens live in memory only (never in
 * localStorage), refreshed silently before they expire and once more after a 401. Only the PKCE
 * verifier and state survive the redirect, in sessionStorage, and are deleted on return.
 * Local: a "sign in as" identity the local server (`soundstack serve`) reads from `x-claim-*`
 * headers; it never leaves loopback.
 */

import type { CognitoConfig } from "./config";
import {
  authorizeUrl,
  challengeFor,
  codeGrant,
  logoutUrl,
  newVerifier,
  refreshGrant,
} from "./pkce";

export type User = { id: string; name: string };

export interface Session {
  user(): User | null;
  /** Headers proving the user to the API ({} when signed out). */
  authHeaders(): Promise<Record<string, string>>;
  /** After a 401: try once to get fresh credentials; false means signed out. */
  recover(): Promise<boolean>;
  /** The token the WebSocket feed takes on connect (`?token=`), or null. */
  feedToken(): Promise<string | null>;
  signOut(): void;
  subscribe(listener: () => void): () => void;
}

class Listeners {
  private fns = new Set<() => void>();
  add(fn: () => void): () => void {
    this.fns.add(fn);
    return () => this.fns.delete(fn);
  }
  emit(): void {
    for (const fn of this.fns) fn();
  }
}

const LOCAL_KEY = "soundstack.localUser";

/** What a sign-up does before the first sign-in, on the local server: its profile row. */
export type Register = (user: User) => Promise<void>;

/** `POST <apiUrl>/_local/sign-in`: the local server creates the profile the post-confirmation
 * trigger creates in the cloud (a subscription needs it). */
export function localRegister(apiUrl: string, fetchFn: typeof fetch = (...a) => fetch(...a)): Register {
  return async (user) => {
    const reply = await fetchFn(`${apiUrl}/_local/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_id: user.id, display_name: user.name }),
    });
    if (!reply.ok) throw new Error(`The local server refused the sign-in (HTTP ${reply.status}).`);
  };
}

/** Local development: the user types who they are; the local server trusts loopback. */
export class LocalSession implements Session {
  private current: User | null;
  private listeners = new Listeners();

  constructor(
    private storage: Storage = sessionStorage,
    private register: Register = async () => {},
  ) {
    const saved = storage.getItem(LOCAL_KEY);
    this.current = saved ? (JSON.parse(saved) as User) : null;
  }

  async signInAs(id: string, name?: string): Promise<void> {
    const trimmed = id.trim();
    if (!/^[^\s]{1,128}$/.test(trimmed)) throw new Error("user id: 1-128 characters, no spaces");
    const user = { id: trimmed, name: (name ?? "").trim() || trimmed };
    await this.register(user);
    this.current = user;
    this.storage.setItem(LOCAL_KEY, JSON.stringify(this.current));
    this.listeners.emit();
  }

  user(): User | null {
    return this.current;
  }

  async authHeaders(): Promise<Record<string, string>> {
    if (!this.current) return {};
    return { "x-claim-sub": this.current.id, "x-claim-name": this.current.name };
  }

  async recover(): Promise<boolean> {
    return false;
  }

  async feedToken(): Promise<string | null> {
    return this.current?.id ?? null;
  }

  signOut(): void {
    this.current = null;
    this.storage.removeItem(LOCAL_KEY);
    this.listeners.emit();
  }

  subscribe(listener: () => void): () => void {
    return this.listeners.add(listener);
  }
}

export type Tokens = {
  accessToken: string;
  idToken: string;
  refreshToken: string | null;
  /** Epoch milliseconds when the access token expires. */
  expiresAt: number;
};

type TokenReply = {
  access_token: string;
  id_token: string;
  refresh_token?: string;
  expires_in: number;
};

export type Clock = {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
};

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

const PKCE_KEY = "soundstack.pkce";
/** Refresh this long before expiry, so no request carries a token about to expire. */
export const REFRESH_SKEW_MS = 60_000;

/** The payload of a JWT, for display only (the API verifies tokens; the client never trusts). */
export function jwtClaims(token: string): Record<string, unknown> {
  const part = token.split(".")[1];
  if (!part) return {};
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  try {
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export class CognitoSession implements Session {
  private tokens: Tokens | null = null;
  private inflight: Promise<Tokens | null> | null = null;
  private timer: unknown = null;
  private listeners = new Listeners();

  constructor(
    private config: CognitoConfig,
    private redirectUri: string,
    private fetchFn: typeof fetch = (...args) => fetch(...args),
    private clock: Clock = realClock,
    private storage: Storage = sessionStorage,
  ) {}

  /** Where to send the browser to sign in (the verifier waits in sessionStorage). */
  async beginSignIn(): Promise<string> {
    const verifier = newVerifier();
    const state = newVerifier(43);
    this.storage.setItem(PKCE_KEY, JSON.stringify({ verifier, state }));
    return authorizeUrl(this.config, this.redirectUri, await challengeFor(verifier), state);
  }

  /** On return from the hosted UI: check `state`, trade the code for tokens. */
  async completeSignIn(query: URLSearchParams): Promise<void> {
    const saved = this.storage.getItem(PKCE_KEY);
    this.storage.removeItem(PKCE_KEY);
    const error = query.get("error");
    if (error) throw new Error(`sign-in failed: ${query.get("error_description") ?? error}`);
    const { verifier, state } = saved ? JSON.parse(saved) : { verifier: "", state: "" };
    if (!verifier || query.get("state") !== state) {
      throw new Error("sign-in failed: the reply does not match this browser's request");
    }
    const code = query.get("code") ?? "";
    this.store(await this.grant(codeGrant(this.config, code, verifier, this.redirectUri), null));
  }

  user(): User | null {
    if (!this.tokens) return null;
    const claims = jwtClaims(this.tokens.idToken);
    const id = String(claims.sub ?? "");
    const name = claims.name ?? claims.email ?? claims["cognito:username"] ?? id;
    return { id, name: String(name) };
  }

  /** A valid access token: refreshed first when it expires within REFRESH_SKEW_MS. */
  async accessToken(): Promise<string | null> {
    const tokens = this.tokens;
    if (!tokens) return null;
    if (tokens.expiresAt - this.clock.now() > REFRESH_SKEW_MS) return tokens.accessToken;
    return (await this.refresh())?.accessToken ?? null;
  }

  async authHeaders(): Promise<Record<string, string>> {
    const token = await this.accessToken();
    return token ? { authorization: `Bearer ${token}` } : {};
  }

  async recover(): Promise<boolean> {
    return (await this.refresh()) !== null;
  }

  async feedToken(): Promise<string | null> {
    return this.accessToken();
  }

  /** One refresh at a time: concurrent callers share it. A rejected refresh token signs out. */
  refresh(): Promise<Tokens | null> {
    if (this.inflight) return this.inflight;
    const refreshToken = this.tokens?.refreshToken;
    if (!refreshToken) return Promise.resolve(null);
    this.inflight = this.grant(refreshGrant(this.config, refreshToken), refreshToken)
      .then(
        (tokens) => {
          this.store(tokens);
          return tokens;
        },
        (error: unknown) => {
          if (error instanceof TokenRejected) this.clear();
          return null;
        },
      )
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }

  signOut(): void {
    this.clear();
    window.location.assign(logoutUrl(this.config, this.redirectUri));
  }

  subscribe(listener: () => void): () => void {
    return this.listeners.add(listener);
  }

  /** Tokens in memory, and a timer that refreshes them silently before they expire. */
  store(tokens: Tokens): void {
    this.tokens = tokens;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    const due = Math.max(0, tokens.expiresAt - this.clock.now() - REFRESH_SKEW_MS);
    this.timer = tokens.refreshToken ? this.clock.setTimeout(() => void this.refresh(), due) : null;
    this.listeners.emit();
  }

  private clear(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.tokens = null;
    this.listeners.emit();
  }

  private async grant(body: URLSearchParams, refreshToken: string | null): Promise<Tokens> {
    const reply = await this.fetchFn(`https://${this.config.hostedUiDomain}/oauth2/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    if (reply.status === 400 || reply.status === 401) {
      throw new TokenRejected(`token endpoint refused the grant (${reply.status})`);
    }
    if (!reply.ok) throw new Error(`token endpoint: HTTP ${reply.status}`);
    const data = (await reply.json()) as TokenReply;
    return {
      accessToken: data.access_token,
      idToken: data.id_token,
      // Cognito returns no new refresh token on a refresh grant: keep the one we have.
      refreshToken: data.refresh_token ?? refreshToken,
      expiresAt: this.clock.now() + data.expires_in * 1000,
    };
  }
}

class TokenRejected extends Error {}

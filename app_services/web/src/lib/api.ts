/** The one module that knows the HTTP API: auth headers, error shape, retries, paths, bodies.
 *
 * Shapes follow the services' routes (app_services/*) as issue 14 documents them: paginated
 * playlist reads (`limit`/`cursor`, `next` link, `total_tracks`), `Idempotency-Key` on creating
 * POSTs, a client `event_id` on activity submissions, playlists private unless `public`.
 */

import type { Session } from "./session";

/** An error the API answered (or a network failure: status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** What to show a person. */
  get friendly(): string {
    if (this.status === 0) return "Cannot reach the server. Check your connection and retry.";
    if (this.code === "subscription_required") return "Streaming needs an active subscription.";
    if (this.status === 401) return "Your session ended. Sign in again.";
    if (this.status === 404) return "Not found.";
    if (this.status >= 500) {
      return `The server failed${this.requestId ? ` (request ${this.requestId})` : ""}. Retry.`;
    }
    return this.field ? `${this.field}: ${this.message}` : this.message;
  }
}

export type RequestOptions = {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** Sent as `Idempotency-Key`: makes a POST safe to retry. */
  idempotencyKey?: string;
  /** The body carries its own id (activity `event_id`): safe to retry. */
  retrySafe?: boolean;
  signal?: AbortSignal;
};

export type ClientOptions = {
  baseUrl: string;
  session: Session;
  fetch?: typeof fetch;
  /** Attempts after the first for retryable failures. */
  retries?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
};

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE"]);

/** Full-jitter exponential back-off: random in [0, min(cap, base * 2^attempt)). */
export function backoff(attempt: number, random: () => number, base = 200, cap = 5_000): number {
  return Math.floor(random() * Math.min(cap, base * 2 ** attempt));
}

function retryAfterMs(reply: Response): number | null {
  const value = reply.headers.get("retry-after");
  if (!value) return null;
  const seconds = Number(value);
  return Number.isFinite(seconds) ? Math.min(seconds * 1000, 30_000) : null;
}

async function toError(reply: Response): Promise<ApiError> {
  const requestId = reply.headers.get("x-request-id") ?? undefined;
  let body: unknown = null;
  try {
    body = await reply.json();
  } catch {
    /* not JSON: a proxy or CDN error page */
  }
  const err = (body as { error?: Record<string, unknown> } | null)?.error;
  if (err && typeof err.code === "string") {
    return new ApiError(
      reply.status,
      err.code,
      String(err.message ?? err.code),
      typeof err.field === "string" ? err.field : undefined,
      typeof err.request_id === "string" ? err.request_id : requestId,
    );
  }
  return new ApiError(reply.status, `http_${reply.status}`, reply.statusText || "error", undefined, requestId);
}

export class ApiClient {
  private fetchFn: typeof fetch;
  private retries: number;
  private sleep: (ms: number) => Promise<void>;
  private random: () => number;

  constructor(private options: ClientOptions) {
    this.fetchFn = options.fetch ?? ((...args) => fetch(...args));
    this.retries = options.retries ?? 3;
    this.sleep = options.sleep ?? ((ms) => new Promise((ok) => setTimeout(ok, ms)));
    this.random = options.random ?? Math.random;
  }

  url(path: string, query?: RequestOptions["query"]): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) params.set(key, String(value));
    }
    const qs = params.toString();
    return `${this.options.baseUrl}${path}${qs ? (path.includes("?") ? "&" : "?") + qs : ""}`;
  }

  /** One request: JSON in and out; retries what is safe to retry; one re-auth after a 401. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const canRetry = IDEMPOTENT.has(method) || !!opts.idempotencyKey || !!opts.retrySafe;
    let reauthed = false;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {
        accept: "application/json",
        ...(await this.options.session.authHeaders()),
      };
      if (opts.body !== undefined) headers["content-type"] = "application/json";
      if (opts.idempotencyKey) headers["idempotency-key"] = opts.idempotencyKey;
      let reply: Response;
      try {
        reply = await this.fetchFn(this.url(path, opts.query), {
          method,
          headers,
          body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
          signal: opts.signal,
        });
      } catch (error) {
        if (opts.signal?.aborted) throw error;
        if (canRetry && attempt < this.retries) {
          await this.sleep(backoff(attempt, this.random));
          continue;
        }
        throw new ApiError(0, "network", String(error));
      }
      if (reply.status === 401 && !reauthed) {
        reauthed = true;
        if (await this.options.session.recover()) {
          attempt--;
          continue;
        }
      }
      if (RETRYABLE_STATUS.has(reply.status) && canRetry && attempt < this.retries) {
        await this.sleep(retryAfterMs(reply) ?? backoff(attempt, this.random));
        continue;
      }
      if (!reply.ok) throw await toError(reply);
      if (reply.status === 204) return undefined as T;
      const text = await reply.text();
      return (text ? JSON.parse(text) : undefined) as T;
    }
  }
}

export function newId(): string {
  return crypto.randomUUID();
}

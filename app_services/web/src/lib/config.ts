/** Runtime configuration: `config.json` beside the app, written from the stack's outputs at
 * deploy (locally by hand or by the dev server). One build serves every stack; no secret here. */

export type LocalConfig = {
  mode: "local";
  /** Base URL of the HTTP API (`/api` behind the same CloudFront or the dev server's proxy). */
  apiUrl: string;
  /** WebSocket feed URL; empty when no feed is served. */
  feedUrl: string;
  /** Base URL cover art keys are resolved against (the media CDN); empty: no cover art. */
  mediaUrl: string;
};

export type CognitoConfig = Omit<LocalConfig, "mode"> & {
  mode: "cognito";
  region: string;
  userPoolId: string;
  clientId: string;
  /** Hosted UI domain, e.g. `auth.example.com` or `<prefix>.auth.<region>.amazoncognito.com`. */
  hostedUiDomain: string;
};

export type RuntimeConfig = LocalConfig | CognitoConfig;

export class ConfigError extends Error {}

function text(raw: Record<string, unknown>, key: string, required: boolean): string {
  const value = raw[key];
  if (value === undefined || value === null || value === "") {
    if (required) throw new ConfigError(`config.json: "${key}" is required`);
    return "";
  }
  if (typeof value !== "string") throw new ConfigError(`config.json: "${key}" must be a string`);
  return value.replace(/\/+$/, "");
}

/** Validate the parsed `config.json`; errors name the key to fix. */
export function parseConfig(raw: unknown): RuntimeConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError("config.json: expected a JSON object");
  }
  const obj = raw as Record<string, unknown>;
  const mode = obj.mode ?? "cognito";
  const base = {
    apiUrl: text(obj, "apiUrl", true),
    feedUrl: text(obj, "feedUrl", false),
    mediaUrl: text(obj, "mediaUrl", false),
  };
  if (base.feedUrl && !/^wss?:\/\//.test(base.feedUrl)) {
    throw new ConfigError('config.json: "feedUrl" must start with wss:// (or ws:// locally)');
  }
  if (mode === "local") return { mode, ...base };
  if (mode !== "cognito") throw new ConfigError('config.json: "mode" is "cognito" or "local"');
  const domain = text(obj, "hostedUiDomain", true);
  if (/^https?:\/\//.test(domain) || domain.includes("/")) {
    throw new ConfigError('config.json: "hostedUiDomain" is a host name, without scheme or path');
  }
  return {
    mode,
    ...base,
    region: text(obj, "region", true),
    userPoolId: text(obj, "userPoolId", true),
    clientId: text(obj, "clientId", true),
    hostedUiDomain: domain,
  };
}

/** Fetch `config.json` from beside `index.html` (never cached: it changes per deploy). */
export async function loadConfig(fetchFn: typeof fetch = fetch): Promise<RuntimeConfig> {
  const reply = await fetchFn(new URL("config.json", document.baseURI).toString(), {
    cache: "no-store",
  });
  if (!reply.ok) throw new ConfigError(`config.json: HTTP ${reply.status}`);
  return parseConfig(await reply.json());
}

/** OAuth 2.0 authorization code + PKCE (RFC 7636, S256) against the Cognito hosted UI. */

import type { CognitoConfig } from "./config";

const UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

/** base64url without padding (RFC 4648 §5), as PKCE and JWTs use it. */
export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A code verifier: `length` (43..128) unreserved characters from a CSPRNG. */
export function newVerifier(length = 64): string {
  if (length < 43 || length > 128) throw new RangeError("PKCE verifier length is 43..128");
  const random = crypto.getRandomValues(new Uint8Array(length));
  // 66 characters: reject bytes >= 198 (3 * 66) so every character is equally likely.
  let out = "";
  while (out.length < length) {
    for (const b of random) {
      if (b < 198 && out.length < length) out += UNRESERVED[b % UNRESERVED.length];
    }
    crypto.getRandomValues(random);
  }
  return out;
}

/** S256 challenge: BASE64URL(SHA256(ASCII(verifier))). */
export async function challengeFor(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

export function authorizeUrl(
  config: CognitoConfig,
  redirectUri: string,
  challenge: string,
  state: string,
): string {
  const query = new URLSearchParams({
    response_type: "code",
    client_id: config.clientId,
    redirect_uri: redirectUri,
    scope: "openid email profile",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  return `https://${config.hostedUiDomain}/oauth2/authorize?${query}`;
}

export function logoutUrl(config: CognitoConfig, redirectUri: string): string {
  const query = new URLSearchParams({ client_id: config.clientId, logout_uri: redirectUri });
  return `https://${config.hostedUiDomain}/logout?${query}`;
}

/** The form body of a token request (public client: no secret, the verifier proves the code). */
export function codeGrant(
  config: CognitoConfig,
  code: string,
  verifier: string,
  redirectUri: string,
): URLSearchParams {
  return new URLSearchParams({
    grant_type: "authorization_code",
    client_id: config.clientId,
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  });
}

export function refreshGrant(config: CognitoConfig, refreshToken: string): URLSearchParams {
  return new URLSearchParams({
    grant_type: "refresh_token",
    client_id: config.clientId,
    refresh_token: refreshToken,
  });
}

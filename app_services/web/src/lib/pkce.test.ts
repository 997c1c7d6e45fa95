import { describe, expect, it } from "vitest";
import { authorizeUrl, base64url, challengeFor, codeGrant, newVerifier } from "./pkce";
import type { CognitoConfig } from "./config";

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

describe("PKCE", () => {
  it("S256 challenge matches RFC 7636 appendix B", async () => {
    expect(await challengeFor("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("verifiers are 43..128 unreserved characters and differ", () => {
    const a = newVerifier();
    expect(a).toMatch(/^[A-Za-z0-9\-._~]{64}$/);
    expect(newVerifier(128)).toHaveLength(128);
    expect(newVerifier()).not.toBe(a);
    expect(() => newVerifier(42)).toThrow(RangeError);
  });

  it("base64url has no padding or +/", () => {
    expect(base64url(new Uint8Array([251, 255, 191]))).toBe("-_-_");
    expect(base64url(new Uint8Array([1]))).toBe("AQ");
  });

  it("authorize URL asks for a code with an S256 challenge", () => {
    const url = new URL(authorizeUrl(config, "https://app.example.com/", "chal", "st"));
    expect(url.origin + url.pathname).toBe("https://auth.example.com/oauth2/authorize");
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      response_type: "code",
      client_id: "client123",
      redirect_uri: "https://app.example.com/",
      code_challenge: "chal",
      code_challenge_method: "S256",
      state: "st",
    });
  });

  it("code grant carries the verifier and no secret", () => {
    const body = codeGrant(config, "c0de", "ver", "https://app.example.com/");
    expect(body.get("code_verifier")).toBe("ver");
    expect(body.get("grant_type")).toBe("authorization_code");
    expect(body.has("client_secret")).toBe(false);
  });
});

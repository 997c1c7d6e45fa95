import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "./config";

describe("config.json", () => {
  it("accepts a local config and strips trailing slashes", () => {
    expect(parseConfig({ mode: "local", apiUrl: "/api/" })).toEqual({ mode: "local", apiUrl: "/api", feedUrl: "", mediaUrl: "" });
  });

  it("needs every Cognito key and names the missing one", () => {
    expect(() => parseConfig({ apiUrl: "/api", region: "eu-west-1", userPoolId: "p", hostedUiDomain: "a.b" })).toThrow(/"clientId" is required/);
  });

  it("rejects a hosted UI domain given as a URL and a non-WebSocket feed", () => {
    const base = { apiUrl: "/api", region: "r", userPoolId: "p", clientId: "c" };
    expect(() => parseConfig({ ...base, hostedUiDomain: "https://auth.example.com" })).toThrow(ConfigError);
    expect(() => parseConfig({ ...base, hostedUiDomain: "auth.example.com", feedUrl: "https://x" })).toThrow(/wss/);
  });
});

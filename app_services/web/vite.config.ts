/// <reference types="vitest/config" />
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

// Locally the API is `soundstack serve` (default http://127.0.0.1:8080), proxied under /api so
// the app and the API share an origin, exactly as CloudFront's /api/* behaviour does in the cloud.
const api = process.env.SOUNDSTACK_API ?? "http://127.0.0.1:8080";

/** Serve config.json in `vite` and `vite preview` (the build has none: deploys write it). */
function localConfig(): Plugin {
  const file = process.env.SOUNDSTACK_WEB_CONFIG ?? new URL("./config.local.json", import.meta.url);
  const serve = (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    if (req.url?.split("?")[0] !== "/config.json") return next();
    res.setHeader("content-type", "application/json");
    res.setHeader("cache-control", "no-store");
    res.end(readFileSync(file));
  };
  return {
    name: "soundstack-local-config",
    configureServer: (server) => void server.middlewares.use(serve),
    configurePreviewServer: (server) => void server.middlewares.use(serve),
  };
}

const proxy = {
  "/api": { target: api, changeOrigin: true, rewrite: (path: string) => path.replace(/^\/api/, "") },
};

export default defineConfig({
  base: "./",
  plugins: [react(), localConfig()],
  server: { proxy, host: "127.0.0.1" },
  preview: { proxy, host: "127.0.0.1" },
  build: { sourcemap: false, assetsDir: "assets" },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});

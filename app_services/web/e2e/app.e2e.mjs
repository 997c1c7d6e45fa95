// End-to-end: the built app in Debian's Chromium (headless, driven by playwright-core) against
// `soundstack serve` on the real PostgreSQL and Redis, with real audio files ingested.
// Run by ../../../.ci/web-e2e, which starts the servers; APP is the app's URL, USER a user with an
// active subscription, FIXTURES the directory of the ingested files.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const app = process.env.APP ?? "http://127.0.0.1:18081/";
const user = process.env.USER_ID ?? "e2e-listener";
const fixtures = process.env.FIXTURES;
const shots = new URL("./screenshots/", import.meta.url).pathname;
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
});
const failures = [];
const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
page.on("pageerror", (e) => failures.push(`page error: ${e}`));
page.on("console", (m) => /Content Security Policy/i.test(m.text()) && failures.push(`CSP: ${m.text()}`));
const activity = [];
page.on("request", (r) => r.url().includes("/api/activity/") && activity.push([r.url(), r.postDataJSON()]));
// The signed stream URL names the CDN host; locally no CDN exists, so its requests are answered
// with the ingested file (the signature was made by the catalog service, the decoding is real).
await page.route(/^https:\/\/[^/]*\/uploads\//, (route) => {
  const name = new URL(route.request().url()).pathname.split("/").pop();
  return route.fulfill({ path: `${fixtures}/${name}`, contentType: name.endsWith(".ogg") ? "audio/ogg" : "audio/mpeg" });
});
const nav = (name) => page.getByRole("navigation").getByRole("link", { name });

try {
  await page.goto(app);
  await page.getByLabel("User id").fill(user);
  await page.getByRole("button", { name: "Sign in" }).click();

  // Search as you type, accents folded.
  await page.getByRole("searchbox").fill("senorita");
  await page.getByText("Señorita Lluvia", { exact: true }).waitFor();
  await page.screenshot({ path: `${shots}search.png` });

  // Play: the audio element's currentTime advances; the play is reported with its duration.
  await page.getByRole("button", { name: "Play Señorita Lluvia" }).click();
  await page.waitForFunction(() => (document.querySelector("audio")?.currentTime ?? 0) > 0.3);
  await page.waitForFunction(() => document.querySelector("audio")?.ended === true || !document.querySelector("audio")?.getAttribute("src"));
  await page.waitForTimeout(500);
  const play = activity.find(([url]) => url.endsWith("/activity/plays"))?.[1];
  assert.ok(play, "a play was reported");
  assert.ok(play.ms_played >= 900 && play.ms_played <= 1000, `ms_played ${play.ms_played} bounded by the 1 s track`);
  assert.match(play.event_id, /^[0-9a-f-]{36}$/);

  // Like.
  await page.getByRole("button", { name: "Like Señorita Lluvia" }).click();
  await page.locator('[aria-label="Like Señorita Lluvia"][aria-pressed="true"]').waitFor();

  // Create a playlist, add two tracks from search, reorder, reload: it persisted.
  await nav("Playlists").click();
  await page.getByLabel("New playlist").fill("Road trip");
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("heading", { name: "Road trip" }).waitFor();
  for (const [q, title] of [["cafe", "Café Sunrise"], ["lluvia", "Señorita Lluvia"]]) {
    await nav("Search").click();
    await page.getByRole("searchbox").fill(q);
    await page.getByText(title, { exact: true }).waitFor();
    await page.getByLabel(`Add ${title} to a playlist`).selectOption({ label: "Road trip" });
    await page.getByText("Added to Road trip").first().waitFor();
  }
  await nav("Playlists").click();
  await page.getByRole("link", { name: "Road trip" }).click();
  const titles = () => page.locator("ol.tracks li strong").allTextContents();
  await page.getByText("Señorita Lluvia", { exact: true }).waitFor();
  assert.deepEqual(await titles(), ["Café Sunrise", "Señorita Lluvia"]);
  // Drag the second entry onto the first (HTML5 drag and drop).
  await page.locator("ol.tracks li").nth(1).dragTo(page.locator("ol.tracks li").nth(0));
  await page.waitForResponse((r) => r.url().includes("/tracks/move") && r.ok());
  await page.reload();
  await page.getByRole("heading", { name: "Road trip" }).waitFor();
  await page.getByText("Café Sunrise", { exact: true }).waitFor();
  assert.deepEqual(await titles(), ["Señorita Lluvia", "Café Sunrise"]);
  await page.screenshot({ path: `${shots}playlist.png` });

  // Phone width: the main screens still fit.
  await page.setViewportSize({ width: 375, height: 740 });
  await nav("Search").click();
  await page.getByRole("searchbox").fill("cafe");
  await page.getByText("Café Sunrise", { exact: true }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at 375 px (overflow ${overflow}px)`);
  await page.screenshot({ path: `${shots}phone.png` });
} catch (error) {
  failures.push(String(error?.stack ?? error));
  await page.screenshot({ path: `${shots}failure.png` }).catch(() => {});
} finally {
  await browser.close();
}
if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
console.log("web e2e: passed (screenshots in app_services/web/e2e/screenshots/)");

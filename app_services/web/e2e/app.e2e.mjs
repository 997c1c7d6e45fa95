// End-to-end: the built app in Debian's Chromium (headless, driven by playwright-core) as
// `soundstack serve --local-aws --web` serves it, on the real PostgreSQL and Redis, with real
// audio files ingested. Run by ../../../.ci/web-e2e, which starts the server; APP is the app's
// URL. Nothing is stubbed in the browser: the API, the signed media, the feed's WebSocket and the
// payment providers' hosted pages are all answered by that server, under the CSP it sends.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { request } from "node:http";
import { chromium } from "playwright-core";

const app = process.env.APP ?? "http://127.0.0.1:18080/";
const origin = new URL(app).origin;
const port = new URL(app).port;
const media = `http://media.localhost:${port}`;
const checkoutOrigin = `http://checkout.localhost:${port}`;
const run = Date.now().toString(36);
const listener = `listener-${run}`;
const friend = `friend-${run}`;
const shots = new URL("./screenshots/", import.meta.url).pathname;
mkdirSync(shots, { recursive: true });

/** A call to the API as a user, the way the local server authenticates (x-claim-sub). */
async function api(method, path, user, body) {
  const headers = { "content-type": "application/json", ...(user ? { "x-claim-sub": user } : {}) };
  const reply = await fetch(`${origin}/api${path}`, { method, headers, body: body && JSON.stringify(body) });
  const text = await reply.text();
  return { status: reply.status, body: text ? JSON.parse(text) : null };
}

/** The status the media origin answers `url` with (Node does not resolve *.localhost itself). */
function mediaStatus(url) {
  const { host, pathname, search } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: pathname + search, headers: { host } }, (reply) => {
      reply.resume();
      resolve(reply.statusCode);
    });
    req.on("error", reject);
    req.end();
  });
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
});
const failures = [];
const violations = [];
const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
// Every CSP violation, from the console and from the DOM event (which also sees blocked media).
page.on("pageerror", (e) => failures.push(`page error: ${e}`));
page.on("console", (m) => /Content Security Policy/i.test(m.text()) && violations.push(m.text()));
await page.exposeFunction("reportViolation", (v) => violations.push(v));
await page.addInitScript(() =>
  document.addEventListener("securitypolicyviolation", (e) =>
    window.reportViolation(`${e.violatedDirective} blocked ${e.blockedURI}`)),
);
const activity = [];
const mediaReplies = [];
page.on("request", (r) => r.url().includes("/api/activity/plays") && r.method() === "POST" && activity.push(r.postDataJSON()));
page.on("response", (r) => r.url().startsWith(media) && mediaReplies.push([r.status(), r.url()]));
const nav = (name) => page.getByRole("navigation").getByRole("link", { name, exact: true });
const search = async (q, title) => {
  await nav("Search").click();
  await page.getByRole("searchbox").fill(q);
  await page.getByText(title, { exact: true }).first().waitFor();
};

try {
  // The app arrives with the CSP WebApp builds for these origins.
  const first = await page.goto(app);
  const csp = first.headers()["content-security-policy"] ?? "";
  assert.match(csp, new RegExp(`media-src 'self' ${media}(;|$)`));
  assert.match(csp, new RegExp(`connect-src 'self' ws://feed\\.localhost:${port}(;|$)`));
  assert.match(csp, /script-src 'self';/);

  await page.getByLabel("User id").fill(listener);
  await page.getByRole("button", { name: "Sign in" }).click();

  // Search as you type, accents folded.
  await search("senorita", "Señorita Lluvia");
  await page.screenshot({ path: `${shots}search.png` });

  // Premium-only playback: the API refuses the stream URL to a listener without a subscription.
  const refused = page.waitForResponse((r) => r.url().includes("/stream"));
  await page.getByRole("button", { name: "Play Señorita Lluvia" }).click();
  assert.equal((await refused).status(), 403);
  await page.getByRole("alert").getByText("Streaming needs an active subscription").waitFor();
  await page.screenshot({ path: `${shots}premium-required.png` });

  // Subscribe: plans from the payment service, Stripe's hosted page (its local double), back.
  await page.getByRole("link", { name: "See plans" }).click();
  await page.getByRole("heading", { name: "Subscription" }).waitFor();
  await page.getByText("No subscription: streaming needs one.").waitFor();
  await page.getByText("30-day pass · 9.99 EUR").waitFor();
  await page.screenshot({ path: `${shots}plans.png` });
  await page.getByRole("button", { name: "Pay by card (Stripe): premium_monthly" }).click();
  await page.waitForURL(`${checkoutOrigin}/stripe/**`);
  await page.getByText(`for user ${listener}`).waitFor();
  await page.screenshot({ path: `${shots}checkout.png` });
  await page.getByRole("button", { name: "Pay" }).click();
  await page.waitForURL(`${origin}/**`);
  await page.getByText("Payment received: thank you.").waitFor();
  await page.getByText(/Plan premium_monthly via stripe: active/).waitFor();
  assert.equal(new URL(page.url()).search, "", "the return's query is dropped from the address bar");
  await page.screenshot({ path: `${shots}subscription.png` });
  const subscription = await api("GET", "/payments/subscription", listener);
  assert.equal(subscription.body.status, "active");

  // Play: the audio comes from the local media origin through a signed URL (checked there as
  // CloudFront checks it); currentTime advances; the play is reported with its duration.
  await search("senorita", "Señorita Lluvia");
  await page.getByRole("button", { name: "Play Señorita Lluvia" }).click();
  await page.waitForFunction(() => (document.querySelector("audio")?.currentTime ?? 0) > 0.3);
  const src = await page.locator("audio").getAttribute("src");
  assert.ok(src.startsWith(`${media}/uploads/tone.ogg?Expires=`), `signed media URL: ${src}`);
  await page.waitForFunction(() => document.querySelector("audio")?.ended === true || !document.querySelector("audio")?.getAttribute("src"));
  await page.waitForTimeout(500);
  const play = activity[0];
  assert.ok(play, "a play was reported");
  assert.ok(play.ms_played >= 900 && play.ms_played <= 1000, `ms_played ${play.ms_played} bounded by the 1 s track`);
  assert.match(play.event_id, /^[0-9a-f-]{36}$/);
  assert.ok(mediaReplies.length > 0 && mediaReplies.every(([s]) => s === 200 || s === 206), `media replies ${JSON.stringify(mediaReplies)}`);
  // The same URL tampered with is refused by the media origin, as CloudFront would.
  assert.equal(await mediaStatus(src.replace("Expires=", "Expires=1")), 403);
  assert.equal(await mediaStatus(src), 200);

  // Like; the Likes and Recently played screens read them back from the activity service.
  await page.getByRole("button", { name: "Like Señorita Lluvia" }).click();
  await page.locator('[aria-label="Like Señorita Lluvia"][aria-pressed="true"]').waitFor();
  await nav("Likes").click();
  await page.getByRole("heading", { name: "Liked tracks" }).waitFor();
  await page.locator("ol.tracks").getByText("Señorita Lluvia", { exact: true }).waitFor();
  await page.screenshot({ path: `${shots}likes.png` });
  await nav("Recently played").click();
  await page.getByRole("heading", { name: "Recently played" }).waitFor();
  const recent = page.locator("ol.recent li").first();
  await recent.getByText("Señorita Lluvia", { exact: true }).waitFor();
  await recent.getByText(/1 play, 0:01 in all/).waitFor();
  await page.screenshot({ path: `${shots}recent.png` });
  // Keyboard: Tab reaches the row's play button, Enter plays from this screen.
  await page.getByRole("button", { name: "Play Señorita Lluvia" }).focus();
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => (document.querySelector("audio")?.currentTime ?? 0) > 0.1);

  // Create a playlist, add two tracks from search, reorder, reload: it persisted.
  await nav("Playlists").click();
  await page.getByLabel("New playlist").fill("Road trip");
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("heading", { name: "Road trip" }).waitFor();
  for (const [q, title] of [["cafe", "Café Sunrise"], ["lluvia", "Señorita Lluvia"]]) {
    await search(q, title);
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

  // The live feed: follow a friend, the friend plays a track (through the API, as their own
  // client would), and the play appears on the listener's screen over the WebSocket.
  assert.equal((await api("POST", "/_local/sign-in", null, { user_id: friend, display_name: "Friend" })).status, 201);
  await nav("Live").click();
  await page.getByText("Connected.").waitFor();
  await page.getByLabel("Follow a user").fill(friend);
  await page.getByRole("button", { name: "Follow" }).click();
  await page.getByText(`You follow ${friend}`).waitFor();
  const cafe = (await api("GET", "/catalog/search?q=cafe", friend)).body[0];
  const played = await api("POST", "/activity/plays", friend, { event_id: crypto.randomUUID(), track_id: cafe.track_id, ms_played: 800 });
  assert.equal(played.status, 201);
  const live = page.locator("ol.list li").filter({ hasText: friend });
  await live.getByText("played Café Sunrise", { exact: false }).waitFor({ timeout: 10_000 });
  await page.screenshot({ path: `${shots}feed.png` });

  // Phone width: the main screens still fit.
  await page.setViewportSize({ width: 375, height: 740 });
  await search("cafe", "Café Sunrise");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at 375 px (overflow ${overflow}px)`);
  await page.screenshot({ path: `${shots}phone.png` });

} catch (error) {
  failures.push(String(error?.stack ?? error));
  await page.screenshot({ path: `${shots}failure.png` }).catch(() => {});
} finally {
  await browser.close();
}
if (violations.length) failures.push(`CSP violations: ${violations.join("; ")}`);
if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
console.log("web e2e: passed (screenshots in app_services/web/e2e/screenshots/)");

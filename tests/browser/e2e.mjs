// e2e.mjs — Keep's web UI in headless Chromium (Debian's chromium through
// playwright-core with executablePath). Run by tests/e2e_browser.sh, which
// starts the servers and numbers the "ok - ..." / "not ok - ..." lines
// printed here. Every wait is on an element or a response, never a bare
// sleep. Environment: KEEP_URL (extractive answers), KEEP_GEN_URL (the tiny
// fixture model, to watch an answer stream), KEEP_USER/KEEP_PASSWORD (reads
// docs and finance), KEEP_GUEST/KEEP_GUEST_PASSWORD (docs only),
// KEEP_CHROMIUM, KEEP_ARTIFACTS (screenshots).
import { chromium } from "playwright-core";
import path from "node:path";
import fs from "node:fs";

const env = (k) => {
  if (!process.env[k]) throw new Error("missing environment variable " + k);
  return process.env[k];
};
const URL = env("KEEP_URL"), GEN_URL = env("KEEP_GEN_URL");
const USER = env("KEEP_USER"), PW = env("KEEP_PASSWORD");
const GUEST = env("KEEP_GUEST"), GUEST_PW = env("KEEP_GUEST_PASSWORD");
const ART = env("KEEP_ARTIFACTS");
fs.mkdirSync(ART, { recursive: true });

// Questions about samples/ with known answers (tests/data/ask/questions.json).
const REVENUE_Q = "What were the revenues in the third quarter of 2026?";
const REVENUE_FACT = "18.4";
const REVENUE_DOC = "Quarterly Business Review Q3 2026";
const PASSWORD_Q = "How long must a staff password be at minimum?";

let failed = 0;
function check(cond, name, diag) {
  console.log((cond ? "ok - " : "not ok - ") + name);
  if (!cond) {
    failed++;
    if (diag !== undefined) console.log("  got: " + JSON.stringify(diag).slice(0, 400));
  }
  return cond;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ART, name + ".png"), fullPage: false });
}

// Runs one scenario; an exception (a wait that timed out) is one failed check
// and leaves a screenshot of the page as it was.
async function scenario(name, page, fn) {
  try {
    await fn();
  } catch (e) {
    check(false, name + ": " + String(e.message || e).split("\n")[0]);
    if (page) await shot(page, "failed-" + name.replace(/\W+/g, "-")).catch(() => {});
  }
}

async function login(page, base, user, pw) {
  await page.goto(base + "/#/ask");
  await page.locator("#view-login").waitFor({ state: "visible" });
  await page.fill("#login-form input[name=username]", user);
  await page.fill("#login-form input[name=password]", pw);
  await page.press("#login-form input[name=password]", "Enter");
  await page.locator("#view-ask").waitFor({ state: "visible" });
}

// Asks QUESTION on the Ask page with the keyboard (Enter in the question box)
// and waits for the answer to be complete; returns the last turn.
async function ask(page, question) {
  const n = await page.locator("#turns > li").count();
  await page.fill("#ask-q", question);
  await page.press("#ask-q", "Enter");
  const turn = page.locator("#turns > li").nth(n);
  await turn.waitFor();
  await page.locator("#ask-go:enabled").waitFor({ timeout: 30000 });
  return turn;
}

// Submits the search form and waits for its response to be rendered.
async function search(page) {
  const resp = page.waitForResponse((r) => r.url().endsWith("/api/v1/search"));
  await page.click("#search-form button[type=submit]");
  await resp;
  await page.waitForFunction(() => !/Searching/.test(document.getElementById("search-status").textContent));
}

const browser = await chromium.launch({
  executablePath: env("KEEP_CHROMIUM"),
  // root in CI: Chromium's sandbox needs user namespaces it may not get
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
ctx.setDefaultTimeout(15000);
const page = await ctx.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push(e.message));
let qbrId = null;

await scenario("login", page, async () => {
  await page.goto(URL + "/");
  await page.locator("#view-login").waitFor({ state: "visible" });
  check(await page.locator("#nav").isHidden(), "logged out: the login form, no navigation");
  await page.fill("#login-form input[name=username]", USER);
  await page.fill("#login-form input[name=password]", "not-the-password");
  await page.click("#login-form button[type=submit]");
  await page.waitForFunction(() => document.getElementById("login-error").textContent !== "");
  const err = await page.textContent("#login-error");
  check(/wrong user name or password/.test(err), "a wrong password shows an error", err);
  check(await page.locator("#view-login").isVisible(), "and stays on the login form");
  await shot(page, "login-error");
  await page.fill("#login-form input[name=password]", PW);
  await page.click("#login-form button[type=submit]");
  await page.locator("#view-ask").waitFor({ state: "visible" });
  const who = await page.textContent("#who");
  check(who.includes(USER), "the right password opens the Ask page, naming the user", who);
});

await scenario("ask", page, async () => {
  const turn = await ask(page, REVENUE_Q);
  const answer = await turn.locator(".answer p.a").textContent();
  check(answer.includes(REVENUE_FACT), "asked with Enter: the answer holds the fact (" + REVENUE_FACT + ")", answer);
  check((await turn.locator(".q").textContent()) === REVENUE_Q, "the question is shown above its answer");
  const label = await turn.locator(".answer .label").textContent();
  check(/Extracted from your documents/.test(label), "an extractive answer is labelled so", label);
  const chip = turn.locator("button.chip").first();
  const chipText = await chip.textContent();
  check(chipText.includes(REVENUE_DOC) && /p\. \d+/.test(chipText),
    "a citation chip names the document and its page", chipText);
  check((await turn.locator(".answer p.a button.cite").count()) > 0, "the answer's [n] markers are buttons too");
  const chips = await turn.locator("button.chip").count();
  const st = await page.textContent("#ask-status");
  check(st === chips + (chips === 1 ? " source" : " sources"), "the status counts the sources", st);
  await shot(page, "ask-answer");

  await chip.click();
  await page.locator("#cite-panel").waitFor({ state: "visible" });
  await page.locator("#cite-text mark").waitFor();
  const mark = await page.textContent("#cite-text mark");
  check(mark.includes(REVENUE_FACT), "the chip opens the side panel with the passage highlighted (<mark>)", mark);
  const doc = await page.textContent("#cite-text");
  check(doc.length > mark.length + 100, "inside the document's whole text", doc.length);
  const title = await page.textContent("#cite-title");
  check(title.includes(REVENUE_DOC), "the panel names the document", title);
  const meta = await page.textContent("#cite-meta");
  check(/finance/.test(meta) && /page \d+/.test(meta), "with its collection and page", meta);
  check(await page.locator("#cite-panel mark").isVisible(), "the highlighted passage is scrolled into view");
  const href = await page.getAttribute("#cite-original", "href");
  const m = /^\/api\/v1\/documents\/(\d+)\/original$/.exec(href || "");
  check(!!m, "and links to the original", href);
  if (m) qbrId = m[1];
  await shot(page, "ask-citation");
  await page.keyboard.press("Escape");
  await page.locator("#cite-panel").waitFor({ state: "hidden" });
  check(await chip.evaluate((e) => e === document.activeElement), "Escape closes the panel and returns focus to the chip");
});

await scenario("search", page, async () => {
  await page.click("nav a[data-view=search]");
  await page.locator("#view-search").waitFor({ state: "visible" });
  await page.fill("#q", "fuel surcharge");
  await search(page);
  const all = await page.locator("#results > li .where").allTextContents();
  const cols = new Set(all.map((w) => w.split(" · ")[0]));
  check(all.length > 1 && cols.has("docs") && cols.has("finance"), "search: results from both collections", all);
  const marks = await page.locator("#results mark").allTextContents();
  check(marks.some((t) => /fuel|surcharge/i.test(t)), "snippets highlight the matched words", marks.slice(0, 5));
  const status = await page.textContent("#search-status");
  check(new RegExp("^" + all.length + " passages").test(status), "the status counts the results", status);
  await shot(page, "search");

  await page.click(".filters summary");
  await page.selectOption("#f-collection", "finance");
  await search(page);
  const fin = await page.locator("#results > li .where").allTextContents();
  check(fin.length > 0 && fin.length < all.length && fin.every((w) => w.startsWith("finance")),
    "the collection filter narrows the results to finance", fin);
  await shot(page, "search-filtered");
  await page.selectOption("#f-collection", "");

  await page.fill("#q", "Quarterly Business Review revenue");
  await search(page);
  const titles = await page.locator("#results > li h2").allTextContents();
  check(titles.includes(REVENUE_DOC), "a finance reader finds the quarterly review", titles);
});

const word = "zq" + Array.from({ length: 8 }, () => "bcdfghjklmnpqrstvwxz"[Math.floor(Math.random() * 20)]).join("");
await scenario("upload", page, async () => {
  await page.click("nav a[data-view=documents]");
  await page.locator("#view-documents").waitFor({ state: "visible" });
  await page.locator("#docs tbody tr").first().waitFor();
  await page.selectOption("#u-collection", "docs");
  const name = "memo-" + word + ".md";
  const done = page.waitForResponse((r) => r.url().endsWith("/api/v1/documents") && r.request().method() === "POST");
  await page.setInputFiles("#file", {
    name, mimeType: "text/markdown",
    buffer: Buffer.from("# Canteen memo\n\nThe " + word + " tasting in the canteen is on Friday at noon.\n"),
  });
  const resp = await done;
  check(resp.status() === 201, "upload through the file input is accepted (201)", resp.status());
  const row = page.locator("#uploads li", { hasText: name });
  await row.locator(".st-indexed").waitFor();
  check((await row.locator("progress").getAttribute("value")) === "100", "its progress bar is full and it says indexed");
  await page.locator("#docs tbody tr", { hasText: "Canteen memo" }).waitFor();
  check(true, "the document list shows the new document");
  await shot(page, "documents-upload");

  await page.click("nav a[data-view=search]");
  await page.fill("#q", word);
  await search(page);
  const first = await page.locator("#results > li").first().textContent();
  check(first.includes("Canteen memo") && first.includes(word), "the uploaded word is searchable at once", first);
  check(await page.locator("#results > li mark", { hasText: word }).count() > 0, "and highlighted in the snippet");
});

await scenario("document", page, async () => {
  if (!qbrId) throw new Error("no document id from the citation");
  await page.goto(URL + "/#/doc/" + qbrId);
  await page.waitForFunction(() => document.getElementById("doc-text").textContent.length > 0);
  check((await page.textContent("#doc-title")) === REVENUE_DOC, "a document's page shows its title");
  check((await page.textContent("#doc-text")).includes("EUR 18.4 million"), "and its extracted text");
});
check(pageErrors.length === 0, "no JavaScript error on the page", pageErrors);
await ctx.close();

// ---- a user without access to finance ----
const gctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
gctx.setDefaultTimeout(15000);
const gpage = await gctx.newPage();
await scenario("denied", gpage, async () => {
  await login(gpage, URL, GUEST, GUEST_PW);
  const turn = await ask(gpage, REVENUE_Q);
  const answer = await turn.locator(".answer p.a").textContent();
  check(/found nothing in the documents you can access/.test(answer) && !answer.includes(REVENUE_FACT),
    "denied: the answer from finance is refused to gus", answer);
  check((await turn.locator("button.chip").count()) === 0, "with no citation");
  await shot(gpage, "denied-ask");
  await gpage.click("nav a[data-view=search]");
  await gpage.fill("#q", "Quarterly Business Review revenue");
  await search(gpage);
  const titles = await gpage.locator("#results > li h2").allTextContents();
  const wheres = await gpage.locator("#results > li .where").allTextContents();
  check(!titles.includes(REVENUE_DOC) && wheres.every((w) => !w.startsWith("finance")),
    "denied: search never shows the finance document", titles);
  const opts = await gpage.locator("#f-collection option").allTextContents();
  check(!opts.includes("finance"), "nor offers finance as a filter", opts);
  if (!qbrId) throw new Error("no document id from the citation");
  for (const what of ["text", "original"]) {
    const r = await gpage.goto(URL + "/api/v1/documents/" + qbrId + "/" + what);
    const body = await r.text();
    check((r.status() === 403 || r.status() === 404) && !body.includes(REVENUE_FACT),
      "denied: /api/v1/documents/ID/" + what + " is " + r.status(), body.slice(0, 200));
  }
  await gpage.goto(URL + "/#/doc/" + qbrId);
  await gpage.waitForFunction(() => !/Loading/.test(document.getElementById("doc-meta").textContent));
  const meta = await gpage.textContent("#doc-meta");
  check(/no such document|not found/i.test(meta) && (await gpage.textContent("#doc-text")) === "", "the document page says not found", meta);
  await shot(gpage, "denied-document");
});
await gctx.close();

// ---- phone width ----
const pctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, hasTouch: true });
pctx.setDefaultTimeout(15000);
const ppage = await pctx.newPage();
await scenario("phone", ppage, async () => {
  await ppage.goto(URL + "/");
  await ppage.locator("#view-login").waitFor({ state: "visible" });
  await shot(ppage, "phone-login");
  await login(ppage, URL, USER, PW);
  const turn = await ask(ppage, PASSWORD_Q);
  const answer = await turn.locator(".answer p.a").textContent();
  check(/14 characters/.test(answer), "phone width: the answer holds the fact (14 characters)", answer);
  const width = await ppage.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 390, "phone width: nothing wider than the screen", width);
  const box = await ppage.locator("#ask-go").boundingBox();
  check(box && box.x >= 0 && box.x + box.width <= 390, "phone width: the Ask button is on screen", box);
  await shot(ppage, "phone-ask");
  await turn.locator("button.chip").first().click();
  await ppage.locator("#cite-text mark").waitFor();
  const pbox = await ppage.locator("#cite-panel").boundingBox();
  check(pbox && pbox.x === 0 && pbox.width === 390, "phone width: the source panel fills the screen", pbox);
  const close = await ppage.locator("#cite-close").boundingBox();
  check(close && close.y >= 0 && close.y + close.height <= 844,
    "phone width: with the passage scrolled into view, Close stays on screen", close);
  await shot(ppage, "phone-citation");
  await ppage.click("#cite-close");
  await ppage.click("nav a[data-view=search]");
  await ppage.fill("#q", "backup retention");
  await search(ppage);
  check(await ppage.evaluate(() => document.documentElement.scrollWidth) <= 390, "phone width: search results fit");
  await shot(ppage, "phone-search");
});
await pctx.close();

// ---- an answer that streams (tiny fixture model: its words are noise) ----
const sctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
sctx.setDefaultTimeout(30000);
const spage = await sctx.newPage();
await scenario("stream", spage, async () => {
  await login(spage, GEN_URL, USER, PW);
  // every change of the answer being written and of the status line
  await spage.evaluate(() => {
    window.__seen = { lengths: [], status: [] };
    new MutationObserver(() => {
      const p = document.querySelector("#turns > li:last-child .answer p.a");
      if (p && !p.closest(".answer").querySelector(".chips, .label, .error")) window.__seen.lengths.push(p.textContent.length);
      const s = document.getElementById("ask-status").textContent;
      if (window.__seen.status[window.__seen.status.length - 1] !== s) window.__seen.status.push(s);
    }).observe(document.getElementById("view-ask"), { childList: true, subtree: true, characterData: true });
  });
  const turn = await ask(spage, "How many scanners were planned for the cold store hall?");
  const seen = await spage.evaluate(() => window.__seen);
  const grow = [...new Set(seen.lengths.filter((n) => n > 0))];
  check(grow.length >= 2 && grow.every((n, i) => i === 0 || n > grow[i - 1]),
    "the answer text grows as tokens stream in (" + grow.length + " distinct lengths)", seen.lengths);
  check(seen.status.includes("Writing the answer…"), "the status says the answer is being written", seen.status);
  const final = await turn.locator(".answer p.a").textContent();
  check(final.length > 0 && (await turn.locator(".answer p.a").count()) === 1,
    "the finished answer replaces the streamed text (one answer paragraph)", final);
  check(!/Extracted from your documents/.test(await turn.locator(".answer").textContent()),
    "a generated answer is not labelled as extracted");
  await shot(spage, "stream-answer");
});
await sctx.close();

await browser.close();
console.log("browser: " + failed + " failed");
process.exit(failed ? 1 : 0);

/* app.js — Keep's browser UI: login, ask (answers streamed over Server-Sent
 * Events, citations as chips that open the cited passage inside its
 * document, follow-up questions), search with highlighted snippets and
 * filters, documents (drag-and-drop upload with progress, status and failure
 * reasons, delete) and a document's extracted text. Plain DOM, no framework;
 * text from the server is always set as textContent, never parsed as HTML. */
"use strict";

const state = { user: null, admin: false, csrf: "" };
const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.entries(props || {}).forEach(([k, v]) => {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  });
  children.flat().forEach((c) => e.append(c instanceof Node ? c : document.createTextNode(String(c))));
  return e;
}

async function api(method, path, body) {
  const opt = { method, credentials: "same-origin", headers: {} };
  if (method !== "GET" && method !== "HEAD") opt.headers["X-CSRF-Token"] = state.csrf;
  if (body !== undefined) {
    opt.headers["Content-Type"] = "application/json";
    opt.body = JSON.stringify(body);
  }
  const res = await fetch(path, opt);
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (res.status === 401 && path !== "/api/v1/login") {
    state.user = null;
    location.hash = "#/login";
  }
  if (!res.ok) {
    const msg = data && data.error ? data.error.message : res.status + " " + res.statusText;
    throw new Error(msg);
  }
  return data;
}

function show(view) {
  document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.id !== "view-" + view; });
  $("nav").hidden = !state.user;
  $("nav-admin").hidden = !state.admin;
  document.querySelectorAll("nav a").forEach((a) => {
    if (a.dataset.view === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
}

/* ---- session ---- */

async function loadSession() {
  try {
    const s = await api("GET", "/api/v1/session");
    state.user = s.user; state.admin = s.admin; state.csrf = s.csrf_token;
    $("who").textContent = s.user + (s.admin ? " (admin)" : "");
  } catch (e) {
    state.user = null;
  }
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  $("login-error").textContent = "";
  try {
    const s = await api("POST", "/api/v1/login", { username: f.username.value, password: f.password.value });
    state.user = s.user; state.admin = s.admin; state.csrf = s.csrf_token;
    $("who").textContent = s.user + (s.admin ? " (admin)" : "");
    f.password.value = "";
    location.hash = "#/ask";
    route();
  } catch (e) {
    $("login-error").textContent = e.message;
  }
});

$("logout").addEventListener("click", async () => {
  try { await api("POST", "/api/v1/logout"); } catch (e) { /* the cookie is cleared anyway */ }
  state.user = null;
  location.hash = "#/login";
});

/* ---- collections for the filters and uploads ---- */

async function loadCollections() {
  try {
    const d = await api("GET", "/api/v1/collections");
    for (const id of ["f-collection", "u-collection", "ask-collection"]) {
      const sel = $(id), keepVal = sel.value;
      sel.replaceChildren(...(id !== "u-collection" ? [el("option", { value: "" }, "any")] : []));
      d.collections.forEach((c) => sel.append(el("option", { value: c.name }, c.name)));
      if (id === "u-collection" && !d.collections.length) sel.append(el("option", {}, "default"));
      sel.value = keepVal || sel.value;
    }
  } catch (e) { /* filters stay as they are */ }
}

/* ---- ask ---- */

const conv = { turns: [], ctrl: null };

/* The events of a Server-Sent Events body, as {event, data} objects. */
async function* sseEvents(res) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = "message", data = "";
      block.split("\n").forEach((line) => {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      });
      if (data) yield { event, data: JSON.parse(data) };
    }
  }
}

function locationText(c) {
  const l = c.location || {};
  const bits = [c.collection];
  if (l.page) bits.push("page " + l.page);
  if (l.slide) bits.push("slide " + l.slide);
  if (l.sheet) bits.push("sheet " + l.sheet);
  if (l.heading) bits.push(l.heading);
  return bits.filter(Boolean).join(" · ");
}

function citeName(c) {
  return c.title || (c.path || "").split("/").pop() || "document " + c.doc_id;
}

/* The answer text with its [n] markers as buttons that open the source. */
function answerBody(text, cites, refused) {
  const p = el("p", { class: "a" + (refused ? " refused" : "") });
  const byN = new Map(cites.map((c) => [c.n, c]));
  String(text).split(/(\[\d+\])/).forEach((part) => {
    const m = part.match(/^\[(\d+)\]$/);
    const c = m && byN.get(Number(m[1]));
    if (c) p.append(el("button", { type: "button", class: "cite", "aria-label": "Source " + c.n + ": " + citeName(c),
      onclick: (ev) => openCitation(c, ev.currentTarget) }, "[" + c.n + "]"));
    else if (part) p.append(document.createTextNode(part));
  });
  return p;
}

let panelReturn = null;

/* Shows the cited passage highlighted inside its document's text. Offsets
 * are in characters (code points), so the text is sliced as code points. */
async function openCitation(c, from) {
  panelReturn = from || null;
  const panel = $("cite-panel");
  $("cite-title").textContent = "[" + c.n + "] " + citeName(c);
  $("cite-meta").textContent = locationText(c);
  $("cite-open").href = "#/doc/" + c.doc_id;
  $("cite-original").href = "/api/v1/documents/" + c.doc_id + "/original";
  $("cite-text").textContent = "Loading…";
  panel.hidden = false;
  panel.focus();
  try {
    const d = await api("GET", "/api/v1/documents/" + c.doc_id + "/text");
    const chars = Array.from(d.text || "");
    const s = Math.max(0, Math.min(chars.length, c.start | 0));
    const e = Math.max(s, Math.min(chars.length, c.end | 0));
    const mark = el("mark", {}, chars.slice(s, e).join(""));
    $("cite-text").replaceChildren(chars.slice(0, s).join(""), mark, chars.slice(e).join(""));
    mark.scrollIntoView({ block: "center" });
  } catch (e) {
    $("cite-text").textContent = c.quote || e.message;
  }
}

function closeCitation() {
  $("cite-panel").hidden = true;
  if (panelReturn) panelReturn.focus();
  panelReturn = null;
}
$("cite-close").addEventListener("click", closeCitation);
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && !$("cite-panel").hidden) closeCitation();
});

function renderAnswer(li, a) {
  const box = li.querySelector(".answer");
  const parts = [];
  if (!a.refused && a.mode === "extractive")
    parts.push(el("p", { class: "label" }, "Extracted from your documents (no model: the passages' own words)"));
  parts.push(answerBody(a.answer, a.citations || [], a.refused));
  const weak = (a.sentences || []).filter((x) => !x.supported).length;
  if (weak) parts.push(el("p", { class: "weak" }, weak + (weak === 1 ? " sentence is" : " sentences are") + " not supported by the cited sources"));
  if ((a.citations || []).length) {
    parts.push(el("ul", { class: "chips", "aria-label": "Sources" },
      a.citations.map((c) => el("li", {}, el("button", { type: "button", class: "chip",
        title: locationText(c), onclick: (ev) => openCitation(c, ev.currentTarget) },
        "[" + c.n + "] " + citeName(c) + (c.location && c.location.page ? ", p. " + c.location.page : "")
          + (c.location && c.location.slide ? ", slide " + c.location.slide : ""))))));
  }
  box.replaceChildren(...parts);
}

function setAsking(on) {
  $("ask-go").disabled = on;
  $("ask-stop").hidden = !on;
}

$("ask-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const q = $("ask-q").value.trim();
  if (!q || conv.ctrl) return;
  const body = { question: q, stream: true,
    history: conv.turns.slice(-20).map((t) => ({ question: t.question, answer: t.answer })) };
  const c = $("ask-collection").value;
  if (c) body.collection = c;
  const text = el("p", { class: "a" });
  const li = el("li", { class: "turn" }, el("p", { class: "q" }, q), el("div", { class: "answer" }, text));
  $("turns").append(li);
  $("ask-q").value = "";
  $("ask-status").textContent = "Looking through your documents…";
  conv.ctrl = new AbortController();
  setAsking(true);
  let answer = null;
  try {
    const res = await fetch("/api/v1/ask", { method: "POST", credentials: "same-origin", signal: conv.ctrl.signal,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": state.csrf }, body: JSON.stringify(body) });
    if (!res.ok) {
      let msg = res.status + " " + res.statusText;
      try { const d = await res.json(); if (d.error) msg = d.error.message; } catch (e) { /* keep the status */ }
      if (res.status === 401) { state.user = null; location.hash = "#/login"; }
      throw new Error(msg);
    }
    for await (const e of sseEvents(res)) {
      if (e.event === "queue") {
        $("ask-status").textContent = e.data.position
          ? "Waiting for the model: place " + e.data.position + " in the queue" : "Writing the answer…";
      } else if (e.event === "token") {
        text.append(e.data.text);
      } else if (e.event === "done") {
        answer = e.data;
      } else if (e.event === "error") {
        throw new Error(e.data.message);
      }
    }
    if (!answer) throw new Error("the answer was cut off");
    renderAnswer(li, answer);
    conv.turns.push({ question: q, answer: answer.answer });
    const n = (answer.citations || []).length;
    $("ask-status").textContent = answer.refused ? "" : n + (n === 1 ? " source" : " sources");
  } catch (e) {
    li.querySelector(".answer").append(el("p", { class: "error" },
      e.name === "AbortError" ? "Stopped." : e.message));
    $("ask-status").textContent = "";
  } finally {
    conv.ctrl = null;
    setAsking(false);
    $("ask-q").focus();
  }
});

$("ask-q").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("ask-form").requestSubmit(); }
});
$("ask-stop").addEventListener("click", () => { if (conv.ctrl) conv.ctrl.abort(); });
$("ask-new").addEventListener("click", () => {
  if (conv.ctrl) conv.ctrl.abort();
  conv.turns = [];
  $("turns").replaceChildren();
  $("ask-status").textContent = "";
  closeCitation();
  $("ask-q").focus();
});

/* ---- search ---- */

/* Snippets mark matched words as [word]: shown as <mark>. */
function highlighted(snippet) {
  const p = el("p");
  String(snippet || "").split(/(\[[^\]]*\])/).forEach((part) => {
    if (/^\[[^\]]*\]$/.test(part)) p.append(el("mark", {}, part.slice(1, -1)));
    else if (part) p.append(document.createTextNode(part));
  });
  return p;
}

function where(r) {
  const bits = [r.collection];
  const l = r.location || {};
  if (l.page) bits.push(l.page_end && l.page_end > l.page ? "pages " + l.page + "–" + l.page_end : "page " + l.page);
  if (l.slide) bits.push("slide " + l.slide);
  if (l.sheet) bits.push("sheet " + l.sheet);
  if (l.heading) bits.push(l.heading);
  return bits.filter(Boolean).join(" · ");
}

$("search-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const q = $("q").value.trim();
  if (!q) return;
  const body = { query: q, k: 20 };
  const c = $("f-collection").value, f = $("f-format").value, s = $("f-since").value, u = $("f-until").value;
  if (c) body.collection = c;
  if (f) body.format = f;
  if (s) body.since = s;
  if (u) body.until = u;
  $("search-status").textContent = "Searching…";
  $("results").replaceChildren();
  try {
    const d = await api("POST", "/api/v1/search", body);
    $("search-status").textContent = d.results.length
      ? d.results.length + " passages (" + d.took_ms + " ms)" : "Nothing found in the documents you can read.";
    d.results.forEach((r) => {
      $("results").append(el("li", {},
        el("h2", {}, el("a", { href: "#/doc/" + r.doc_id }, r.title || r.path.split("/").pop())),
        el("div", { class: "where" }, where(r)),
        highlighted(r.snippet || r.text)));
    });
  } catch (e) {
    $("search-status").textContent = e.message;
  }
});

/* ---- documents ---- */

function size(n) {
  if (n < 1024) return n + " B";
  if (n < 1048576) return (n / 1024).toFixed(0) + " KB";
  return (n / 1048576).toFixed(1) + " MB";
}

async function loadDocs() {
  const st = $("d-status").value;
  const tbody = $("docs").querySelector("tbody");
  try {
    const d = await api("GET", "/api/v1/documents?limit=1000" + (st ? "&status=" + st : ""));
    $("d-count").textContent = d.total + " documents";
    tbody.replaceChildren(...d.documents.map((doc) => {
      const name = doc.title || doc.name;
      const del = el("button", { type: "button", class: "danger", "aria-label": "Delete " + name,
        onclick: async () => {
          if (!confirm("Delete " + name + " from Keep?")) return;
          try { await api("DELETE", "/api/v1/documents/" + doc.id); loadDocs(); }
          catch (e) { alert(e.message); }
        } }, "Delete");
      return el("tr", {},
        el("td", {}, el("a", { href: "#/doc/" + doc.id }, name),
          doc.error ? el("div", { class: "reason" }, doc.error) : ""),
        el("td", {}, doc.collection),
        el("td", { class: "st-" + doc.status }, doc.status),
        el("td", {}, size(doc.size)),
        el("td", {}, del));
    }));
  } catch (e) {
    $("d-count").textContent = e.message;
  }
}

$("d-status").addEventListener("change", loadDocs);

function upload(file) {
  const bar = el("progress", { max: "100", value: "0" });
  const msg = el("span", { class: "status" }, "uploading");
  $("uploads").prepend(el("li", {}, el("span", {}, file.name), bar, msg));
  const fd = new FormData();
  fd.append("collection", $("u-collection").value || "default");
  fd.append("file", file, file.name);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/v1/documents");
  xhr.setRequestHeader("X-CSRF-Token", state.csrf);
  xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) bar.value = (100 * e.loaded) / e.total; });
  xhr.addEventListener("load", () => {
    bar.value = 100;
    let d = null;
    try { d = JSON.parse(xhr.responseText); } catch (e) { d = null; }
    if (xhr.status === 201 && d) {
      const r = d.documents[0];
      msg.textContent = r.status + (r.error ? ": " + r.error : "");
      msg.className = "st-" + r.status;
    } else {
      msg.textContent = d && d.error ? d.error.message : "failed (" + xhr.status + ")";
      msg.className = "st-failed";
    }
    loadDocs();
  });
  xhr.addEventListener("error", () => { msg.textContent = "network error"; msg.className = "st-failed"; });
  xhr.send(fd);
}

const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  Array.from(e.dataTransfer.files).forEach(upload);
});
drop.addEventListener("click", (e) => { if (e.target === drop || e.target.tagName === "P") $("file").click(); });
drop.addEventListener("keydown", (e) => {
  if ((e.key === "Enter" || e.key === " ") && e.target === drop) { e.preventDefault(); $("file").click(); }
});
$("file").addEventListener("change", (e) => { Array.from(e.target.files).forEach(upload); e.target.value = ""; });

/* ---- one document ---- */

async function loadDoc(id) {
  $("doc-title").textContent = "";
  $("doc-meta").textContent = "Loading…";
  $("doc-text").textContent = "";
  $("doc-download").href = "/api/v1/documents/" + encodeURIComponent(id) + "/original";
  try {
    const d = await api("GET", "/api/v1/documents/" + encodeURIComponent(id) + "/text");
    $("doc-title").textContent = d.title || d.name;
    $("doc-meta").textContent = [d.collection, d.format, d.status, size(d.size), d.modified].filter(Boolean).join(" · ");
    $("doc-text").textContent = d.text || d.error || "";
  } catch (e) {
    $("doc-meta").textContent = e.message;
  }
}

/* ---- routing ---- */

async function route() {
  const h = location.hash || "#/ask";
  if (!state.user) await loadSession();
  if (!state.user) {
    show("login");
    document.querySelector("#login-form input").focus();
    return;
  }
  const m = h.match(/^#\/doc\/(\d+)$/);
  if (m) { show("doc"); loadDoc(m[1]); }
  else if (h === "#/documents") { show("documents"); loadCollections(); loadDocs(); }
  else if (h === "#/ask") { show("ask"); loadCollections(); $("ask-q").focus(); }
  else if (h === "#/admin" && state.admin) { show("admin"); keepAdmin.load(); }
  else { show("search"); loadCollections(); $("q").focus(); }
}

window.addEventListener("hashchange", route);
route();

/* admin.js — the Admin page of Keep's browser UI (administrators only; the
 * server refuses everyone else with 403): model and index status, users
 * (add, remove, set password, join and leave groups), groups, collections
 * and their grants, drop folders, and the audit log (filters, paging, chain
 * check). Loaded before app.js and uses its helpers (api, el, $, state) only
 * once the page is shown. Text from the server is set as textContent. */
"use strict";

const keepAdmin = (() => {
  let wired = false;
  let auditBefore = null;

  function say(msg, bad) {
    const m = $("admin-msg");
    m.textContent = msg;
    m.className = "status" + (bad ? " st-bad" : "");
  }

  /* Runs an admin change, reports it, reloads what it touched. */
  async function change(what, fn, reload) {
    try {
      const r = await fn();
      say(what + ": done." + (r && r.password ? " Generated password (shown once): " + r.password : ""));
      await reload();
      return true;
    } catch (e) {
      say(what + " failed: " + e.message, true);
      return false;
    }
  }

  const seg = (s) => encodeURIComponent(s);

  /* ---- status ---- */

  async function loadStatus() {
    const dl = $("admin-status");
    try {
      const s = await api("GET", "/api/v1/admin/status");
      const facts = [
        ["Answers", s.model.answers + (s.model.loaded ? " (" + s.model.sequences + " at once)" : "")],
        ["Model file", s.model.file ? s.model.file + " (" + (s.model.bytes / 1048576).toFixed(0) + " MB)" : "none: extracted answers"],
        ["Answers waiting", String(s.model.queue_depth)],
        ["Embedder", s.index.embedder || "none yet"],
        ["Index", s.index.kind],
        ["Documents", s.index.documents + " indexed, " + s.index.documents_failed + " failed, " + s.index.documents_skipped + " skipped"],
        ["Chunks", String(s.index.chunks)],
        ["Vectors", String(s.index.vectors)],
        ["Audit log", s.audit.rows + " rows, " + (s.audit.retention_days ? "kept " + s.audit.retention_days + " days" : "kept forever")],
        ["Schema", String(s.schema)],
      ];
      dl.replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    } catch (e) {
      dl.replaceChildren(el("dt", {}, "Status"), el("dd", {}, e.message));
    }
  }

  /* ---- users and groups ---- */

  async function loadUsers() {
    const d = await api("GET", "/api/v1/admin/users");
    $("admin-users").querySelector("tbody").replaceChildren(...d.users.map((u) => {
      const groups = u.groups.filter((g) => g !== "everyone").map((g) => el("span", { class: "tag" }, g,
        el("button", { type: "button", class: "secondary", "aria-label": "Remove " + u.name + " from group " + g,
          onclick: () => change("Leave group", () => api("DELETE", "/api/v1/admin/users/" + seg(u.name) + "/groups/" + seg(g)), loadAll) }, "×")));
      const remove = u.name === state.user ? "" : el("button", { type: "button", class: "danger",
        "aria-label": "Remove user " + u.name,
        onclick: () => {
          if (!confirm("Remove the user " + u.name + "? Their sessions and tokens end.")) return;
          change("Remove user", () => api("DELETE", "/api/v1/admin/users/" + seg(u.name)), loadAll);
        } }, "Remove");
      return el("tr", { "data-user": u.name }, el("td", {}, u.name), el("td", {}, u.admin ? "admin" : "user"),
        el("td", {}, groups.length ? groups : "—"), el("td", {}, remove));
    }));
    for (const id of ["admin-member-user", "admin-password-user"]) {
      const sel = $(id), keep = sel.value;
      sel.replaceChildren(...d.users.map((u) => el("option", { value: u.name }, u.name)));
      if (keep) sel.value = keep;
    }
  }

  async function loadGroups() {
    const d = await api("GET", "/api/v1/admin/groups");
    $("admin-groups").querySelector("tbody").replaceChildren(...d.groups.map((g) =>
      el("tr", {}, el("td", {}, g.name), el("td", {}, g.users.join(", ") || "—"),
        el("td", {}, g.collections.join(", ") || "—"))));
  }

  async function loadCollections() {
    const d = await api("GET", "/api/v1/admin/collections");
    $("admin-collections").querySelector("tbody").replaceChildren(...d.collections.map((c) => {
      const grants = c.groups.map((g) => el("span", { class: "tag" }, g,
        el("button", { type: "button", class: "secondary", "aria-label": "Revoke " + g + "'s access to " + c.name,
          onclick: () => change("Revoke", () => api("DELETE", "/api/v1/admin/collections/" + seg(c.name) + "/grants/" + seg(g)), loadAll) }, "×")));
      return el("tr", {}, el("td", {}, c.name), el("td", {}, String(c.documents)),
        el("td", {}, grants.length ? grants : "admins only"));
    }));
    $("admin-collection-names").replaceChildren(...d.collections.map((c) => el("option", { value: c.name })));
  }

  async function loadFolders() {
    const d = await api("GET", "/api/v1/admin/folders");
    $("admin-folders").querySelector("tbody").replaceChildren(...d.folders.map((f) =>
      el("tr", {}, el("td", {}, f.path), el("td", {}, f.collection),
        el("td", {}, el("button", { type: "button", class: "danger", "aria-label": "Stop watching " + f.path,
          onclick: () => change("Remove folder", () => api("DELETE", "/api/v1/admin/folders/" + f.id), loadFolders) }, "Remove")))));
  }

  async function loadAll() {
    try {
      await Promise.all([loadUsers(), loadGroups(), loadCollections(), loadFolders()]);
    } catch (e) {
      say(e.message, true);
    }
  }

  /* ---- audit log ---- */

  function auditQuery() {
    const p = new URLSearchParams();
    const u = $("audit-user").value.trim(), a = $("audit-action").value;
    const s = $("audit-since").value, t = $("audit-until").value;
    if (u) p.set("user", u);
    if (a) p.set("action", a);
    if (s) p.set("since", s);
    if (t) p.set("until", t);
    p.set("limit", "50");
    return p;
  }

  function docs(e) {
    const bits = [];
    if (e.returned.length) bits.push("returned " + e.returned.join(", "));
    if (e.cited.length) bits.push("cited " + e.cited.join(", "));
    return bits.join("; ") || "—";
  }

  async function loadAudit(more) {
    const tbody = $("admin-audit").querySelector("tbody");
    const p = auditQuery();
    if (more && auditBefore) p.set("before", String(auditBefore));
    try {
      const d = await api("GET", "/api/v1/admin/audit?" + p.toString());
      const rows = d.entries.map((e) => el("tr", { "data-id": String(e.id) },
        el("td", {}, e.time.replace("T", " ").replace("Z", "")),
        el("td", {}, (e.user || "—") + (e.via ? " (" + e.via + ")" : "")),
        el("td", {}, e.action),
        el("td", {}, e.query !== null ? e.query : e.target || "—"),
        el("td", {}, docs(e)),
        el("td", { class: e.status >= 400 ? "st-bad" : "" }, String(e.status)),
        el("td", {}, e.remote || "—")));
      if (more) tbody.append(...rows);
      else tbody.replaceChildren(...rows);
      if (!more && !rows.length) tbody.append(el("tr", {}, el("td", { colspan: "7" }, "No entries.")));
      auditBefore = d.next_before;
      $("audit-more").hidden = !auditBefore;
    } catch (e) {
      tbody.replaceChildren(el("tr", {}, el("td", { colspan: "7" }, e.message)));
      $("audit-more").hidden = true;
    }
  }

  async function verify() {
    const out = $("audit-verify-result");
    out.textContent = "Checking…";
    try {
      const v = await api("GET", "/api/v1/admin/audit/verify");
      out.textContent = v.ok ? "The chain is intact: " + v.rows + " rows verified."
        : "The chain is BROKEN at row " + v.first_bad_id + ": " + v.reason;
      out.className = "status" + (v.ok ? "" : " st-bad");
    } catch (e) {
      out.textContent = e.message;
    }
  }

  /* ---- wiring ---- */

  function wire() {
    $("admin-status-refresh").addEventListener("click", loadStatus);
    $("admin-user-add").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { name: $("admin-user-name").value.trim(), admin: $("admin-user-admin").checked,
        groups: $("admin-user-groups").value.split(",").map((g) => g.trim()).filter(Boolean) };
      if ($("admin-user-password").value) body.password = $("admin-user-password").value;
      if (await change("Add user " + body.name, () => api("POST", "/api/v1/admin/users", body), loadAll))
        ev.target.reset();
    });
    const member = (join) => {
      const u = $("admin-member-user").value, g = $("admin-member-group").value.trim();
      if (!u || !g) return;
      change(join ? "Join group" : "Leave group",
        () => api(join ? "PUT" : "DELETE", "/api/v1/admin/users/" + seg(u) + "/groups/" + seg(g)), loadAll);
    };
    $("admin-membership").addEventListener("submit", (ev) => { ev.preventDefault(); member(true); });
    $("admin-member-leave").addEventListener("click", () => member(false));
    $("admin-password").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const u = $("admin-password-user").value;
      if (await change("Set password for " + u, () => api("PUT", "/api/v1/admin/users/" + seg(u) + "/password",
        { password: $("admin-password-value").value }), loadUsers))
        $("admin-password-value").value = "";
    });
    $("admin-grant").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const c = $("admin-grant-collection").value.trim(), g = $("admin-grant-group").value.trim();
      change("Grant", () => api("PUT", "/api/v1/admin/collections/" + seg(c) + "/grants/" + seg(g)), loadAll);
    });
    $("admin-folder-add").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (await change("Add folder", () => api("POST", "/api/v1/admin/folders",
        { path: $("admin-folder-path").value.trim(), collection: $("admin-folder-collection").value.trim() }), loadFolders))
        $("admin-folder-path").value = "";
    });
    $("admin-audit-filter").addEventListener("submit", (ev) => { ev.preventDefault(); loadAudit(false); });
    $("audit-more").addEventListener("click", () => loadAudit(true));
    $("audit-verify").addEventListener("click", verify);
  }

  return {
    load() {
      if (!wired) { wire(); wired = true; }
      say("");
      loadStatus();
      loadAll();
      loadAudit(false);
    },
  };
})();

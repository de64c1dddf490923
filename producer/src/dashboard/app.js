// The snapsync dashboard: a page over the admin API (same origin, bearer token kept in this
// tab's sessionStorage). No framework and nothing from a CDN: everything is served by
// `snapsync serve`. Every value from the API is put in the page as text, never as HTML.
"use strict";

const STATES = ["ready", "scheduled", "running", "snoozed", "dead", "done"];
const view = { state: "dead", kind: "", cursor: null, pages: [null] };
const $ = (id) => document.getElementById(id);

function token() { return sessionStorage.getItem("snapsync-token"); }

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + token() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await resp.json().catch(() => ({ error: "not JSON (" + resp.status + ")" }));
  if (resp.status === 401) { showLogin(data.error); throw new Error(data.error); }
  if (!resp.ok) throw new Error(data.error || ("HTTP " + resp.status));
  return data;
}

function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function row(cells) {
  const tr = el("tr");
  for (const c of cells) {
    if (c instanceof Node) { const td = el("td"); td.append(c); tr.append(td); }
    else if (typeof c === "number") tr.append(el("td", c, { class: "num" }));
    else tr.append(el("td", c ?? ""));
  }
  return tr;
}

function button(label, onClick, attrs) {
  const b = el("button", label, attrs);
  b.addEventListener("click", async () => {
    b.disabled = true;
    try { await onClick(); $("error").textContent = ""; } catch (e) { $("error").textContent = e.message; }
    finally { b.disabled = false; }
  });
  return b;
}

function when(ms) { return ms ? new Date(Number(ms)).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : ""; }

function showLogin(message) {
  $("app").classList.add("hidden");
  $("login").classList.remove("hidden");
  $("login-error").textContent = message && token() ? message : "";
}

async function loadOverview() {
  const s = await api("GET", "/admin/queue/stats");
  const cards = $("counts");
  cards.replaceChildren();
  for (const st of STATES) {
    const n = s.totals[st];
    const card = el("div", null, { class: "card", "data-state": st });
    card.append(el("b", n), el("span", st));
    cards.append(card);
  }
  $("paused").textContent = s.paused ? "(paused)" : "";
  $("pause-toggle").textContent = s.paused ? "Resume" : "Pause";
  $("pause-toggle").dataset.paused = s.paused ? "1" : "";
  const kinds = Object.keys(s.by_kind).sort();
  const select = $("kind");
  const have = new Set([...select.options].map((o) => o.value));
  for (const k of kinds) if (!have.has(k)) select.append(el("option", k, { value: k }));
  const t = await api("GET", "/admin/throughput?minutes=60");
  drawChart(t.minutes);
}

function drawChart(minutes) {
  const svg = $("chart");
  svg.replaceChildren();
  const max = Math.max(1, ...minutes.map((m) => m.done + m.dead));
  const w = 600 / minutes.length;
  minutes.forEach((m, i) => {
    const hDone = (m.done / max) * 85, hDead = (m.dead / max) * 85;
    const ns = "http://www.w3.org/2000/svg";
    const a = document.createElementNS(ns, "rect");
    a.setAttribute("x", i * w); a.setAttribute("width", Math.max(1, w - 1));
    a.setAttribute("y", 90 - hDone); a.setAttribute("height", hDone); a.setAttribute("class", "done");
    const title = document.createElementNS(ns, "title");
    title.textContent = when(m.start_ms) + ": " + m.done + " done, " + m.dead + " dead";
    a.append(title);
    const b = document.createElementNS(ns, "rect");
    b.setAttribute("x", i * w); b.setAttribute("width", Math.max(1, w - 1));
    b.setAttribute("y", 90 - hDone - hDead); b.setAttribute("height", hDead); b.setAttribute("class", "dead");
    svg.append(a, b);
  });
}

function stateTabs() {
  const tabs = $("state-tabs");
  tabs.replaceChildren();
  for (const st of STATES) {
    const b = el("button", st, { "aria-pressed": String(st === view.state), "data-state": st });
    b.addEventListener("click", () => { view.state = st; view.pages = [null]; view.cursor = null; stateTabs(); loadJobs(); });
    tabs.append(b);
  }
}

async function loadJobs() {
  const q = new URLSearchParams({ state: view.state, limit: "25" });
  if (view.kind) q.set("kind", view.kind);
  if (view.cursor) q.set("cursor", view.cursor);
  const page = await api("GET", "/admin/jobs?" + q);
  const rows = $("job-rows");
  rows.replaceChildren();
  for (const j of page.jobs) {
    const actions = el("span");
    actions.append(button("Show", () => showJob(j.id)));
    if (j.state !== "done" && j.state !== "ready") actions.append(" ", button("Retry", () => retry(j.id), { "data-retry": j.id }));
    actions.append(" ", button("Discard", () => discard(j.id), { "data-discard": j.id }));
    const why = j.last_error || j.dead_reason || "";
    const short = el("span", why.length > 160 ? why.slice(0, 160) + "…" : why, { title: why });
    rows.append(row([el("code", j.id), j.kind, j.state, j.attempts + "/" + j.max_attempts, short, actions]));
  }
  if (page.jobs.length === 0) rows.append(row(["no " + view.state + " jobs", "", "", "", "", ""]));
  view.next = page.next_cursor === null || page.next_cursor === undefined ? null : String(page.next_cursor);
  $("next-page").disabled = !page.next_cursor;
}

async function showJob(id) {
  const j = await api("GET", "/admin/jobs/" + encodeURIComponent(id));
  const box = $("detail");
  box.replaceChildren();
  box.classList.remove("hidden");
  box.append(el("h2", "Job " + j.id + " (" + j.kind + ", " + j.state + ")"));
  const facts = el("table");
  for (const [k, v] of [["attempts", j.attempts + "/" + j.max_attempts], ["created", when(j.created_ms)], ["due", when(j.due_ms)],
    ["finished", when(j.finished_ms)], ["worker", j.worker], ["last error", j.last_error], ["dead reason", j.dead_reason],
    ["snoozes", j.snoozes], ["snooze reason", j.snooze_reason], ["unique key", j.unique_key]]) {
    if (v !== null && v !== undefined && v !== "") facts.append(row([k, String(v)]));
  }
  box.append(facts, el("h2", "Attempts"));
  const hist = el("table");
  hist.append(row(["#", "at", "worker", "error"]));
  for (const a of j.attempts_history) hist.append(row([a.attempt, when(a.at_ms), a.worker, a.error || "ok"]));
  box.append(hist, el("p", j.note, { class: "muted" }), el("h2", "Payload (secrets redacted)"),
    el("pre", j.payload === null ? "(not JSON; not shown)" : JSON.stringify(j.payload, null, 2)));
}

async function retry(id) { await api("POST", "/admin/jobs/" + encodeURIComponent(id) + "/retry"); await refresh(); }
async function discard(id) { await api("POST", "/admin/jobs/" + encodeURIComponent(id) + "/discard"); await refresh(); }

async function loadSchedules() {
  const s = await api("GET", "/admin/schedules");
  const rows = $("schedule-rows");
  rows.replaceChildren();
  for (const r of s.schedules) {
    const rule = r.cron ? "cron " + r.cron : "every " + (r.every_ms / 1000) + " s";
    const input = el("input", null, { size: "10", placeholder: "15m or cron", "data-resource": r.resource });
    const change = el("span");
    change.append(input, " ", button("Save", async () => {
      const v = input.value.trim();
      const body = /\s/.test(v) ? { cron: v } : { every: v };
      await api("PUT", "/admin/schedules/" + r.resource, body);
      await loadSchedules();
    }), " ", button(r.enabled ? "Pause" : "Resume", async () => {
      await api("POST", "/admin/schedules/" + r.resource + (r.enabled ? "/pause" : "/resume"));
      await loadSchedules();
    }), " ", button("Run now", async () => { await api("POST", "/admin/schedules/" + r.resource + "/run"); await refresh(); }));
    rows.append(row([r.resource, rule, r.enabled ? "yes" : "paused", r.last_run ? when(r.last_run.tick_ms) : "", when(r.next_run_ms), change]));
  }
}

async function loadWorkers() {
  const w = await api("GET", "/admin/workers");
  const rows = $("worker-rows");
  rows.replaceChildren();
  for (const x of w.live || []) {
    const age = Math.round(x.last_beat_age_ms / 1000);
    rows.append(row([x.id, x.host, x.pid, x.inflight.length + " of " + x.concurrency, age + " s ago"]));
  }
  if (!(w.live || []).length) rows.append(row(["no live worker", "", "", "", ""]));
}

async function loadSyncs() {
  const r = await api("GET", "/admin/syncs");
  const rows = $("sync-rows");
  rows.replaceChildren();
  for (const [resource, x] of Object.entries(r.syncs)) {
    rows.append(row([resource, when(x.started_ms), x.finished_ms ? when(x.finished_ms) : "running", x.created, x.updated, x.unchanged, x.deleted, x.failed]));
  }
  if (!Object.keys(r.syncs).length) rows.append(row(["no sync yet", "", "", "", "", "", "", ""]));
}

async function loadBudgets() {
  const b = await api("GET", "/admin/budgets");
  const rows = $("budget-rows");
  rows.replaceChildren();
  for (const x of b.budgets) rows.append(row([x.name, x.limit, x.used, (x.window_ms / 1000) + " s", x.granted, x.waits, x.pauses, x.paused_for_ms ? (x.paused_for_ms / 1000).toFixed(1) + " s" : ""]));
  if (!b.budgets.length) rows.append(row(["no budget used yet", "", "", "", "", "", "", ""]));
}

async function refresh() {
  try {
    await Promise.all([loadOverview(), loadSyncs(), loadJobs(), loadSchedules(), loadWorkers(), loadBudgets()]);
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    $("error").textContent = "";
  } catch (e) { $("error").textContent = e.message; }
}

function start() {
  $("login").classList.add("hidden");
  $("app").classList.remove("hidden");
  stateTabs();
  refresh();
  // The mapping editor (mapping.js) loads once, not on every refresh: it holds edits.
  if (window.mappingEditor) window.mappingEditor.load();
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  sessionStorage.setItem("snapsync-token", $("token").value);
  try { await api("GET", "/admin/queue/stats"); start(); } catch (e) { $("login-error").textContent = e.message; }
});
$("logout").addEventListener("click", () => { sessionStorage.removeItem("snapsync-token"); showLogin(); });
$("pause-toggle").addEventListener("click", async () => {
  await api("POST", $("pause-toggle").dataset.paused ? "/admin/queue/resume" : "/admin/queue/pause");
  await refresh();
});
$("kind").addEventListener("change", () => { view.kind = $("kind").value; view.cursor = null; view.pages = [null]; loadJobs(); });
$("find").addEventListener("click", () => { const id = $("search").value.trim(); if (id) showJob(id).catch((e) => { $("error").textContent = e.message; }); });
$("next-page").addEventListener("click", () => { if (view.next) { view.pages.push(view.next); view.cursor = view.next; loadJobs(); } });
$("first-page").addEventListener("click", () => { view.cursor = null; view.pages = [null]; loadJobs(); });
$("retry-all-dead").addEventListener("click", async () => {
  const body = view.kind ? { kind: view.kind } : {};
  await api("POST", "/admin/jobs/retry-dead", body);
  await refresh();
});
setInterval(() => { if (token() && !$("app").classList.contains("hidden")) refresh(); }, 5000);
if (token()) start(); else showLogin();

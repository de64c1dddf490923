// The dashboard's mapping editor (loaded after app.js, whose helpers it uses: $, el, row, api,
// token). It edits the mapping in force as the JSON document the admin API serves
// (GET /admin/mapping), one resource at a time: a row per Snapshots target field with its
// RingCentral source field and a transform. A row the selects cannot express (a template, a
// constant, fallback paths, several transforms) keeps it "as is" until changed. Preview maps
// real records from the connected account (writes nothing); Save checks and stores a new
// version (problems are listed, nothing saved); History restores an earlier one.
// Everything from the API is shown with textContent.
"use strict";

const KEEP = "__keep__";
const M = { doc: null, catalogue: null, resource: "lead_from_contact", rows: {} };

// One call, answered with its status and body (the editor shows a 422's problems).
async function mappingCall(method, path, body) {
  const headers = { Authorization: "Bearer " + token() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await resp.json().catch(() => ({ error: "not JSON (" + resp.status + ")" }));
  if (resp.status === 401) { showLogin(data.error); throw new Error(data.error); }
  return { status: resp.status, ok: resp.ok, data };
}

function describeSpec(spec) {
  if (typeof spec === "string") return spec;
  const parts = [];
  if (spec.from !== undefined) parts.push(Array.isArray(spec.from) ? spec.from.join(" | ") : spec.from);
  if (spec.template !== undefined) parts.push("template " + spec.template);
  if (spec.constant !== undefined) parts.push("constant " + JSON.stringify(spec.constant));
  return parts.join(" ");
}

function describeTransforms(list) {
  return (list || []).map((t) => (typeof t === "string" ? t : JSON.stringify(t))).join(", ");
}

const SIMPLE_TRANSFORMS = () => new Set(M.catalogue.transforms.map((t) => t.name));

// A row from a field of the document: simple specs become plain selections.
function rowFromSpec(target, spec) {
  if (typeof spec === "string") return { target, orig: spec, source: spec, transform: "" };
  const single = typeof spec.from === "string" ? spec.from : (Array.isArray(spec.from) && spec.from.length === 1 ? spec.from[0] : null);
  const t = spec.transforms || [];
  const simpleT = t.length === 0 ? "" : (t.length === 1 && typeof t[0] === "string" && SIMPLE_TRANSFORMS().has(t[0]) ? t[0] : null);
  return { target, orig: spec, source: single !== null ? single : KEEP, transform: simpleT !== null ? simpleT : KEEP };
}

function specFromRow(r) {
  if (r.orig !== null && r.source === KEEP && r.transform === KEEP) return r.orig;
  const orig = typeof r.orig === "string" ? { from: r.orig } : (r.orig || {});
  const out = {};
  if (r.source === KEEP) { for (const k of ["from", "template", "constant"]) if (k in orig) out[k] = orig[k]; }
  else out.from = r.source;
  if (r.transform === KEEP) { if (orig.transforms) out.transforms = orig.transforms; }
  else if (r.transform) out.transforms = [r.transform];
  if ("default" in orig) out.default = orig.default;
  return out;
}

function resourceInfo() { return M.catalogue.resources.find((r) => r.name === M.resource); }

function rowsOf(resource) {
  if (!M.rows[resource]) {
    const fields = ((M.doc || {})[resource] || {}).fields || {};
    M.rows[resource] = Object.entries(fields).map(([k, v]) => rowFromSpec(k, v));
  }
  return M.rows[resource];
}

// The document with every resource's fields rebuilt from its rows.
function buildDocument() {
  const doc = JSON.parse(JSON.stringify(M.doc || {}));
  for (const [resource, rows] of Object.entries(M.rows)) {
    doc[resource] = doc[resource] || {};
    const fields = {};
    for (const r of rows) fields[r.target] = specFromRow(r);
    doc[resource].fields = fields;
  }
  return doc;
}

function select(options, value, attrs, onChange) {
  const s = el("select", null, attrs);
  for (const [v, label] of options) s.append(el("option", label, { value: v }));
  s.value = value;
  s.addEventListener("change", () => onChange(s.value));
  return s;
}

function renderRows() {
  const info = resourceInfo();
  const body = $("mapping-rows");
  body.replaceChildren();
  const rows = rowsOf(M.resource);
  const sources = info.source_fields.filter((p) => !p.endsWith(".*"));
  rows.forEach((r, i) => {
    const targets = info.targets.map((t) => [t.name, t.name + (t.required ? " *" : "")]);
    if (!targets.some(([v]) => v === r.target)) targets.push([r.target, r.target]);
    const tSel = select(targets, r.target, { class: "m-target", "aria-label": "target field" }, (v) => { r.target = v; renderRows(); });
    const srcOpts = [];
    if (r.orig !== null && r.source === KEEP) srcOpts.push([KEEP, "as is: " + describeSpec(r.orig)]);
    for (const p of sources) srcOpts.push([p, p]);
    if (r.source !== KEEP && !sources.includes(r.source)) srcOpts.push([r.source, r.source]);
    const sSel = select(srcOpts, r.source, { class: "m-source", "aria-label": "source field" }, (v) => { r.source = v; });
    const trOpts = [];
    if (r.transform === KEEP) trOpts.push([KEEP, "as is: " + describeTransforms(r.orig.transforms)]);
    trOpts.push(["", "(none)"]);
    for (const t of M.catalogue.transforms) trOpts.push([t.name, t.name]);
    const xSel = select(trOpts, r.transform, { class: "m-transform", "aria-label": "transform" }, (v) => { r.transform = v; });
    const target = info.targets.find((t) => t.name === r.target);
    const remove = el("button", "Remove", { "data-remove": r.target });
    remove.addEventListener("click", () => { rows.splice(i, 1); renderRows(); });
    const tr = row([tSel, sSel, xSel, el("span", target ? target.rule : "", { class: "muted" }), remove]);
    tr.setAttribute("data-target", r.target);
    body.append(tr);
  });
}

function showProblems(message, problems) {
  $("mapping-message").textContent = message;
  const list = $("mapping-problems");
  list.replaceChildren();
  for (const p of problems || []) list.append(el("li", p));
}

function renderPreview(data) {
  const out = $("mapping-preview-out");
  out.replaceChildren();
  out.append(el("p", data.read + " record(s) read from RingCentral, " + data.records.length + " mapped (nothing was written)", { class: "muted" }));
  const keys = [];
  for (const r of data.records) for (const k of Object.keys(r.record)) if (!keys.includes(k)) keys.push(k);
  const table = el("table");
  const head = el("tr");
  for (const k of ["external_id", ...keys]) head.append(el("th", k));
  table.append(head);
  for (const r of data.records) {
    const cells = [r.external_id, ...keys.map((k) => (r.record[k] === null || r.record[k] === undefined ? "" : (typeof r.record[k] === "string" ? r.record[k] : JSON.stringify(r.record[k]))))];
    table.append(row(cells));
  }
  out.append(table);
  const notes = data.records.flatMap((r) => r.notes).concat(data.errors);
  if (notes.length) { const ul = el("ul"); for (const n of notes) ul.append(el("li", n)); out.append(ul); }
}

async function loadMappingHistory() {
  const { ok, data } = await mappingCall("GET", "/admin/mapping/history");
  const rows = $("mapping-history-rows");
  rows.replaceChildren();
  if (!ok) { rows.append(row([data.error || "cannot read the history", "", "", ""])); return; }
  for (const h of data.history) {
    const label = h.version === 0 ? "0 (the mapping file)" : String(h.version);
    rows.append(row([label, h.format, h.saved_at ? when(h.saved_at) : "", button("Restore", () => restoreMapping(h.version), { "data-restore": String(h.version) })]));
  }
  if (!data.history.length) rows.append(row(["no earlier version", "", "", ""]));
}

async function loadMapping() {
  const { ok, data } = await mappingCall("GET", "/admin/mapping");
  if (!ok) { showProblems(data.error || "cannot read the mapping", []); return; }
  M.doc = data.mapping; M.catalogue = data.catalogue; M.rows = {};
  $("mapping-source").textContent = data.in_force === "saved"
    ? "in force: " + data.name + " (saved " + when(data.saved_at) + "; overrides " + data.file + ")"
    : "in force: " + data.name + " (no mapping saved here yet)";
  const sel = $("mapping-resource");
  sel.replaceChildren();
  for (const r of M.catalogue.resources) sel.append(el("option", r.name + " → " + r.collection, { value: r.name }));
  sel.value = M.resource;
  renderRows();
  if (data.problems && data.problems.length) showProblems("the mapping in force has problems:", data.problems);
  await loadMappingHistory();
}

async function restoreMapping(version) {
  const { ok, data } = await mappingCall("POST", "/admin/mapping/restore", { version });
  if (!ok) { showProblems(data.error || "not restored", data.problems); return; }
  await loadMapping();
  showProblems("restored version " + data.restored + " as version " + data.version + "; workers use it from their next job", []);
}

$("mapping-resource").addEventListener("change", () => { M.resource = $("mapping-resource").value; renderRows(); $("mapping-preview-out").replaceChildren(); });
$("mapping-add").addEventListener("click", () => {
  const info = resourceInfo();
  const rows = rowsOf(M.resource);
  const free = info.targets.find((t) => !rows.some((r) => r.target === t.name)) || info.targets[0];
  const first = info.source_fields.find((p) => !p.endsWith(".*"));
  rows.push({ target: free.name, orig: null, source: first, transform: "" });
  renderRows();
});
$("mapping-preview").addEventListener("click", async () => {
  showProblems("reading records from RingCentral…", []);
  const { ok, data } = await mappingCall("POST", "/admin/mapping/preview", { resource: M.resource, mapping: buildDocument(), limit: 5 });
  if (!ok) { showProblems(data.error || "preview failed", data.problems); return; }
  showProblems("", []);
  renderPreview(data);
});
$("mapping-save").addEventListener("click", async () => {
  const { ok, data } = await mappingCall("PUT", "/admin/mapping", { mapping: buildDocument() });
  if (!ok) { showProblems((data.error || "not saved") + " (nothing was saved)", data.problems); return; }
  await loadMapping();
  showProblems("saved version " + data.version + "; workers use it from their next job", []);
});
$("mapping-reload").addEventListener("click", () => { loadMapping(); showProblems("", []); });

window.mappingEditor = { load: loadMapping };
if (token() && !$("app").classList.contains("hidden")) loadMapping();

// syncgate status page. It reads the admin API every two seconds (and right
// after an action) and draws what it says; it keeps nothing but the token,
// in this tab's sessionStorage. Every text from the API goes in through
// textContent, never as HTML.
"use strict";

const REFRESH_MS = 2000;
const TOKEN_KEY = "syncgate.admin-token";
const RECENT_ROWS = 50;
const TOKEN_HELP = "The token is in the file admin.token in the gateway's data_dir " +
  "(readable only by the user the gateway runs as). Open this page as /#token=<the file's contents>, or paste it below.";

let timer = null;
let refreshes = 0;
let generation = 0;
let busy = false;

class AuthError extends Error {}

const $ = (sel) => document.querySelector(sel);

// el builds an element: attrs sets attributes (class, data-*, ...), and
// children are nodes or strings (as text).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c !== undefined && c !== null) e.append(c);
  }
  return e;
}

// The token arrives in the fragment, which browsers never send to the
// server; it is taken out of the address bar so it is not bookmarked or
// left in the history.
function takeTokenFromFragment() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (!m) return;
  let tok = m[1];
  try { tok = decodeURIComponent(tok); } catch (e) { /* not %-encoded: taken as it is */ }
  tok = tok.trim();
  if (tok) sessionStorage.setItem(TOKEN_KEY, tok);
  history.replaceState(null, "", location.pathname + location.search);
}

async function api(method, path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) throw new AuthError("This page needs the gateway's admin token. " + TOKEN_HELP);
  let res;
  try {
    res = await fetch(path, { method, headers: { Authorization: "Bearer " + token }, cache: "no-store" });
  } catch (e) {
    throw new Error("The gateway does not answer (" + e.message + "): is it still running?");
  }
  if (res.status === 401) {
    throw new AuthError("The gateway refused this token: it is not the token of the gateway serving this page. " + TOKEN_HELP);
  }
  let body = null;
  try { body = await res.json(); } catch (e) { /* an answer that is not JSON: reported below */ }
  if (!res.ok || body === null) {
    throw new Error(method + " " + path + ": " + ((body && body.error) || "HTTP " + res.status));
  }
  return body;
}

function showAuth(msg) {
  $("#auth-message").textContent = msg;
  $("#auth").hidden = false;
  $("#dashboard").hidden = true;
  setState("error", "Not signed in");
  $("#token-input").focus();
}

function setState(state, text) {
  const s = $("#state");
  s.dataset.state = state;
  s.textContent = text;
}

function say(text, kind) {
  const m = $("#message");
  m.textContent = text;
  m.dataset.kind = kind || "info";
}

// A time from the API as "12 s ago"; Go writes an unset time as year 1.
function ago(iso) {
  const t = Date.parse(iso);
  if (!iso || isNaN(t) || t < Date.UTC(2000, 0, 1)) return "never";
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  if (s < 86400) return Math.floor(s / 3600) + " h ago";
  return Math.floor(s / 86400) + " d ago";
}

function when(iso) {
  return el("time", { datetime: iso, title: iso }, ago(iso));
}

// troubleOf lists what is wrong with the connectors: a held endpoint
// (credentials or configuration refused) or one that keeps crashing.
// The status does not say which binding uses which endpoint, and every
// binding goes through both sides, so each binding shares it.
function troubleOf(st) {
  const out = [];
  for (const [ep, why] of Object.entries(st.held_endpoints || {})) out.push("endpoint " + ep + " held: " + why);
  for (const ep of st.endpoints || []) {
    if (ep.state === "crash_looping" || ep.state === "failed") {
      out.push("endpoint " + ep.endpoint + " " + ep.state.replace("_", "-") + (ep.last_error ? ": " + ep.last_error : ""));
    }
  }
  return out;
}

// health says, in order of what needs an operator first, how a binding is.
// Failing counts what still fails (records being retried, dead letters,
// a connector in trouble), not the error counter, which only grows: an
// error that a retry got past is no longer a failure.
function health(b, trouble) {
  if (b.paused) return ["paused", b.paused_reason || "paused"];
  const why = [];
  if (b.retrying > 0) why.push(b.retrying + " retrying");
  if (b.dead_letters > 0) why.push(b.dead_letters + " dead letters");
  why.push(...trouble);
  if (why.length) return ["failing", why.join("; ")];
  if (b.blocked > 0) return ["blocked", b.blocked + " blocked changes"];
  if (b.queued > 0) return ["syncing", b.queued + " queued"];
  return ["in-sync", ""];
}

const HEALTH_TEXT = { "in-sync": "in sync", syncing: "syncing", blocked: "blocked", failing: "failing", paused: "paused" };
const COUNTERS = ["collected", "created", "updated", "deleted", "conflicts", "errors"];

// sumEntities adds up a binding's per-entity counters; its last cycle is
// the latest of its entities', and its last error that of the entity with
// an error that cycled last.
function sumEntities(entities) {
  const sum = Object.fromEntries(COUNTERS.map((k) => [k, 0]));
  const at = (c) => Date.parse(c.last_cycle) || 0;
  let last = null, errOf = null;
  for (const c of Object.values(entities || {})) {
    for (const k of COUNTERS) sum[k] += c[k] || 0;
    if (c.last_cycle && (!last || at(c) > at(last))) last = c;
    if (c.last_error && (!errOf || at(c) > at(errOf))) errOf = c;
  }
  return { sum, last: last ? last.last_cycle : "", lastError: errOf ? errOf.last_error : "" };
}

// errCell shows an error in at most three lines; the title has all of it.
function errCell(field, text) {
  return el("td", { class: "err", "data-field": field, title: text || null }, el("div", { class: "clamp" }, text || ""));
}

function num(field, n) {
  return el("td", { class: "n", "data-field": field }, String(n));
}

function fill(table, rows, cols, emptyText) {
  const body = $(table + " tbody");
  body.replaceChildren(...rows);
  if (rows.length === 0) body.append(el("tr", { class: "none" }, el("td", { class: "empty", colspan: cols }, emptyText)));
}

function drawBindings(st) {
  const trouble = troubleOf(st);
  const rows = (st.bindings || []).map((b) => {
    const [h, why] = health(b, trouble);
    const { sum, last, lastError } = sumEntities(b.entities);
    const lastCell = el("td", { "data-field": "last_cycle", "data-time": last }, last ? when(last) : "never");
    return el("tr", { "data-binding": b.name, "data-health": h },
      el("td", { "data-field": "name" }, b.name),
      el("td", {}, el("span", { class: "health", "data-field": "health", "data-health": h }, HEALTH_TEXT[h]),
        why ? el("span", { class: "reason", "data-field": "reason" }, why) : null),
      num("queued", b.queued), num("retrying", b.retrying), num("blocked", b.blocked), num("dead_letters", b.dead_letters),
      lastCell,
      ...COUNTERS.map((k) => num(k, sum[k])),
      errCell("last_error", lastError));
  });
  fill("#bindings", rows, 14, "No bindings are configured.");
  const total = (k) => (st.bindings || []).reduce((n, b) => n + b[k], 0);
  $("#total-bindings").textContent = (st.bindings || []).length;
  $("#total-queued").textContent = total("queued");
  $("#total-blocked").textContent = total("blocked");
  $("#total-dead-letters").textContent = total("dead_letters");

  const held = st.held_endpoints || {};
  fill("#endpoints", (st.endpoints || []).map((ep) => el("tr", { "data-endpoint": ep.endpoint, "data-state": ep.state },
    el("td", {}, ep.endpoint), el("td", { "data-field": "state" }, ep.state.replace("_", " ")),
    num("restarts", ep.restarts), errCell("held", held[ep.endpoint]),
    errCell("last_error", ep.last_error))), 5, "No connectors are running.");
}

// The sync table's change kinds, as sdk.ChangeKind numbers them.
const KINDS = { 1: "upsert", 2: "delete", 3: "scope_exit" };

// A change's item reference; store.ItemRef has no JSON names of its own.
const refOf = (c) => ({ entity: c.ref.Entity, id: c.ref.ID });

function drawDeadLetters(list) {
  fill("#dead-letters", list.map((d) => {
    const c = d.change, ref = refOf(c);
    return el("tr", { "data-binding": c.binding, "data-seq": String(c.seq) },
      el("td", {}, c.binding), el("td", { class: "n" }, String(c.seq)), el("td", { "data-field": "entity" }, ref.entity),
      el("td", { "data-field": "side" }, c.side), el("td", { class: "mono", "data-field": "item" }, ref.id),
      el("td", { "data-field": "kind" }, KINDS[c.kind] || String(c.kind)),
      errCell("error", d.error), el("td", {}, when(d.at)),
      el("td", { class: "actions" },
        el("button", { type: "button", "data-action": "retry", "data-binding": c.binding, "data-seq": String(c.seq) }, "Retry"), " ",
        el("button", { type: "button", "data-action": "drop", "data-binding": c.binding, "data-seq": String(c.seq) }, "Drop")));
  }), 9, "No dead letters.");
}

function drawBlocked(list) {
  fill("#blocked", list.map((b) => el("tr", { "data-binding": b.change.binding, "data-seq": String(b.change.seq) },
    el("td", {}, b.change.binding), el("td", { "data-field": "entity" }, refOf(b.change).entity),
    el("td", { "data-field": "side" }, b.change.side),
    el("td", { class: "mono", "data-field": "item" }, b.item || refOf(b.change).id), el("td", { "data-field": "op" }, b.op),
    el("td", { "data-field": "rule" }, b.rule), el("td", { "data-field": "action" }, b.action), el("td", {}, when(b.at)))),
  8, "No blocked changes.");
}

function drawRecent(list) {
  fill("#recent", list.slice(0, RECENT_ROWS).map((ev) => el("tr", { "data-action": ev.action },
    el("td", {}, when(ev.at)), el("td", {}, ev.binding), el("td", {}, ev.entity),
    el("td", { class: "mono" }, ev.item || ""), el("td", {}, ev.from), el("td", {}, ev.action))),
  6, "Nothing has changed since the gateway started.");
}

// refresh reads everything and draws it. Calls may overlap (the timer, an
// action, a new token): only the latest one draws, and only it sets the
// next timer, so there is one polling loop and stale answers are dropped.
async function refresh() {
  clearTimeout(timer);
  const mine = ++generation;
  try {
    const [st, dead, blocked, recent] = await Promise.all([
      api("GET", "/v1/status"), api("GET", "/v1/dead-letters"), api("GET", "/v1/blocked"), api("GET", "/v1/recent"),
    ]);
    if (mine !== generation) return;
    $("#auth").hidden = true;
    $("#dashboard").hidden = false;
    drawBindings(st);
    drawDeadLetters(dead);
    drawBlocked(blocked);
    drawRecent(recent);
    refreshes++;
    const r = $("#refreshed");
    r.dataset.refreshes = String(refreshes);
    r.textContent = "updated " + new Date().toLocaleTimeString();
    setState("ok", "Connected");
  } catch (e) {
    if (mine !== generation) return;
    if (e instanceof AuthError) {
      showAuth(e.message);
      return; // no polling with a token that cannot work
    }
    setState("error", e.message);
  }
  clearTimeout(timer);
  timer = setTimeout(refresh, REFRESH_MS);
}

async function act(button) {
  if (busy) return;
  const { action, binding, seq } = button.dataset;
  if (action === "drop" && !confirm("Drop dead letter #" + seq + " of " + binding + "? The change will not be synced.")) return;
  busy = true;
  for (const b of document.querySelectorAll("#dead-letters button")) b.disabled = true;
  try {
    const res = await api("POST", "/v1/dead-letters/" + encodeURIComponent(binding) + "/" + encodeURIComponent(seq) + "/" + action);
    say(binding + " #" + seq + ": " + res.result, "info");
  } catch (e) {
    if (e instanceof AuthError) {
      showAuth(e.message);
      return;
    }
    say(e.message, "error");
  } finally {
    busy = false;
  }
  await refresh();
}

function start() {
  takeTokenFromFragment();
  window.addEventListener("hashchange", () => { takeTokenFromFragment(); refresh(); });
  $("#token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const tok = $("#token-input").value.trim();
    if (!tok) return;
    sessionStorage.setItem(TOKEN_KEY, tok);
    $("#token-input").value = "";
    refresh();
  });
  $("#dead-letters").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (b) act(b);
  });
  refresh();
}

start();

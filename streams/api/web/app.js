// corridor operations page. Plain JavaScript, served by the worker; talks only to this origin's /api.
"use strict";

const params = new URLSearchParams(location.search);
const REFRESH_MS = Math.max(500, Number(params.get("refresh")) || 5000);
const MODE_COLOR = { RAIL: "#7b4ea3", SEA: "#1f6fb2", AIR: "#d9822b", ROAD: "#2f8f5b", BARGE: "#1b9aaa" };
const TOLERANCE_MIN = { SEA: 720, BARGE: 720, RAIL: 360, AIR: 180, ROAD: 120 };
const SVG = "http://www.w3.org/2000/svg";
const $ = (sel) => document.querySelector(sel);
const view = { what: "units", ref: null, kind: "", body: null, land: null, hubs: [], boardKeys: new Set(), shipBoardKeys: new Set(), riskKeys: new Set(), closedOpen: false };
const SHIPMENT_KINDS = new Set(["BOOKING", "BILL_OF_LADING", "AIR_WAYBILL", "CONSIGNMENT"]);
const AWB_SHAPE = /^\d{3}[- ]?\d{8}$/; // the API reads a shipment reference of this shape as an air waybill

// ---------------------------------------------------------------- helpers

// Credentials: a bearer API key or access token, kept for this tab only (sessionStorage), asked for on a 401.
const TOKEN_KEY = "corridor.token";
const token = { get: () => sessionStorage.getItem(TOKEN_KEY), set: (t) => sessionStorage.setItem(TOKEN_KEY, t),
                clear: () => sessionStorage.removeItem(TOKEN_KEY) };

function askSignIn(message) {
  const dialog = $("#signin");
  $("#signin-error").textContent = token.get() ? (message || "") : "";
  $("#signout").hidden = true;
  if (!dialog.open) dialog.showModal();
}

$("#signin-form").addEventListener("submit", (ev) => {
  const given = $("#token").value.trim();
  if (!given) { ev.preventDefault(); return; }
  token.set(given);
  $("#token").value = "";
  $("#signout").hidden = false;
  refreshBoard();
  route();
});
$("#signout").addEventListener("click", () => { token.clear(); location.reload(); });

async function api(path) {
  try {
    const headers = { Accept: "application/json" };
    if (token.get()) headers.Authorization = `Bearer ${token.get()}`;
    const res = await fetch(path, { headers, cache: "no-store" });
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    if (res.status === 401) askSignIn(body?.message);
    else if (token.get()) $("#signout").hidden = false;
    return { ok: res.ok, status: res.status, body, worker: res.headers.get("X-Corridor-Worker") };
  } catch (err) {
    return { ok: false, status: 0, body: { message: `cannot reach the worker (${err.message})` } };
  }
}

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n) => String(n).padStart(2, "0");
function fmtTime(iso, { year = false, time = true } = {}) {
  if (!iso) return "–";
  const d = new Date(iso);
  const day = `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}${year ? " " + d.getUTCFullYear() : ""}`;
  return time ? `${day} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}` : day;
}
function fmtDelay(min) {
  if (min === null || min === undefined) return "–";
  if (Math.abs(min) < 1) return "on time";
  const sign = min > 0 ? "+" : "−";
  let m = Math.abs(Math.round(min));
  const d = Math.floor(m / 1440); m -= d * 1440;
  const h = Math.floor(m / 60); m -= h * 60;
  const parts = [];
  if (d) parts.push(`${d} d`);
  if (h) parts.push(`${h} h`);
  if (!d && m) parts.push(`${m} min`);
  return sign + parts.join(" ");
}
function delayClass(min, mode) {
  if (min === null || min === undefined) return "";
  const tol = TOLERANCE_MIN[mode] ?? 360;
  if (min > tol) return "late";
  if (min > 0) return "warn";
  return "ok";
}
const badge = (text, cls = text) => `<span class="badge ${esc(cls)}">${esc(String(text).replace("_", " "))}</span>`;
const modeTag = (m) => (m ? `<span class="mode ${esc(m)}">${esc(m)}</span>` : "");
function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}
function svgText(parent, x, y, text, attrs = {}) {
  const t = el("text", { x, y, ...attrs }, parent);
  t.textContent = text;
  return t;
}

// ---------------------------------------------------------------- search and navigation

function unitHash(ref, kind) {
  return `#/units/${encodeURIComponent(ref)}${kind ? `?kind=${encodeURIComponent(kind)}` : ""}`;
}
function shipmentHash(ref, kind) {
  return `#/shipments/${encodeURIComponent(ref)}${kind ? `?kind=${encodeURIComponent(kind)}` : ""}`;
}
function go(target) {
  if (location.hash === target) route(); else location.hash = target;
}

$("#search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const ref = $("#q").value.trim();
  const kind = $("#kind").value;
  if (!ref) { showMessage("Type a container number, air waybill, ULD, trailer id or a shipment reference."); return; }
  if (SHIPMENT_KINDS.has(kind)) go(shipmentHash(ref, kind));
  else if (kind) go(unitHash(ref, kind));
  else resolve(ref);
});

// Any kind: ask for a unit and for a shipment of that reference at once. A shipment found under an air waybill
// number wins (it covers the air waybill's own statuses too); otherwise a unit wins. Neither: say why for both.
async function resolve(ref) {
  const [unit, shipment] = await Promise.all([
    api(`/api/units/${encodeURIComponent(ref)}`), api(`/api/shipments/${encodeURIComponent(ref)}`)]);
  if ($("#q").value.trim() !== ref) return; // the user moved on meanwhile
  if (shipment.ok && (!unit.ok || AWB_SHAPE.test(ref))) { go(shipmentHash(ref)); return; }
  if (unit.ok) { go(unitHash(ref)); return; }
  view.ref = null; view.body = null;
  $("#detail").hidden = true; $("#empty").hidden = true;
  const down = [unit, shipment].find((r) => r.status === 0 || r.status >= 500);
  if (down) { showMessage(`Unavailable: ${down.body?.message ?? `HTTP ${down.status}`}`); return; }
  const what = unit.status === 404 ? "Not found" : "Not a valid reference";
  const asShipment = shipment.status === 404 ? `; ${shipment.body.message.split(":")[0]} either`
    : ` (as a shipment reference: ${shipment.body?.message ?? `HTTP ${shipment.status}`})`;
  showMessage(`${what}: ${unit.body?.message ?? `HTTP ${unit.status}`}${asShipment}`);
  markSelected();
}

window.addEventListener("hashchange", route);

function route() {
  const m = location.hash.match(/^#\/(units|shipments)\/([^?]+)(?:\?kind=(\w+))?/);
  if (!m) {
    view.ref = null; view.body = null;
    $("#detail").hidden = true; $("#empty").hidden = false; hideMessage(); markSelected();
    return;
  }
  view.what = m[1];
  view.ref = decodeURIComponent(m[2]);
  view.kind = m[3] || "";
  view.closedOpen = false;
  $("#q").value = view.ref;
  $("#kind").value = view.kind;
  load(true);
}

function showMessage(text, info = false) {
  const box = $("#message");
  box.textContent = text;
  box.className = info ? "message info" : "message";
  box.hidden = false;
}
function hideMessage() { $("#message").hidden = true; }

async function load(first) {
  const ref = view.ref, what = view.what;
  if (!ref) return;
  const q = view.kind ? `?kind=${encodeURIComponent(view.kind)}` : "";
  const res = await api(`/api/${what}/${encodeURIComponent(ref)}${q}`);
  if (ref !== view.ref || what !== view.what) return; // the user moved on meanwhile
  if (!res.ok) {
    if (!first && res.status === 503) return; // keep showing the last answer while the group rebalances
    view.body = null;
    $("#detail").hidden = true;
    $("#empty").hidden = true;
    const what = res.status === 404 ? "Not found" : res.status === 400 ? "Not a valid reference" : "Unavailable";
    showMessage(`${what}: ${res.body?.message ?? `HTTP ${res.status}`}`);
    markSelected();
    return;
  }
  hideMessage();
  const same = view.body && JSON.stringify(view.body) === JSON.stringify(res.body);
  view.body = res.body;
  if (!same) (what === "shipments" ? renderShipment : renderUnit)(res.body);
  markSelected();
}

// ---------------------------------------------------------------- unit view

// A unit seen off its plan: where, the route re-derived from there and what it bypasses.
function diversionCard(t) {
  const v = t.diversion;
  if (!v) return "";
  return `<div class="card" data-testid="diversion">
      <h2>${v.rejoined ? "Was diverted" : "Diverted"} <span class="muted" style="font-weight:400">(leg ${v.leg_index + 1})</span></h2>
      <p>${esc(v.reason)}</p>
      <dl class="kv">
        <dt>Seen at</dt><dd>${v.places.map(esc).join(", ")} · first ${fmtTime(v.first_seen, { year: true })}, last ${esc(v.last_place)} ${fmtTime(v.last_seen)}</dd>
        ${v.route ? `<dt>Route now</dt><dd>${v.route.map(esc).join(" → ")} (${esc((v.route_names ?? []).join(", "))}, ${Math.round(v.route_km).toLocaleString()} km, ${Math.round(v.route_hours)} h)</dd>` : ""}
        ${v.earliest_rejoin ? `<dt>Not before</dt><dd>${fmtTime(v.earliest_rejoin, { year: true })} at ${esc(v.rejoins ?? "")}</dd>` : ""}
        ${v.bypassed.length ? `<dt>Bypasses</dt><dd>${v.bypassed.map(esc).join(", ")}</dd>` : ""}
      </dl></div>`;
}

// Well-to-wheel CO2e per leg (ISO 14083 / GLEC defaults), along the diversion if any.
function co2eCard(t) {
  const c = t.co2e;
  if (!c) return "";
  const kg = (v) => (v === null || v === undefined ? "–" : Math.round(v).toLocaleString());
  const rows = c.legs.map((l) => `<tr${l.diverted ? ' class="late"' : ""}><td>${l.leg_index + 1}${l.last_leg_index !== l.leg_index ? `–${l.last_leg_index + 1}` : ""}</td>
      <td>${esc(l.mode.toLowerCase())}</td><td>${l.stops.map(esc).join(" → ")}${l.diverted ? " (diverted)" : ""}</td>
      <td class="num">${kg(l.km)}</td><td class="num">${l.g_per_tkm ?? "–"}</td><td class="num">${kg(l.kg)}</td>
      <td class="muted">${esc(l.distance)}</td></tr>`).join("");
  return `<div class="card" data-testid="co2e">
      <h2>CO2e <span class="muted" style="font-weight:400">${kg(c.kg)} kg, ${esc(c.basis)}</span></h2>
      <p class="muted">Cargo ${c.tonnes} t (${esc(c.tonnes_source)}).</p>
      <table><thead><tr><th>Leg</th><th>Mode</th><th>Stops</th><th class="num">km</th><th class="num">g/t·km</th><th class="num">kg CO2e</th><th>Distance</th></tr></thead>
      <tbody>${rows}</tbody></table></div>`;
}

function renderUnit(d) {
  const t = d.timeline;
  const detail = $("#detail");
  const eta = d.eta.current;
  const late = t.minutes_late;
  const cls = delayClass(late, t.mode);
  const places = Object.fromEntries(d.places.map((p) => [p.locode, p]));
  const where = (code) => (code ? `${esc(code)}${places[code]?.name ? ` <span class="muted">${esc(places[code].name)}</span>` : ""}` : "–");
  detail.innerHTML = `
    <div class="card unit-head">
      <div>
        <div class="unit-id" data-testid="unit-id">${esc(d.unit.id)}</div>
        <div>${esc(d.unit.kind.toLowerCase())} · ${badge(t.status)} ${modeTag(t.mode)}
          ${d.open_alerts.length ? badge(d.open_alerts.some((a) => a.kind === "OVERDUE") ? "OVERDUE" : "DELAYED") : ""}</div>
        <dl class="kv">
          <dt>Lane</dt><dd>${esc(t.lane ?? "–")}${d.plan ? ` · plan revision ${d.plan.revision}` : ""}</dd>
          <dt>Last seen</dt><dd data-testid="unit-location">${t.last_milestone ? `${esc(t.last_milestone.replace("_", " ").toLowerCase())} at ` : ""}${where(t.location)}</dd>
          <dt>Destination</dt><dd>${where(t.destination)}</dd>
          <dt>Event time</dt><dd>as of ${fmtTime(d.watermark, { year: true })} UTC <span class="muted">(partition ${d.partition})</span></dd>
        </dl>
      </div>
      <div class="eta-box ${cls}" data-testid="eta">
        <h3>Estimated arrival at ${esc(t.destination ?? "destination")}</h3>
        <div class="eta-big" data-testid="eta-predicted">${fmtTime(t.predicted_arrival, { year: true })} UTC</div>
        <div>planned ${fmtTime(t.planned_arrival, { year: true })} · <span class="delay ${cls}" data-testid="eta-delay">${late === null || late === undefined ? "–" : late > 0 ? `${fmtDelay(late)} late` : fmtDelay(late) === "on time" ? "on time" : `${fmtDelay(late)} early`}</span></div>
        <div class="muted">${eta ? `last ETA update ${fmtTime(eta.as_of)}: ${esc(eta.reason)}` : "no ETA published yet"}</div>
        ${eta && eta.arrival_p10 && eta.arrival_p90 ? `<div data-testid="eta-band">80% likely between ${fmtTime(eta.arrival_p10)} and ${fmtTime(eta.arrival_p90)}</div>` : ""}
        ${eta && eta.carrier_estimate ? `<div class="muted">carrier estimate ${fmtTime(eta.carrier_estimate)}</div>` : ""}
      </div>
    </div>

    ${diversionCard(t)}

    <div class="card" data-testid="alerts">
      <h2>Open alerts <span class="count" style="background:${d.open_alerts.length ? "var(--late)" : "var(--ok)"}">${d.open_alerts.length}</span></h2>
      ${d.open_alerts.length ? `<ul class="alerts">${d.open_alerts.map(alertItem).join("")}</ul>` : `<p class="muted">No open alert.</p>`}
      ${d.closed_alerts.length ? `<details id="closed-alerts" ${view.closedOpen ? "open" : ""}><summary>${d.closed_alerts.length} closed alert${d.closed_alerts.length > 1 ? "s" : ""}</summary>
        <ul class="alerts">${d.closed_alerts.map((c) => alertItem(c.alert, c.closed_because)).join("")}</ul></details>` : ""}
    </div>

    <div class="card">
      <h2>Route</h2>
      <div class="map-wrap" id="map" data-testid="map"></div>
      <div class="legend">${Object.entries(MODE_COLOR).filter(([m]) => (d.plan?.legs ?? []).some((l) => l.mode === m))
        .map(([m, c]) => `<span><i style="border-color:${c}"></i>${m.toLowerCase()}</span>`).join("")}
        <span><i class="dash" style="border-color:#888"></i>still ahead</span>
        <span>● reported · ○ not yet · ≈ position unknown, placed between neighbours</span></div>
    </div>

    <div class="card">
      <h2>Timeline</h2>
      <div id="axis" data-testid="time-axis"></div>
      ${milestoneTable(t, places)}
      ${eventsTable(t)}
    </div>

    ${co2eCard(t)}

    <div class="card">
      <h2>ETA history <span class="muted" style="font-weight:400">(${d.eta.history.length} update${d.eta.history.length === 1 ? "" : "s"})</span></h2>
      <div class="two">
        <div id="eta-chart" data-testid="eta-chart"></div>
        <div>${etaTable(d.eta.history)}</div>
      </div>
    </div>`;
  $("#empty").hidden = true;
  detail.hidden = false;
  const closed = $("#closed-alerts");
  if (closed) closed.addEventListener("toggle", () => { view.closedOpen = closed.open; });
  drawMap($("#map"), d);
  drawAxis($("#axis"), d);
  drawEta($("#eta-chart"), d);
}

function alertItem(a, closedBecause) {
  return `<li class="${esc(a.severity)}${closedBecause ? " closed" : ""}" data-alert="${esc(a.alert_id)}">
    ${badge(a.kind)} ${badge(a.severity)} <strong>${esc(a.milestone)}</strong> ${modeTag(a.mode)}
    <span class="delay late">${fmtDelay(a.minutes_late)}</span>
    <div>${esc(a.message)}</div>
    <div class="when">detected ${fmtTime(a.detected_at, { year: true })} UTC · planned ${fmtTime(a.planned)}${a.actual ? ` · actual ${fmtTime(a.actual)}` : ""}${closedBecause ? ` · closed: ${esc(closedBecause)}` : ""}</div>
  </li>`;
}

function milestoneTable(t, places) {
  if (!t.milestones.length) return `<p class="muted">No plan received yet: only reported events are known.</p>`;
  const next = t.milestones.findIndex((m) => !m.actual && m.predicted);
  const rows = t.milestones.map((m, i) => {
    const kind = m.kind === "DEPARTURE" ? "Departs" : m.kind === "ARRIVAL" ? "Arrives" : "Delivered";
    const at = m.actual ? fmtTime(m.actual) : m.predicted ? `<span class="pred">${fmtTime(m.predicted)} (predicted)</span>` : "<span class=\"muted\">not reported</span>";
    const cls = delayClass(m.minutes_late, m.mode);
    return `<tr class="${m.actual ? "done" : ""}${i === next ? " next" : ""}" data-milestone="${esc(m.key)}">
      <td>${kind} ${esc(m.location)} <span class="muted">${esc(places[m.location]?.name ?? "")}</span></td>
      <td>${modeTag(m.mode)}</td>
      <td class="t">${fmtTime(m.planned)}</td>
      <td class="t">${m.estimated ? fmtTime(m.estimated) : "–"}</td>
      <td class="t">${at}</td>
      <td class="num"><span class="delay ${cls}">${m.minutes_late === null ? "–" : fmtDelay(m.minutes_late)}</span></td></tr>`;
  });
  return `<table data-testid="milestones"><thead><tr><th>Milestone</th><th>Mode</th><th>Planned</th><th>Carrier estimate</th>
    <th>Actual / predicted</th><th class="num">Late</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function eventsTable(t) {
  if (!t.events.length) return "";
  const rows = t.events.slice().reverse().map((e) => `<tr><td class="t">${fmtTime(e.event_time, { year: true })}</td>
    <td>${esc(e.milestone.replace("_", " ").toLowerCase())}</td><td>${esc(e.classifier.toLowerCase())}</td>
    <td>${esc(e.location)}</td><td>${modeTag(e.mode)}</td><td class="muted">${esc(e.source)}${e.also_reported.length ? ` +${e.also_reported.length}` : ""}</td>
    <td class="t muted">${fmtTime(e.received_time)}</td></tr>`);
  return `<details><summary>${t.events.length} reported event${t.events.length > 1 ? "s" : ""}</summary>
    <table><thead><tr><th>Event time</th><th>Milestone</th><th>Kind</th><th>Where</th><th>Mode</th><th>Source</th><th>Received</th></tr></thead>
    <tbody>${rows.join("")}</tbody></table></details>`;
}

function etaTable(history) {
  if (!history.length) return `<p class="muted">No ETA published yet.</p>`;
  const rows = history.slice().reverse().map((e) => {
    const shift = e.previous_prediction ? (new Date(e.predicted_arrival) - new Date(e.previous_prediction)) / 60000 : null;
    return `<tr><td class="t">${fmtTime(e.as_of)}</td><td class="t">${fmtTime(e.predicted_arrival)}</td>
      <td class="num"><span class="delay ${shift > 0 ? "late" : "ok"}">${shift === null ? "first" : shift === 0 ? "unchanged" : fmtDelay(shift)}</span></td>
      <td>${esc(e.reason)}</td></tr>`;
  });
  return `<table data-testid="eta-history"><thead><tr><th>As of</th><th>Predicted</th><th class="num">Moved</th><th>Why</th></tr></thead>
    <tbody>${rows.join("")}</tbody></table>`;
}

// ---------------------------------------------------------------- map (inline SVG, no tiles)

function routeStops(d) {
  const legs = d.plan?.legs ?? [];
  const codes = legs.length ? [legs[0].origin, ...legs.map((l) => l.destination)] : [...new Set(d.timeline.events.map((e) => e.location))];
  const pos = Object.fromEntries(d.places.map((p) => [p.locode, p]));
  const stops = codes.map((code, i) => ({ code, i, name: pos[code]?.name, lat: pos[code]?.lat, lon: pos[code]?.lon, known: !!pos[code] }));
  // A stop missing from the table is drawn between its known neighbours (marked ≈), never guessed elsewhere.
  const known = stops.filter((s) => s.known);
  for (const s of stops) {
    if (s.known || !known.length) continue;
    const before = [...known].reverse().find((k) => k.i < s.i);
    const after = known.find((k) => k.i > s.i);
    const a = before ?? after, b = after ?? before;
    const f = a === b ? 0 : (s.i - a.i) / (b.i - a.i);
    s.lat = a.lat + (b.lat - a.lat) * f + (a === b ? 1.5 : 0);
    s.lon = a.lon + (b.lon - a.lon) * f + (a === b ? 1.5 : 0);
  }
  return stops;
}

async function landRings() {
  if (view.land === null) {
    const res = await api("/static/land.json");
    view.land = res.ok ? res.body.rings : [];
  }
  return view.land;
}

async function hubs() {
  if (!view.hubs.length) {
    const res = await api("/api/hubs");
    view.hubs = res.ok ? res.body.items : [];
  }
  return view.hubs;
}

// The map's background (sea, graticule, land, the corridors' other hubs) framed around `stops`; null if none.
async function mapFrame(box, stops, label) {
  const W = 860, H = 360;
  box.innerHTML = "";
  if (!stops.length) { box.innerHTML = `<p class="muted" style="padding:1rem">No position known for these stops.</p>`; return null; }
  let [lon0, lon1] = [Math.min(...stops.map((s) => s.lon)), Math.max(...stops.map((s) => s.lon))];
  let [lat0, lat1] = [Math.min(...stops.map((s) => s.lat)), Math.max(...stops.map((s) => s.lat))];
  const k = Math.cos(((lat0 + lat1) / 2) * Math.PI / 180);
  // pad, then widen the box to the drawing's aspect ratio
  let spanX = Math.max((lon1 - lon0) * k, 12) * 1.25, spanY = Math.max(lat1 - lat0, 8) * 1.3;
  if (spanX / spanY < W / H) spanX = spanY * W / H; else spanY = spanX * H / W;
  const cx = ((lon0 + lon1) / 2) * k, cy = (lat0 + lat1) / 2;
  const px = (lon) => ((lon * k - (cx - spanX / 2)) / spanX) * W;
  const py = (lat) => ((cy + spanY / 2 - lat) / spanY) * H;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "viz", role: "img", "aria-label": label }, box);
  el("rect", { x: 0, y: 0, width: W, height: H, fill: "#d9e8f5" }, svg);
  const grid = el("g", { stroke: "#c9dbec", "stroke-width": 1 }, svg);
  for (let lon = -180; lon <= 180; lon += 10) el("line", { x1: px(lon), x2: px(lon), y1: 0, y2: H }, grid);
  for (let lat = -80; lat <= 80; lat += 10) el("line", { x1: 0, x2: W, y1: py(lat), y2: py(lat) }, grid);
  const land = el("g", { fill: "#f4f0e4", stroke: "#b9b098", "stroke-width": 0.8 }, svg);
  for (const ring of await landRings()) {
    el("path", { d: "M" + ring.map(([lo, la]) => `${px(lo).toFixed(1)},${py(la).toFixed(1)}`).join("L") + "Z" }, land);
  }
  const onRoute = new Set(stops.map((s) => s.code));
  const marks = el("g", {}, svg);
  for (const h of await hubs()) {
    if (onRoute.has(h.locode)) continue;
    const x = px(h.lon), y = py(h.lat);
    if (x < 0 || x > W || y < 0 || y > H) continue;
    if (stops.some((s) => Math.hypot(px(s.lon) - x, py(s.lat) - y) < 45)) continue; // keep the route readable
    el("circle", { cx: x, cy: y, r: 2.5, fill: "#9aa5b1" }, marks);
    svgText(marks, x + 4, y - 3, h.name ?? h.locode, { "font-size": 10, fill: "#8a95a3" });
  }
  return { svg, px, py, W, H };
}

async function drawMap(box, d) {
  const stops = routeStops(d).filter((s) => s.lat !== undefined);
  const frame = await mapFrame(box, stops, `Route of ${d.unit.id} on a map`);
  if (!frame) return;
  const { svg, px, py, W } = frame;
  // legs: solid where done, dashed where still ahead
  const ms = d.timeline.milestones;
  const actualAt = (leg, kind) => ms.find((m) => m.leg_index === leg && m.kind === kind)?.actual;
  const legs = d.plan?.legs ?? [];
  const g = el("g", { fill: "none", "stroke-linecap": "round" }, svg);
  legs.forEach((leg, i) => {
    const a = stops[i], b = stops[i + 1];
    if (!a || !b) return;
    const done = actualAt(i, "ARRIVAL") || (i + 1 < legs.length && actualAt(i + 1, "DEPARTURE"));
    const started = actualAt(i, "DEPARTURE") || done;
    el("line", { x1: px(a.lon), y1: py(a.lat), x2: px(b.lon), y2: py(b.lat), stroke: MODE_COLOR[leg.mode] ?? "#555",
      "stroke-width": done ? 4 : 3, "stroke-dasharray": done ? "" : "7 6", opacity: started || done ? 1 : 0.75 }, g);
  });
  // stops
  const reached = new Set(ms.filter((m) => m.actual).map((m) => m.location));
  const labels = el("g", { "font-size": 12 }, svg);
  stops.forEach((s) => {
    const x = px(s.lon), y = py(s.lat);
    el("circle", { cx: x, cy: y, r: 6, fill: reached.has(s.code) ? "#1d2430" : "#fff", stroke: "#1d2430", "stroke-width": 2,
      "stroke-dasharray": s.known ? "" : "2 2", "data-stop": s.code }, labels);
    const label = `${s.known ? "" : "≈ "}${s.code}${s.name ? " " + s.name : ""}`;
    const right = x > W - 160; // near the right edge: label on the left of the stop
    const t = svgText(labels, right ? x - 9 : x + 9, y - 8, label, { "font-weight": 600, fill: "#1d2430", "paint-order": "stroke",
      stroke: "#fff", "stroke-width": 3, "text-anchor": right ? "end" : "start" });
    t.setAttribute("data-label", s.code);
  });
  // where the unit is now: at its last stop, or along the leg it is on (by event time)
  const here = unitPosition(d, stops);
  if (here) {
    const x = px(here.lon), y = py(here.lat);
    el("circle", { cx: x, cy: y, r: 13, fill: "rgba(192,57,43,.18)", stroke: "#c0392b", "stroke-width": 2 }, svg);
    el("circle", { cx: x, cy: y, r: 4, fill: "#c0392b" }, svg);
    svgText(svg, x > W - 160 ? x - 10 : x + 10, y + 22, here.label, { "text-anchor": x > W - 160 ? "end" : "start", "font-size": 12, "font-weight": 700, fill: "#c0392b", "paint-order": "stroke", stroke: "#fff", "stroke-width": 3 });
  }
}

function unitPosition(d, stops) {
  const t = d.timeline, ms = t.milestones;
  const done = ms.filter((m) => m.actual);
  if (!done.length) {
    const s = stops.find((x) => x.code === t.location) ?? stops[0];
    return s && { lat: s.lat, lon: s.lon, label: t.location ? `here (${t.status.toLowerCase().replace("_", " ")})` : "not departed" };
  }
  const last = done[done.length - 1];
  if (last.kind === "DEPARTURE" && t.status === "IN_TRANSIT") {
    const a = stops[last.leg_index], b = stops[last.leg_index + 1];
    const arr = ms.find((m) => m.leg_index === last.leg_index && m.kind === "ARRIVAL");
    if (a && b && arr) {
      const start = new Date(last.actual), end = new Date(arr.predicted ?? arr.planned), now = new Date(d.watermark ?? last.actual);
      const f = Math.min(0.9, Math.max(0.1, (now - start) / Math.max(1, end - start)));
      return { lat: a.lat + (b.lat - a.lat) * f, lon: a.lon + (b.lon - a.lon) * f, label: `in transit to ${b.code}` };
    }
  }
  const s = stops.find((x) => x.code === last.location);
  return s && { lat: s.lat, lon: s.lon, label: t.status === "ARRIVED" ? "arrived" : t.status === "DELIVERED" ? "delivered" : "here" };
}

// ---------------------------------------------------------------- time axis (one row per leg)

function drawAxis(box, d) {
  box.innerHTML = "";
  const t = d.timeline, legs = d.plan?.legs ?? [];
  if (!legs.length) return;
  const ms = t.milestones;
  const at = (leg, kind) => ms.find((m) => m.leg_index === leg && m.kind === kind);
  const times = [];
  for (const m of ms) for (const k of ["planned", "actual", "predicted", "estimated"]) if (m[k]) times.push(+new Date(m[k]));
  if (d.watermark) times.push(+new Date(d.watermark));
  const DAY = 86400000;
  const t0 = Math.floor((Math.min(...times) - DAY / 2) / DAY) * DAY, t1 = Math.ceil((Math.max(...times) + DAY / 2) / DAY) * DAY;
  const W = 860, L = 190, R = 16, ROW = 34, TOP = 28;
  const H = TOP + legs.length * ROW + 12;
  const x = (ms_) => L + ((ms_ - t0) / (t1 - t0)) * (W - L - R);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "viz", role: "img", "aria-label": "Legs on a time axis: planned and actual or predicted" }, box);
  const days = (t1 - t0) / DAY;
  const step = days <= 16 ? 1 : days <= 40 ? 2 : days <= 90 ? 7 : 14;
  const axis = el("g", { "font-size": 11, fill: "#5f6b7a" }, svg);
  for (let tt = t0; tt <= t1; tt += step * DAY) {
    el("line", { x1: x(tt), x2: x(tt), y1: TOP - 6, y2: H - 8, stroke: "#eef1f4" }, axis);
    svgText(axis, x(tt), TOP - 10, fmtTime(new Date(tt).toISOString(), { time: false }), { "text-anchor": "middle" });
  }
  legs.forEach((leg, i) => {
    const y = TOP + i * ROW;
    const dep = at(i, "DEPARTURE"), arr = at(i, "ARRIVAL");
    svgText(svg, 4, y + 15, `${i + 1}. ${leg.origin} → ${leg.destination}`, { "font-size": 12, "font-weight": 600, fill: "#1d2430" });
    svgText(svg, 4, y + 28, `${leg.mode.toLowerCase()} · ${leg.carrier}`.slice(0, 30), { "font-size": 10, fill: "#5f6b7a" });
    const color = MODE_COLOR[leg.mode] ?? "#555";
    // planned: a light bar
    el("rect", { x: x(+new Date(leg.planned_departure)), y: y + 4, width: Math.max(2, x(+new Date(leg.planned_arrival)) - x(+new Date(leg.planned_departure))),
      height: 9, rx: 3, fill: "#e3e7ec", stroke: "#c3cad3" }, svg);
    // actual (solid) and predicted (hatched by opacity) below it
    const s = dep?.actual ?? dep?.predicted, e = arr?.actual ?? arr?.predicted;
    if (s && e) {
      const sx = x(+new Date(s)), ex = x(+new Date(e));
      el("rect", { x: sx, y: y + 16, width: Math.max(2, ex - sx), height: 11, rx: 3, fill: color, opacity: arr?.actual ? 1 : 0.45,
        stroke: color, "stroke-dasharray": arr?.actual ? "" : "4 3", "data-leg": i }, svg);
      const late = arr?.minutes_late;
      if (late !== null && late !== undefined && Math.abs(late) >= 60) {
        svgText(svg, ex + 4, y + 26, fmtDelay(late), { "font-size": 10, "font-weight": 700, fill: late > 0 ? "#c0392b" : "#1e8449" });
      }
    }
  });
  if (d.watermark) {
    const wx = x(+new Date(d.watermark));
    el("line", { x1: wx, x2: wx, y1: TOP - 4, y2: H - 6, stroke: "#c0392b", "stroke-width": 1.5, "stroke-dasharray": "4 3" }, svg);
    svgText(svg, wx + 3, H - 2, `as of ${fmtTime(d.watermark)}`, { "font-size": 10, fill: "#c0392b" });
  }
  const legend = document.createElement("div");
  legend.className = "legend";
  legend.innerHTML = `<span><i style="border-color:#c3cad3;border-top-width:8px"></i>planned</span>
    <span><i style="border-color:#555;border-top-width:8px"></i>actual</span>
    <span><i class="dash" style="border-color:#999"></i>predicted</span><span><i class="dash" style="border-color:#c0392b"></i>event time now</span>`;
  box.appendChild(legend);
}

// ---------------------------------------------------------------- ETA chart: how the prediction moved

function drawEta(box, d) {
  box.innerHTML = "";
  const h = d.eta.history;
  if (!h.length) return;
  const W = 420, H = 200, L = 92, R = 12, T = 12, B = 26;
  const xs = h.map((e) => +new Date(e.as_of));
  const band = h.filter((e) => e.arrival_p10 && e.arrival_p90);
  const ys = [...h.map((e) => +new Date(e.predicted_arrival)), +new Date(h[h.length - 1].planned_arrival),
    ...band.flatMap((e) => [+new Date(e.arrival_p10), +new Date(e.arrival_p90)])];
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (x1 - x0 < 3600000) { x0 -= 43200000; x1 += 43200000; }
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (y1 - y0 < 3600000) { y0 -= 43200000; y1 += 43200000; }
  const pad = (y1 - y0) * 0.12; y0 -= pad; y1 += pad;
  const x = (v) => L + ((v - x0) / (x1 - x0)) * (W - L - R);
  const y = (v) => T + ((y1 - v) / (y1 - y0)) * (H - T - B);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "viz", role: "img", "aria-label": "Predicted arrival over time" }, box);
  el("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "#fafbfc", stroke: "#e3e7ec" }, svg);
  const HOUR = 3600000;
  const yStep = [6, 12, 24, 48, 96, 168, 336].map((h_) => h_ * HOUR).find((st) => (y1 - y0) / st <= 5) ?? 672 * HOUR;
  for (let v = Math.ceil(y0 / yStep) * yStep; v <= y1; v += yStep) {
    el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#eef1f4" }, svg);
    svgText(svg, L - 6, y(v) + 4, fmtTime(new Date(v).toISOString(), { time: yStep < 24 * HOUR }), { "font-size": 10, fill: "#5f6b7a", "text-anchor": "end" });
  }
  svgText(svg, L, H - 8, `as of ${fmtTime(new Date(x0).toISOString())}`, { "font-size": 10, fill: "#5f6b7a" });
  svgText(svg, W - R, H - 8, fmtTime(new Date(x1).toISOString()), { "font-size": 10, fill: "#5f6b7a", "text-anchor": "end" });
  const planned = +new Date(h[h.length - 1].planned_arrival);
  el("line", { x1: L, x2: W - R, y1: y(planned), y2: y(planned), stroke: "#1e8449", "stroke-dasharray": "5 4" }, svg);
  svgText(svg, W - R - 2, y(planned) - 4, "planned", { "font-size": 10, fill: "#1e8449", "text-anchor": "end" });
  if (band.length) { // the p10-p90 band, as a step area behind the prediction: along p90, then back along p10
    const until = (i) => (i + 1 < band.length ? x(+new Date(band[i + 1].as_of)) : W - R);
    const pts = [];
    band.forEach((e, i) => pts.push([x(+new Date(e.as_of)), y(+new Date(e.arrival_p90))], [until(i), y(+new Date(e.arrival_p90))]));
    for (let i = band.length - 1; i >= 0; i--) {
      const e = band[i];
      pts.push([until(i), y(+new Date(e.arrival_p10))], [x(+new Date(e.as_of)), y(+new Date(e.arrival_p10))]);
    }
    el("polygon", { points: pts.map((p) => p.join(",")).join(" "), fill: "#c0392b", opacity: 0.12, "data-testid": "eta-band-area" }, svg);
  }
  let path = "";
  h.forEach((e, i) => {
    const px_ = x(+new Date(e.as_of)), py_ = y(+new Date(e.predicted_arrival));
    path += i === 0 ? `M${px_},${py_}` : `H${px_}V${py_}`;
  });
  path += `H${W - R}`;
  el("path", { d: path, fill: "none", stroke: "#c0392b", "stroke-width": 2 }, svg);
  h.forEach((e) => el("circle", { cx: x(+new Date(e.as_of)), cy: y(+new Date(e.predicted_arrival)), r: 3.5, fill: "#c0392b" }, svg));
}

// ---------------------------------------------------------------- live lists of delayed and overdue units and shipments

function boardMeta(coverage, what) {
  return coverage.complete
    ? `${what} with open alerts, most urgent first. Refreshes every ${REFRESH_MS / 1000} s.`
    : `Partial: partitions ${coverage.missing.join(", ")} did not answer (rebalancing?).`;
}

function unitItem(r, before) {
  const key = r.unit.id + "|" + (r.latest_alert?.alert_id ?? "");
  const fresh = before.size && !before.has(key) ? " fresh" : "";
  return `<li class="${esc(r.attention)}${fresh}" data-unit="${esc(r.unit.id)}" data-kind="${esc(r.unit.kind)}" tabindex="0">
      <button class="uid" type="button">${esc(r.unit.id)}</button> ${badge(r.attention)} ${badge(r.worst_severity)} ${modeTag(r.mode)}
      <div class="line"><span class="delay ${r.minutes_late > 0 ? "late" : ""}">${r.minutes_late === null ? "" : fmtDelay(r.minutes_late)}</span>
        · ${esc(r.location ?? "not departed")} → ${esc(r.destination ?? "?")} · ETA ${fmtTime(r.predicted_arrival)}</div>
      <div class="msg">${esc(r.latest_alert?.message ?? "")}</div></li>`;
}

// A shipment's row: the cargo that has not left is OVERDUE (as on the unit list); its status, where its cargo
// last was, and predicted against promised (or planned) delivery.
function shipmentItem(r, before) {
  const key = r.shipment.id + "|" + (r.latest_alert?.alert_id ?? "");
  const fresh = before.size && !before.has(key) ? " fresh" : "";
  const overdue = r.kinds.includes("OVERDUE") ? "OVERDUE" : "";
  // The delay is against the planned delivery; a promise to the customer, when there is one, is shown beside it.
  const due = [r.planned_delivery && `planned ${fmtTime(r.planned_delivery)}`,
    r.promised_delivery && r.promised_delivery !== r.planned_delivery && `promised ${fmtTime(r.promised_delivery)}`]
    .filter(Boolean).join(", ");
  return `<li class="${overdue}${fresh}" data-shipment="${esc(r.shipment.id)}" data-kind="${esc(r.shipment.kind)}" tabindex="0">
      <button class="uid" type="button">${esc(r.shipment.id)}</button> ${badge(r.status)} ${badge(r.worst_severity)}
      <span class="kinds">${r.kinds.map((k) => esc(k.toLowerCase())).join(" · ")}</span>
      <div class="line"><span class="delay ${r.minutes_late > 0 ? "late" : ""}">${r.minutes_late === null ? "" : fmtDelay(r.minutes_late)}</span>
        · ${esc(r.location ?? "not departed")} → ${esc(r.destination ?? "?")} · delivery ${fmtTime(r.predicted_delivery)}
        ${due ? `(${due})` : ""}${r.customer ? ` · ${esc(r.customer)}` : ""}</div>
      <div class="msg">${esc(r.latest_alert?.message ?? "")}</div></li>`;
}

// A unit or shipment predicted (median) to miss its plan or promise beyond tolerance, alert or not.
function riskItem(r, before) {
  const ref = r.unit ?? r.shipment;
  const key = r.record + "|" + ref.id;
  const fresh = before.size && !before.has(key) ? " fresh" : "";
  const data = r.unit ? `data-unit="${esc(ref.id)}"` : `data-shipment="${esc(ref.id)}"`;
  const p90 = r.predicted_p90 ? ` (p90 ${fmtTime(r.predicted_p90)})` : "";
  return `<li class="${r.diverted ? "OVERDUE" : ""}${fresh}" ${data} data-kind="${esc(ref.kind)}" tabindex="0">
      <button class="uid" type="button">${esc(ref.id)}</button> ${badge(r.record === "unit" ? "UNIT" : "SHIPMENT")} ${r.diverted ? badge("DIVERTED") : ""}
      <div class="line"><span class="delay late">${r.minutes_late === null ? "" : fmtDelay(r.minutes_late)}</span>
        · ${esc(r.location ?? "not departed")} → ${esc(r.destination ?? "?")} · predicted ${fmtTime(r.predicted)}${p90}
        ${r.promised ? ` · promised ${fmtTime(r.promised)}` : ""}</div>
      <div class="msg">${esc(r.reason)}</div></li>`;
}

function fillBoard(list, items, render, keyOf, beforeKey, none) {
  const before = view[beforeKey];
  view[beforeKey] = new Set(items.map(keyOf));
  list.innerHTML = items.length ? items.map((r) => render(r, before)).join("")
    : `<li class="none" style="border-left-color:var(--ok);cursor:default">${none}</li>`;
}

async function refreshBoard() {
  const [units, shipments, risk] = await Promise.all([api("/api/delayed?limit=200"),
    api("/api/delayed/shipments?limit=200"), api("/api/at-risk?limit=200")]);
  const live = $("#live");
  const failed = [units, shipments].find((res) => !res.ok);
  const now = new Date();
  live.className = failed ? "live down" : "live ok";
  live.textContent = failed ? `list not updated: ${failed.body?.message ?? `HTTP ${failed.status}`}`
    : `live · updated ${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
  if (units.ok) {
    const { items, total, coverage } = units.body;
    $("#board-count").textContent = total;
    $("#board-meta").textContent = boardMeta(coverage, "Units");
    fillBoard($("#delayed"), items, unitItem, (r) => r.unit.id + "|" + (r.latest_alert?.alert_id ?? ""),
      "boardKeys", "No delayed or overdue unit.");
  }
  if (shipments.ok) {
    const { items, total, coverage } = shipments.body;
    $("#ship-board-count").textContent = total;
    $("#ship-board-meta").textContent = boardMeta(coverage, "Shipments");
    fillBoard($("#delayed-shipments"), items, shipmentItem,
      (r) => r.shipment.id + "|" + (r.latest_alert?.alert_id ?? ""), "shipBoardKeys", "No shipment at risk.");
  }
  if (risk.ok) {
    const { items, total, coverage } = risk.body;
    $("#risk-board-count").textContent = total;
    $("#risk-board-meta").textContent = coverage.complete
      ? `Predicted (median) to miss plan or promise beyond tolerance, alert or not; most impact first.`
      : `Partial: partitions ${coverage.missing.join(", ")} did not answer (rebalancing?).`;
    fillBoard($("#at-risk"), items, riskItem, (r) => r.record + "|" + (r.unit ?? r.shipment).id, "riskKeys",
      "Nothing predicted late.");
  }
  markSelected();
  if (view.ref && view.body) load(false); // the open unit or shipment follows the same rhythm
}

function markSelected() {
  for (const li of document.querySelectorAll("#delayed li[data-unit]")) {
    li.classList.toggle("selected", !!view.body?.unit && li.dataset.unit === view.body.unit.id);
  }
  const shown = view.what === "shipments" ? view.body?.shipment?.id : null;
  for (const li of document.querySelectorAll("#delayed-shipments li[data-shipment]")) {
    li.classList.toggle("selected", !!shown && li.dataset.shipment === shown);
  }
}

function openFromBoard(ev) {
  if (ev.type === "keydown" && ev.key !== "Enter") return;
  const unit = ev.target.closest("li[data-unit]");
  if (unit) { location.hash = unitHash(unit.dataset.unit, unit.dataset.kind === "CONTAINER" ? "" : unit.dataset.kind); return; }
  const shipment = ev.target.closest("li[data-shipment]");
  if (shipment) location.hash = shipmentHash(shipment.dataset.shipment, shipment.dataset.kind);
}
for (const list of [$("#delayed"), $("#delayed-shipments"), $("#at-risk")]) {
  list.addEventListener("click", openFromBoard);
  list.addEventListener("keydown", openFromBoard);
}

async function tick() {
  await refreshBoard();
  setTimeout(tick, REFRESH_MS);
}

route();
tick();

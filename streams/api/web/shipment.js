// corridor operations page: the shipment view (a booking, bill of lading, air waybill or consignment followed
// across the units that carry its parts). Loaded before app.js, whose helpers it uses when called.
"use strict";

const PART_DASH = ["", "10 5", "3 5", "14 4 3 4"]; // tells parts in the same mode apart on the map

function legWords(plan, i) {
  const leg = plan?.legs?.[i];
  return leg ? `leg ${i + 1} ${leg.mode.toLowerCase()} ${leg.origin} → ${leg.destination}` : i === null || i === undefined ? "" : `leg ${i + 1}`;
}
const unitLink = (u) => u ? `<a href="${unitHash(u.id, u.kind === "CONTAINER" ? "" : u.kind)}" class="ulink" data-unit-link="${esc(u.id)}">${esc(u.id)}</a>` : "";
function fmtHours(min) {
  if (min === null || min === undefined) return "–";
  const h = min / 60;
  return h >= 48 ? `${(h / 24).toFixed(1)} d` : `${h.toFixed(h < 10 ? 1 : 0)} h`;
}

function renderShipment(d) {
  const t = d.timeline, plan = d.plan, eta = d.eta.current;
  const places = Object.fromEntries(d.places.map((p) => [p.locode, p]));
  const where = (code) => code ? `${esc(code)}${places[code]?.name ? ` <span class="muted">${esc(places[code].name)}</span>` : ""}` : "–";
  const late = t.minutes_late;
  const cls = late === null || late === undefined ? "" : late > 360 ? "late" : late > 0 ? "warn" : "ok";
  const delivered = t.delivered_at;
  const when = delivered ?? t.predicted_delivery;
  const cause = eta && eta.cause_leg !== null && eta.cause_leg !== undefined
    ? `moved most by ${legWords(plan, eta.cause_leg)}${eta.cause_unit ? `, unit ${unitLink(eta.cause_unit)}` : ""}` : "";
  const detail = $("#detail");
  detail.innerHTML = `
    <div class="card unit-head">
      <div>
        <div class="unit-id" data-testid="shipment-id">${esc(d.shipment.id)}</div>
        <div>${badge(d.shipment.kind.replace(/_/g, " "), "PLANNED")} ${badge(t.status)} <span class="muted">shipment</span></div>
        <dl class="kv">
          <dt>Cargo</dt><dd data-testid="shipment-pieces">${t.pieces ?? "?"} pieces in ${t.parts.length} part${t.parts.length === 1 ? "" : "s"}
            across ${new Set(t.parts.map((p) => p.unit.id)).size} unit${new Set(t.parts.map((p) => p.unit.id)).size === 1 ? "" : "s"}</dd>
          <dt>Lane</dt><dd>${esc(t.lane ?? "–")}${plan ? ` · plan revision ${plan.revision}` : ""}${t.customer ? ` · ${esc(t.customer)}` : ""}</dd>
          <dt>Cargo last at</dt><dd data-testid="shipment-location">${where(t.location)}</dd>
          <dt>Destination</dt><dd>${where(t.destination)}</dd>
          <dt>Event time</dt><dd>as of ${fmtTime(d.watermark, { year: true })} UTC <span class="muted">(partition ${d.partition})</span></dd>
        </dl>
      </div>
      <div class="eta-box ${cls}" data-testid="eta">
        <h3>${delivered ? "Delivered" : "Predicted delivery"} at ${esc(t.destination ?? "destination")}</h3>
        <div class="eta-big" data-testid="eta-predicted">${fmtTime(when, { year: true })} UTC</div>
        <div>planned ${fmtTime(t.planned_delivery, { year: true })}${t.promised_delivery ? ` · promised ${fmtTime(t.promised_delivery)}` : ""}
          · <span class="delay ${cls}" data-testid="eta-delay">${late === null || late === undefined ? "–" : late > 0 ? `${fmtDelay(late)} late` : fmtDelay(late) === "on time" ? "on time" : `${fmtDelay(late)} early`}</span></div>
        <div class="muted">${eta ? `last ETA update ${fmtTime(eta.as_of)}: ${esc(eta.reason)}` : "no ETA published yet"}</div>
        ${!delivered && t.predicted_delivery_p10 && t.predicted_delivery_p90 ? `<div data-testid="eta-band">80% likely between ${fmtTime(t.predicted_delivery_p10)} and ${fmtTime(t.predicted_delivery_p90)}</div>` : ""}
        ${cause ? `<div class="muted" data-testid="eta-cause">${cause}</div>` : ""}
      </div>
    </div>

    <div class="card" data-testid="alerts">
      <h2>Open alerts <span class="count" style="background:${d.open_alerts.length ? "var(--late)" : "var(--ok)"}">${d.open_alerts.length}</span></h2>
      ${d.open_alerts.length ? `<ul class="alerts">${d.open_alerts.map((a) => shipmentAlertItem(a, plan)).join("")}</ul>` : `<p class="muted">No open alert.</p>`}
      ${d.closed_alerts.length ? `<details id="closed-alerts" ${view.closedOpen ? "open" : ""}><summary>${d.closed_alerts.length} closed alert${d.closed_alerts.length > 1 ? "s" : ""}</summary>
        <ul class="alerts">${d.closed_alerts.map((c) => shipmentAlertItem(c.alert, plan, c.closed_because)).join("")}</ul></details>` : ""}
    </div>

    <div class="card">
      <h2>Parts and the units that carry them</h2>
      ${partsTable(d)}
    </div>

    <div class="card">
      <h2>Route</h2>
      <div class="map-wrap" id="map" data-testid="map"></div>
      <div class="legend">${d.routes.map((r, i) => `<span><i style="border-color:${MODE_COLOR[r.mode] ?? "#555"}${PART_DASH[i % PART_DASH.length] ? ";border-top-style:dashed" : ""}"></i>${esc(r.unit.id)} · ${r.pieces ?? "?"} pcs</span>`).join("")}
        <span><i style="border-color:#b7c0cb;border-top-width:6px"></i>planned legs</span>
        <span>● cargo has been there · ○ not yet</span></div>
    </div>

    <div class="card">
      <h2>Timeline</h2>
      <div id="axis" data-testid="time-axis"></div>
      ${legsTable(d, places)}
      ${hubsTable(d, places)}
      ${shipmentEventsTable(t)}
    </div>

    <div class="card">
      <h2>ETA history <span class="muted" style="font-weight:400">(${d.eta.history.length} update${d.eta.history.length === 1 ? "" : "s"})</span></h2>
      <div class="two">
        <div id="eta-chart" data-testid="eta-chart"></div>
        <div>${shipmentEtaTable(d.eta.history, plan)}</div>
      </div>
    </div>`;
  $("#empty").hidden = true;
  detail.hidden = false;
  const closed = $("#closed-alerts");
  if (closed) closed.addEventListener("toggle", () => { view.closedOpen = closed.open; });
  drawShipmentMap($("#map"), d);
  drawShipmentAxis($("#axis"), d);
  // the unit's chart, fed the door-to-door prediction and its band (p10-p90) as they were published
  drawEta($("#eta-chart"), { eta: { history: d.eta.history.map((e) => ({ ...e, predicted_arrival: e.predicted_delivery,
    planned_arrival: e.planned_delivery, arrival_p10: e.predicted_delivery_p10, arrival_p90: e.predicted_delivery_p90 })) } });
}

function shipmentAlertItem(a, plan, closedBecause) {
  const amount = a.kind === "LATE" || a.kind === "OVERDUE" ? `<span class="delay late">${fmtDelay(a.minutes)}</span>`
    : `<span class="delay late">${fmtHours(a.minutes)} ${a.kind === "DWELL" ? "at the hub" : "held"}</span>`;
  return `<li class="${esc(a.severity)}${closedBecause ? " closed" : ""}" data-alert="${esc(a.alert_id)}" data-kind="${esc(a.kind)}">
    ${badge(a.kind)} ${badge(a.severity)} <strong>${esc(legWords(plan, a.leg_index) || a.location)}</strong>
    ${a.unit ? `· unit ${unitLink(a.unit)}` : `· <span class="muted">no unit yet</span>`} ${amount}
    <div>${esc(a.message)}</div>
    <div class="when">detected ${fmtTime(a.detected_at, { year: true })} UTC at ${esc(a.location)}${closedBecause ? ` · closed: ${esc(closedBecause)}` : ""}</div>
  </li>`;
}

function partsTable(d) {
  const t = d.timeline;
  if (!t.parts.length) return `<p class="muted">No unit has reported loading this shipment's cargo yet.</p>`;
  const route = Object.fromEntries(d.routes.map((r) => [r.unit.id + "|" + r.leg_index, r]));
  const rows = t.parts.map((p) => {
    const r = route[p.unit.id + "|" + p.leg_index];
    return `<tr data-part="${esc(p.unit.id)}">
      <td>${unitLink(p.unit)} <span class="muted">${esc(p.unit.kind.toLowerCase())}</span></td>
      <td class="num">${p.pieces ?? "all"}</td>
      <td>${esc(legWords(d.plan, p.leg_index))}</td>
      <td class="t">${p.loaded_location ? `${esc(p.loaded_location)} ${fmtTime(p.loaded_at)}` : "–"}</td>
      <td class="t">${p.unloaded_location ? `${esc(p.unloaded_location)} ${fmtTime(p.unloaded_at)}` : `<span class="pred">aboard</span>`}</td>
      <td>${r?.unit_status ? badge(r.unit_status) : ""} ${esc(r?.unit_location ?? "")}</td></tr>`;
  });
  return `<table data-testid="parts"><thead><tr><th>Unit</th><th class="num">Pieces</th><th>On</th><th>Loaded</th><th>Unloaded</th><th>Unit now</th></tr></thead>
    <tbody>${rows.join("")}</tbody></table>`;
}

function legsTable(d, places) {
  const t = d.timeline;
  if (!t.legs.length) return `<p class="muted">No shipment plan received yet: only the units' reports are known.</p>`;
  const rows = t.legs.map((g) => {
    const band = g.predicted_arrival_p10 && g.predicted_arrival_p90
      ? `<div class="muted" data-leg-band="${g.leg_index}">80% likely ${fmtTime(g.predicted_arrival_p10)} to ${fmtTime(g.predicted_arrival_p90)}</div>` : "";
    const arr = g.actual_arrival ? fmtTime(g.actual_arrival) : g.predicted_arrival ? `<span class="pred">${fmtTime(g.predicted_arrival)} (predicted)</span>${band}` : "–";
    return `<tr class="${g.actual_arrival ? "done" : ""}" data-leg-row="${g.leg_index}">
      <td>${g.leg_index + 1}. ${esc(g.origin)} → ${esc(g.destination)} <span class="muted">${esc(places[g.destination]?.name ?? "")}</span></td>
      <td>${modeTag(g.mode)}</td><td>${g.units.map((u) => esc(u)).join(", ") || "–"}</td>
      <td class="num">${g.pieces_departed} / ${g.pieces_arrived}</td>
      <td class="t">${fmtTime(g.planned_departure)}<br>${g.actual_departure ? fmtTime(g.actual_departure) : "<span class=\"muted\">–</span>"}</td>
      <td class="t">${fmtTime(g.planned_arrival)}<br>${arr}</td>
      <td class="num"><span class="delay ${delayClass(g.minutes_late, g.mode)}">${g.minutes_late === null ? "–" : fmtDelay(g.minutes_late)}</span></td></tr>`;
  });
  return `<table data-testid="legs"><thead><tr><th>Leg</th><th>Mode</th><th>Units</th><th class="num">Pieces left / in</th>
    <th>Departs: planned<br>last piece</th><th>Arrives: planned<br>last piece</th><th class="num">Late</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function hubsTable(d, places) {
  const hubs = d.timeline.hubs;
  if (!hubs.length) return "";
  const rows = hubs.map((h) => {
    const over = h.dwell_minutes !== null && h.dwell_minutes > h.normal_minutes;
    const hold = h.held_since ? `<span class="delay late">held since ${fmtTime(h.held_since)}</span>` : h.released_at ? `released ${fmtTime(h.released_at)}` : "–";
    return `<tr data-hub="${esc(h.location)}"><td>${esc(h.location)} <span class="muted">${esc(places[h.location]?.name ?? "")}</span></td>
      <td class="t">${fmtTime(h.arrived)}</td><td class="t">${h.departed ? fmtTime(h.departed) : "<span class=\"pred\">still there</span>"}</td>
      <td class="num"><span class="delay ${over ? "late" : "ok"}">${fmtHours(h.dwell_minutes)}</span></td><td class="num">${fmtHours(h.normal_minutes)}</td><td>${hold}</td></tr>`;
  });
  return `<h3 style="margin-top:.8rem">Hub stays</h3><table data-testid="hubs"><thead><tr><th>Hub</th><th>First piece in</th><th>Last piece out</th>
    <th class="num">Dwell</th><th class="num">Normal</th><th>Customs</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function shipmentEventsTable(t) {
  if (!t.events.length) return "";
  const rows = t.events.slice().reverse().map((e) => `<tr><td class="t">${fmtTime(e.event_time, { year: true })}</td>
    <td>${esc(e.milestone.replace("_", " ").toLowerCase())}</td><td>${e.unit ? esc(e.unit.id) : "<span class=\"muted\">shipment</span>"}</td>
    <td class="num">${e.pieces ?? ""}</td><td>${esc(e.location)}</td><td>${modeTag(e.mode)}</td><td class="muted">${esc(e.source)}</td></tr>`);
  return `<details><summary>${t.events.length} event${t.events.length > 1 ? "s" : ""} across units</summary>
    <table><thead><tr><th>Event time</th><th>Milestone</th><th>Unit</th><th class="num">Pieces</th><th>Where</th><th>Mode</th><th>Source</th></tr></thead>
    <tbody>${rows.join("")}</tbody></table></details>`;
}

function shipmentEtaTable(history, plan) {
  if (!history.length) return `<p class="muted">No ETA published yet.</p>`;
  const rows = history.slice().reverse().map((e) => {
    const shift = e.previous_prediction ? (new Date(e.predicted_delivery) - new Date(e.previous_prediction)) / 60000 : null;
    const cause = e.cause_leg === null || e.cause_leg === undefined ? "" : `${legWords(plan, e.cause_leg)}${e.cause_unit ? ` · ${esc(e.cause_unit.id)}` : ""}`;
    return `<tr><td class="t">${fmtTime(e.as_of)}</td><td class="t">${fmtTime(e.predicted_delivery)}</td>
      <td class="num"><span class="delay ${shift > 0 ? "late" : "ok"}">${shift === null ? "first" : shift === 0 ? "unchanged" : fmtDelay(shift)}</span></td>
      <td>${esc(e.reason)}${cause ? `<div class="muted">${cause}</div>` : ""}</td></tr>`;
  });
  return `<table data-testid="eta-history"><thead><tr><th>As of</th><th>Predicted</th><th class="num">Moved</th><th>Why</th></tr></thead>
    <tbody>${rows.join("")}</tbody></table>`;
}

// ---------------------------------------------------------------- map: the plan's legs, and each part's path

async function drawShipmentMap(box, d) {
  const pos = Object.fromEntries(d.places.map((p) => [p.locode, p]));
  const legs = d.plan?.legs ?? [];
  const codes = [...new Set([...(legs.length ? [legs[0].origin, ...legs.map((l) => l.destination)] : []), ...d.routes.flatMap((r) => r.stops)])];
  const stops = codes.filter((c) => pos[c]).map((c) => ({ code: c, name: pos[c].name, lat: pos[c].lat, lon: pos[c].lon }));
  const frame = await mapFrame(box, stops, `Route of shipment ${d.shipment.id} and its parts on a map`);
  if (!frame) return;
  const { svg, px, py, W } = frame;
  const at = (code) => pos[code] && { x: px(pos[code].lon), y: py(pos[code].lat) };
  // planned legs: a wide pale band under the parts
  const plannedG = el("g", { fill: "none", "stroke-linecap": "round" }, svg);
  legs.forEach((leg) => {
    const a = at(leg.origin), b = at(leg.destination);
    if (a && b) el("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, stroke: "#b7c0cb", "stroke-width": 9, opacity: 0.55 }, plannedG);
  });
  // parts: one line per part through its unit's stops, offset sideways where parts share a segment
  const shared = {};
  d.routes.forEach((r) => r.stops.slice(1).forEach((c, j) => { const k = [r.stops[j], c].sort().join(); shared[k] = (shared[k] ?? 0) + 1; }));
  const seen = {};
  const partsG = el("g", { fill: "none", "stroke-linecap": "round", "stroke-linejoin": "round" }, svg);
  const labels = [];
  const labelled = {};
  d.routes.forEach((r, i) => {
    const pts = [];
    r.stops.slice(1).forEach((c, j) => {
      const a = at(r.stops[j]), b = at(c);
      if (!a || !b) return;
      const k = [r.stops[j], c].sort().join();
      const n = shared[k], idx = (seen[k] = (seen[k] ?? -1) + 1);
      const off = (idx - (n - 1) / 2) * 7;
      const len = Math.hypot(b.x - a.x, b.y - a.y) || 1;
      const ox = (-(b.y - a.y) / len) * off, oy = ((b.x - a.x) / len) * off;
      pts.push([a.x + ox, a.y + oy], [b.x + ox, b.y + oy]);
    });
    if (!pts.length) return;
    el("path", { d: "M" + pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join("L"), stroke: MODE_COLOR[r.mode] ?? "#555",
      "stroke-width": 3.5, "stroke-dasharray": PART_DASH[i % PART_DASH.length], opacity: r.aboard ? 0.8 : 1, "data-part": r.unit.id }, partsG);
    // parts sharing their first segment are labelled at different points along it
    const k = [r.stops[0], r.stops[1]].sort().join(), n = shared[k] ?? 1, idx = (labelled[k] = (labelled[k] ?? -1) + 1);
    const f = 0.5 + (idx - (n - 1) / 2) * 0.22;
    const [mx, my] = [pts[0][0] + (pts[1][0] - pts[0][0]) * f, pts[0][1] + (pts[1][1] - pts[0][1]) * f];
    labels.push({ x: mx, y: my, text: `${r.unit.id} · ${r.pieces ?? "?"} pcs`, color: MODE_COLOR[r.mode] ?? "#555" });
  });
  // stops
  const been = new Set([...d.timeline.events.map((e) => e.location), ...(d.timeline.location ? [d.timeline.location] : [])]);
  const stopG = el("g", { "font-size": 12 }, svg);
  stops.forEach((s) => {
    const x = px(s.lon), y = py(s.lat);
    el("circle", { cx: x, cy: y, r: 6, fill: been.has(s.code) ? "#1d2430" : "#fff", stroke: "#1d2430", "stroke-width": 2, "data-stop": s.code }, stopG);
    const right = x > W - 160;
    svgText(stopG, right ? x - 9 : x + 9, y - 9, `${s.code}${s.name ? " " + s.name : ""}`, { "font-weight": 600, fill: "#1d2430",
      "paint-order": "stroke", stroke: "#fff", "stroke-width": 3, "text-anchor": right ? "end" : "start", "data-label": s.code });
  });
  // part labels, nudged apart vertically when they would overlap
  labels.sort((a, b) => a.y - b.y);
  labels.forEach((l, i) => {
    const prev = labels[i - 1];
    if (prev && Math.abs(prev.x - l.x) < 140 && l.y - prev.y < 15) l.y = prev.y + 15;
    svgText(svg, l.x, l.y + 16, l.text, { "font-size": 11, "font-weight": 700, fill: l.color, "text-anchor": "middle",
      "paint-order": "stroke", stroke: "#fff", "stroke-width": 3 });
  });
  // where the cargo is now
  const here = d.timeline.location && at(d.timeline.location);
  if (here) {
    el("circle", { cx: here.x, cy: here.y, r: 13, fill: "rgba(192,57,43,.18)", stroke: "#c0392b", "stroke-width": 2 }, svg);
    const status = d.timeline.status.toLowerCase().replace("_", " ");
    svgText(svg, here.x > W - 160 ? here.x - 14 : here.x + 14, here.y + 24, `cargo: ${status}`, { "text-anchor": here.x > W - 160 ? "end" : "start",
      "font-size": 12, "font-weight": 700, fill: "#c0392b", "paint-order": "stroke", stroke: "#fff", "stroke-width": 3 });
  }
}

// ---------------------------------------------------------------- time axis: legs, their parts, hub stays

function drawShipmentAxis(box, d) {
  box.innerHTML = "";
  const t = d.timeline, legs = t.legs;
  if (!legs.length) return;
  const T = (v) => +new Date(v);
  const now = d.watermark ? T(d.watermark) : null;
  const rows = [];
  legs.forEach((g) => {
    rows.push({ type: "leg", g });
    t.parts.filter((p) => p.leg_index === g.leg_index).forEach((p) => rows.push({ type: "part", p, g }));
    const stay = t.hubs.find((h) => h.location === g.destination);
    if (stay) rows.push({ type: "hub", h: stay });
  });
  const times = [];
  for (const g of legs) for (const k of ["planned_departure", "planned_arrival", "actual_departure", "actual_arrival", "predicted_arrival"]) if (g[k]) times.push(T(g[k]));
  for (const p of t.parts) for (const k of ["loaded_at", "unloaded_at"]) if (p[k]) times.push(T(p[k]));
  for (const k of ["planned_delivery", "predicted_delivery", "delivered_at", "predicted_delivery_p10", "predicted_delivery_p90"]) if (t[k]) times.push(T(t[k]));
  if (now) times.push(now);
  const DAY = 86400000;
  const t0 = Math.floor((Math.min(...times) - DAY / 4) / DAY) * DAY, t1 = Math.ceil((Math.max(...times) + DAY / 4) / DAY) * DAY;
  const W = 860, L = 200, R = 70, TOP = 28, ROW = 24;
  const H = TOP + rows.length * ROW + 34;
  const x = (v) => L + ((v - t0) / (t1 - t0)) * (W - L - R);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "viz", role: "img", "aria-label": "Shipment legs, parts and hub stays on a time axis" }, box);
  const days = (t1 - t0) / DAY;
  const step = days <= 16 ? 1 : days <= 40 ? 2 : days <= 90 ? 7 : 14;
  const axis = el("g", { "font-size": 11, fill: "#5f6b7a" }, svg);
  for (let tt = t0; tt <= t1; tt += step * DAY) {
    el("line", { x1: x(tt), x2: x(tt), y1: TOP - 6, y2: H - 18, stroke: "#eef1f4" }, axis);
    svgText(axis, x(tt), TOP - 10, fmtTime(new Date(tt).toISOString(), { time: false }), { "text-anchor": "middle" });
  }
  // the door delivery's band (p10-p90), shaded behind the rows (drawn first) while it is predicted
  if (!t.delivered_at && t.predicted_delivery_p10 && t.predicted_delivery_p90) {
    el("rect", { x: x(T(t.predicted_delivery_p10)), y: TOP - 4, width: Math.max(2, x(T(t.predicted_delivery_p90)) - x(T(t.predicted_delivery_p10))),
      height: H - 28 - TOP + 4, fill: "#c0392b", opacity: 0.08, "data-testid": "delivery-band" }, svg);
  }
  const bar = (a, b, y, h, attrs) => el("rect", { x: x(a), y, width: Math.max(2, x(b) - x(a)), height: h, rx: 3, ...attrs }, svg);
  rows.forEach((row, i) => {
    const y = TOP + i * ROW;
    if (row.type === "leg") {
      const g = row.g, color = MODE_COLOR[g.mode] ?? "#555";
      svgText(svg, 4, y + 15, `${g.leg_index + 1}. ${g.origin} → ${g.destination} · ${g.mode.toLowerCase()}`, { "font-size": 12, "font-weight": 600, fill: "#1d2430" });
      bar(T(g.planned_departure), T(g.planned_arrival), y + 3, 7, { fill: "#e3e7ec", stroke: "#c3cad3" });
      const s = g.actual_departure, e = g.actual_arrival ?? g.predicted_arrival;
      if (!s && g.predicted_arrival && now) { // not left yet: from now to the predicted arrival
        bar(now, T(g.predicted_arrival), y + 11, 9, { fill: color, opacity: 0.3, stroke: color, "stroke-dasharray": "4 3", "data-leg": g.leg_index });
      }
      if (s && e) {
        bar(T(s), T(e), y + 11, 9, { fill: color, opacity: g.actual_arrival ? 1 : 0.45, stroke: color, "stroke-dasharray": g.actual_arrival ? "" : "4 3", "data-leg": g.leg_index });
        if (g.minutes_late !== null && Math.abs(g.minutes_late) >= 60) {
          svgText(svg, x(T(e)) + 4, y + 19, fmtDelay(g.minutes_late), { "font-size": 10, "font-weight": 700, fill: g.minutes_late > 0 ? "#c0392b" : "#1e8449" });
        }
      }
    } else if (row.type === "part") {
      const p = row.p, color = MODE_COLOR[row.g.mode] ?? "#555";
      svgText(svg, 16, y + 15, `${p.unit.id} · ${p.pieces ?? "?"} pcs`.slice(0, 30), { "font-size": 11, fill: "#33475b" });
      if (p.loaded_at) {
        const end = p.unloaded_at ? T(p.unloaded_at) : now ?? T(p.loaded_at);
        bar(T(p.loaded_at), end, y + 6, 10, { fill: color, opacity: 0.3, stroke: color, "stroke-dasharray": p.unloaded_at ? "" : "4 3", "data-part-bar": p.unit.id });
      }
    } else {
      const h = row.h;
      svgText(svg, 16, y + 15, `at ${h.location}: ${fmtHours(h.dwell_minutes)} (normal ${fmtHours(h.normal_minutes)})`, { "font-size": 11, fill: "#33475b" });
      if (h.arrived) {
        const a = T(h.arrived), e = h.departed ? T(h.departed) : now ?? a;
        const normalEnd = a + h.normal_minutes * 60000;
        bar(a, Math.min(e, normalEnd), y + 6, 10, { fill: "#d5dbe3", "data-hub-bar": h.location });
        if (e > normalEnd) bar(normalEnd, e, y + 6, 10, { fill: "#e8a33d", "data-dwell-over": h.location });
        if (h.held_since) bar(T(h.held_since), h.released_at ? T(h.released_at) : now ?? T(h.held_since), y + 17, 4, { fill: "#c0392b" });
      }
    }
  });
  // vertical markers, their labels on two lines at the bottom when they would collide
  const marks = [];
  if (t.planned_delivery) marks.push([T(t.planned_delivery), "#1e8449", "planned delivery"]);
  const outcome = t.delivered_at ?? t.predicted_delivery;
  if (outcome) marks.push([T(outcome), "#c0392b", t.delivered_at ? "delivered" : "predicted delivery"]);
  if (now && (!outcome || Math.abs(x(now) - x(T(outcome))) > 4)) marks.push([now, "#5f6b7a", `as of ${fmtTime(d.watermark)}`]);
  marks.sort((a, b) => a[0] - b[0]);
  let lastEnd = -Infinity, line = 0;
  for (const [v, color, text] of marks) {
    line = x(v) < lastEnd ? 1 - line : 0;
    lastEnd = x(v) + text.length * 5.5 + 8;
    el("line", { x1: x(v), x2: x(v), y1: TOP - 4, y2: H - 28 + line * 12, stroke: color, "stroke-width": 1.5, "stroke-dasharray": "4 3" }, svg);
    svgText(svg, x(v) + 3, H - 18 + line * 12, text, { "font-size": 10, fill: color });
  }
  const legend = document.createElement("div");
  legend.className = "legend";
  legend.innerHTML = `<span><i style="border-color:#c3cad3;border-top-width:8px"></i>planned leg</span>
    <span><i style="border-color:#555;border-top-width:8px"></i>leg: first piece out to last piece in</span>
    <span><i style="border-color:#9aa5b1;border-top-width:8px;opacity:.5"></i>part in its unit</span>
    <span><i style="border-color:#e8a33d;border-top-width:8px"></i>dwell beyond normal</span>
    <span><i style="border-color:#c0392b;border-top-width:4px"></i>customs hold</span>
    ${!t.delivered_at && t.predicted_delivery_p10 ? `<span><i style="border-color:#c0392b;border-top-width:8px;opacity:.25"></i>delivery 80% likely (p10-p90)</span>` : ""}`;
  box.appendChild(legend);
}

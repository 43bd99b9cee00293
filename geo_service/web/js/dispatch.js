// /app/dispatch: the 12345 dispatcher's desk. Find the place (a caller's address, or a click on the map),
// see which grid and worker it falls to, file the incident, and move incidents through the closed loop.

import {
  addStrings, api, applyI18n, currentRole, detailText, distance, esc, failure, getToken, lang, notify, onLanguage, renderHeader, t,
} from "./common.js";
import { createMap } from "./map.js";

addStrings({
  zh: {
    "dp.new": "新建事件",
    "dp.search": "查找",
    "dp.search.placeholder": "来电人说的地址或地名，如 Mannerheimintie 5",
    "dp.click": "或在地图上点击事发位置。",
    "dp.category": "类别",
    "dp.description": "描述",
    "dp.address": "地址",
    "dp.ticket": "工单号",
    "dp.ticket.placeholder": "12345 工单号（可选，重复提交不会重复建单）",
    "dp.create": "创建并分派",
    "dp.queue": "事件队列",
    "dp.nocandidates": "没有找到这个地址：换个写法，或直接点击地图。",
    "dp.where": "事发位置",
    "dp.grid": "网格",
    "dp.nogrid": "不在任何网格内（属地兜底：{owner}）",
    "dp.outside": "不在任何区域内：不能建单",
    "dp.boundary": "距网格边界 {d}",
    "dp.nearest": "最近的网格 {code}，相距 {d}",
    "dp.workers": "网格员",
    "dp.noworkers": "该网格没有登记网格员",
    "dp.needlocation": "请先查找地址或在地图上点击事发位置。",
    "dp.needtoken": "建单和查看队列需要调度员（dispatcher）令牌：请在右上角填写。",
    "dp.creating": "正在建单…",
    "dp.created": "已创建事件 #{id}，分派到 {owner}。",
    "dp.existing": "工单号已存在：这是之前建的事件 #{id}。",
    "dp.nearboundary": "靠近网格边界（{d}）：请确认归属，或改派到相邻网格。",
    "dp.confirm": "确认归属",
    "dp.confirmed": "已确认归属。",
    "dp.pick": "地址不够明确，请选择一个：",
    "dp.incident": "事件 #{id}",
    "dp.status": "状态",
    "dp.owner": "责任主体",
    "dp.due": "处置时限",
    "dp.overdue": "已超时",
    "dp.note": "备注（退回、上报、不予立案时必填）",
    "dp.notereq": "“{label}”需要填写备注说明原因。",
    "dp.moved": "事件 #{id} 已变为：{status}",
    "dp.history": "处理记录",
    "dp.empty": "队列里没有符合条件的事件。",
    "dp.count": "{n} 个事件",
    "dp.final": "已结束：没有可执行的下一步。",
    "state.reported": "已上报",
    "state.filed": "已立案",
    "state.dispatched": "已派遣",
    "state.in_progress": "处置中",
    "state.resolved": "已处置",
    "state.verified": "已核查",
    "state.closed": "已结案",
    "state.rejected": "不予立案",
    "state.escalated": "已上报上级",
    "to.filed": "立案",
    "to.rejected": "不予立案",
    "to.dispatched": "派遣",
    "to.in_progress": "开始处置",
    "to.resolved": "处置完成",
    "to.verified": "核查通过",
    "to.closed": "结案",
    "to.escalated": "上报上级",
  },
  en: {
    "dp.new": "New incident",
    "dp.search": "Find",
    "dp.search.placeholder": "the caller's address or place, e.g. Mannerheimintie 5",
    "dp.click": "Or click where it happened on the map.",
    "dp.category": "Category",
    "dp.description": "Description",
    "dp.address": "Address",
    "dp.ticket": "Ticket",
    "dp.ticket.placeholder": "12345 ticket number (optional; sending it again returns the same incident)",
    "dp.create": "Create and assign",
    "dp.queue": "Incident queue",
    "dp.nocandidates": "Address not found: try another spelling, or click the map.",
    "dp.where": "Location",
    "dp.grid": "Grid",
    "dp.nogrid": "in no grid (owned by {owner})",
    "dp.outside": "outside every area: cannot be filed",
    "dp.boundary": "{d} from the grid boundary",
    "dp.nearest": "nearest grid {code}, {d} away",
    "dp.workers": "Grid workers",
    "dp.noworkers": "no grid worker on record for this grid",
    "dp.needlocation": "Find the address or click the map first.",
    "dp.needtoken": "Filing and the queue need a dispatcher token: enter it at the top right.",
    "dp.creating": "creating…",
    "dp.created": "Created incident #{id}, assigned to {owner}.",
    "dp.existing": "This ticket exists: incident #{id}, filed before.",
    "dp.nearboundary": "Close to a grid boundary ({d}): confirm the assignment or move it to the neighbour.",
    "dp.confirm": "Confirm assignment",
    "dp.confirmed": "Assignment confirmed.",
    "dp.pick": "The address is ambiguous; pick one:",
    "dp.incident": "Incident #{id}",
    "dp.status": "Status",
    "dp.owner": "Owner",
    "dp.due": "Due",
    "dp.overdue": "overdue",
    "dp.note": "note (needed to return, escalate or reject)",
    "dp.notereq": "“{label}” needs a note saying why.",
    "dp.moved": "Incident #{id} is now: {status}",
    "dp.history": "History",
    "dp.empty": "No incident in the queue matches.",
    "dp.count": "{n} incidents",
    "dp.final": "Finished: no next step.",
    "state.reported": "reported",
    "state.filed": "filed",
    "state.dispatched": "dispatched",
    "state.in_progress": "in progress",
    "state.resolved": "resolved",
    "state.verified": "verified",
    "state.closed": "closed",
    "state.rejected": "rejected",
    "state.escalated": "escalated",
    "to.filed": "File",
    "to.rejected": "Reject",
    "to.dispatched": "Dispatch",
    "to.in_progress": "Start work",
    "to.resolved": "Resolved",
    "to.verified": "Verified",
    "to.closed": "Close",
    "to.escalated": "Escalate",
  },
});

const STATUS_COLOURS = {
  reported: "#1565c0", filed: "#5e35b1", dispatched: "#ef6c00", in_progress: "#f9a825", resolved: "#2e7d32",
  verified: "#00897b", closed: "#607d8b", rejected: "#8d6e63", escalated: "#c62828",
};
const DEFAULT_FILTER = ["reported", "filed", "dispatched", "in_progress", "escalated"];

renderHeader("dispatch", { token: true });
const $ = (id) => document.getElementById(id);
const ui = {
  searchForm: $("search-form"), q: $("q"), candidates: $("candidates"), where: $("where"), form: $("incident-form"),
  category: $("category"), description: $("description"), address: $("address"), externalId: $("external-id"),
  created: $("created"), filter: $("status-filter"), queue: $("queue"),
};
const ctx = await createMap("map", { overlays: ["grids"] });
const { map } = ctx;
const state = { config: null, categories: [], location: null, located: null, filter: new Set(DEFAULT_FILTER), queue: [], current: null };
const pointLayer = L.layerGroup().addTo(map);
const gridLayer = L.layerGroup().addTo(map);
const queueLayer = L.layerGroup().addTo(map);
window.gs = { ctx, map, state };

const stateName = (s) => t(`state.${s}`);
const areaName = (a) => (a ? `${a.name || a.code} (${a.code})` : "");

// ------------------------------------------------------------------ where: geocoder and map clicks

ui.searchForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const q = ui.q.value.trim();
  if (!q) return;
  const result = await api(`/api/geocode?q=${encodeURIComponent(q)}&limit=6`);
  if (!result.ok) return notify(failure(result, "/api/geocode"), "error");
  showCandidates(result.data.candidates);
});

function showCandidates(candidates) {
  ui.candidates.innerHTML = "";
  if (!candidates.length) return notify(t("dp.nocandidates"), "warn");
  notify("");
  for (const c of candidates) {
    const li = document.createElement("li");
    li.innerHTML = `${esc(c.name)} <span class="meta">${esc(c.kind)} · ${Math.round((c.score ?? 0) * 100)}%</span>`;
    li.addEventListener("click", () => {
      ui.candidates.innerHTML = "";
      ui.address.value = c.name;
      setLocation([c.lon, c.lat]);
      map.setView(ctx.toLatLng([c.lon, c.lat]), Math.max(map.getZoom(), 17));
    });
    ui.candidates.append(li);
  }
}

map.on("click", (ev) => setLocation(ctx.toLonLat(ev.latlng)));

async function setLocation(lonlat) {
  state.location = lonlat;
  pointLayer.clearLayers();
  L.circleMarker(ctx.toLatLng(lonlat), { radius: 10, color: "#fff", weight: 3, fillColor: "#c62828", fillOpacity: 1 }).addTo(pointLayer);
  const result = await api(`/api/locate?lon=${lonlat[0].toFixed(7)}&lat=${lonlat[1].toFixed(7)}`);
  if (!result.ok) return notify(failure(result, "/api/locate"), "error");
  state.located = result.data;
  await renderWhere();
}

async function renderWhere() {
  const r = state.located;
  if (!r) return;
  let html = `<h2>${t("dp.where")}</h2><dl class="facts">`;
  if (r.grid) {
    html += `<dt>${t("dp.grid")}</dt><dd data-grid="${esc(r.grid.code)}"><b>${esc(areaName(r.grid))}</b></dd>`;
    html += `<dt></dt><dd>${t("dp.boundary", { d: distance(r.distance_to_boundary_m) })}</dd>`;
  } else if (r.ancestors.length) {
    html += `<dt>${t("dp.grid")}</dt><dd>${esc(t("dp.nogrid", { owner: areaName(r.ancestors[0]) }))}</dd>`;
    if (r.nearest_grid) html += `<dt></dt><dd>${t("dp.nearest", { code: esc(r.nearest_grid.code), d: distance(r.nearest_grid.distance_m) })}</dd>`;
  } else {
    html += `<dt>${t("dp.grid")}</dt><dd class="gap-positive">${t("dp.outside")}</dd>`;
  }
  for (const a of r.ancestors) html += `<dt>${t(`level.${a.level}`)}</dt><dd>${esc(areaName(a))}</dd>`;
  html += "</dl>";
  html += r.grid ? await workersHtml(r.grid.code, true) : "";
  ui.where.innerHTML = html;
  ui.where.hidden = false;
}

/** The grid's workers (they are on the grid record), and its outline on the map. */
async function workersHtml(code, outline) {
  const result = await api(`/api/grids/${encodeURIComponent(code)}`);
  if (!result.ok) return "";
  if (outline) {
    gridLayer.clearLayers();
    ctx.geoJSON(result.data, { style: { color: "#c62828", weight: 3, fill: true, fillOpacity: 0.08, dashArray: "6 4" }, interactive: false }).addTo(gridLayer);
  }
  const workers = result.data.properties.workers || [];
  if (!workers.length) return `<p class="hint">${t("dp.noworkers")}</p>`;
  const items = workers.map((w) => `<li data-worker>${esc(w.name)}${w.phone ? ` · <a href="tel:${esc(w.phone)}">${esc(w.phone)}</a>` : ""}</li>`);
  return `<p><b>${t("dp.workers")}</b></p><ul class="list">${items.join("")}</ul>`;
}

// ------------------------------------------------------------------ filing

function fillCategories() {
  const minors = state.categories.filter((c) => c.code.length > 3);
  const groups = new Map();
  for (const c of minors) {
    const key = `${c.kind}:${c.major_code}`;
    if (!groups.has(key)) groups.set(key, { label: `${c.kind === "event" ? "事件" : "部件"} · ${c.major_name}`, items: [] });
    groups.get(key).items.push(c);
  }
  const keep = ui.category.value;
  ui.category.innerHTML = [...groups.values()]
    .map((g) => `<optgroup label="${esc(g.label)}">${g.items.map((c) => `<option value="${esc(c.code)}">${esc(lang === "zh" ? c.name : c.name_en || c.name)} (${esc(c.code)})</option>`).join("")}</optgroup>`)
    .join("");
  if (keep) ui.category.value = keep;
}

ui.form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!getToken()) return notify(t("dp.needtoken"), "error");
  const address = ui.address.value.trim();
  if (!state.location && !address) return notify(t("dp.needlocation"), "warn");
  const body = { category: ui.category.value, description: ui.description.value.trim() || null };
  if (state.location) [body.lon, body.lat] = state.location.map((v) => Number(v.toFixed(7)));
  if (address) body.address = address;
  if (ui.externalId.value.trim()) body.external_id = ui.externalId.value.trim();
  notify(t("dp.creating"), "info");
  const result = await api("/api/incidents", { method: "POST", body, auth: true });
  if (result.status === 422 && result.data && Array.isArray(result.data.candidates)) {
    notify(t("dp.pick"), "warn");
    return showCandidates(result.data.candidates);
  }
  if (!result.ok) return notify(result.status === 401 || result.status === 403 ? `${t("dp.needtoken")} ${detailText(result.data)}` : failure(result, "/api/incidents"), "error");
  const incident = result.data;
  const owner = incident.grid_code ? areaName(incident.areas.find((a) => a.code === incident.grid_code)) : `${t(`level.${incident.owner_level}`)} ${incident.owner_code}`;
  notify(result.status === 200 ? t("dp.existing", { id: incident.id }) : t("dp.created", { id: incident.id, owner }), "ok");
  ui.description.value = "";
  ui.externalId.value = "";
  await loadQueue();
  await showIncident(incident.id);
});

// ------------------------------------------------------------------ the queue and one incident

function renderFilter() {
  const states = (state.config && state.config.incident_states) || DEFAULT_FILTER;
  ui.filter.innerHTML = states
    .map((s) => `<button type="button" class="chip" data-status="${s}" aria-pressed="${state.filter.has(s)}">${esc(stateName(s))}</button>`)
    .join("");
  for (const chip of ui.filter.querySelectorAll(".chip")) {
    chip.addEventListener("click", () => {
      const s = chip.dataset.status;
      if (state.filter.has(s)) state.filter.delete(s);
      else state.filter.add(s);
      renderFilter();
      loadQueue();
    });
  }
}

async function loadQueue() {
  if (!getToken()) {
    ui.queue.innerHTML = `<li class="meta">${t("dp.needtoken")}</li>`;
    return;
  }
  const statuses = [...state.filter].join(",");
  const result = await api(`/api/incidents?limit=200${statuses ? `&status=${statuses}` : ""}`, { auth: true });
  if (!result.ok) {
    ui.queue.innerHTML = `<li class="meta">${esc(failure(result, "/api/incidents"))}</li>`;
    return;
  }
  state.queue = result.data.features;
  renderQueue();
}

function renderQueue() {
  ui.queue.innerHTML = state.queue.length ? "" : `<li class="meta">${t("dp.empty")}</li>`;
  queueLayer.clearLayers();
  for (const f of state.queue) {
    const p = f.properties;
    const li = document.createElement("li");
    li.dataset.incident = p.id;
    li.className = state.current && state.current.id === p.id ? "selected" : "";
    li.innerHTML = `<b>#${p.id}</b> ${esc(lang === "zh" ? p.category_name : p.category_name_en || p.category_name)}
      <span class="badge st-${p.status}">${esc(stateName(p.status))}</span>
      ${p.overdue ? `<span class="badge bad">${t("dp.overdue")}</span>` : ""}
      ${p.near_boundary && !p.assignment_confirmed ? `<span class="badge warn"><i class="fa-solid fa-triangle-exclamation"></i></span>` : ""}
      <div class="meta">${esc(p.grid_code || p.owner_code)} · ${esc((p.created_at || "").replace("T", " ").slice(0, 16))} · ${esc((p.description || "").slice(0, 40))}</div>`;
    li.addEventListener("click", () => showIncident(p.id));
    ui.queue.append(li);
    L.circleMarker(ctx.toLatLng(f.geometry.coordinates), { radius: 7, color: "#fff", weight: 2, fillColor: STATUS_COLOURS[p.status] || "#333", fillOpacity: 0.95 })
      .bindTooltip(`#${p.id} ${esc(p.category_name)} · ${esc(stateName(p.status))}`)
      .on("click", (ev) => {
        L.DomEvent.stopPropagation(ev);
        showIncident(p.id);
      })
      .addTo(queueLayer);
  }
}

async function showIncident(id) {
  const result = await api(`/api/incidents/${id}`, { auth: true });
  if (!result.ok) return notify(failure(result, "/api/incidents/{id}"), "error");
  const inc = result.data;
  state.current = inc;
  renderQueue();
  const history = await api(`/api/incidents/${id}/history`, { auth: true });
  const moves = ((state.config && state.config.incident_transitions) || []).filter((m) => m.from === inc.status);
  const role = currentRole();
  const allowed = moves.filter((m) => !role || m.roles.includes(role.role));
  const grid = inc.areas.find((a) => a.code === inc.grid_code);
  ui.created.innerHTML = `
    <h2>${t("dp.incident", { id: inc.id })}</h2>
    <dl class="facts">
      <dt>${t("dp.status")}</dt><dd><span class="badge st-${inc.status}" data-status="${inc.status}">${esc(stateName(inc.status))}</span>${inc.overdue ? ` <span class="badge bad">${t("dp.overdue")}</span>` : ""}</dd>
      <dt>${t("dp.category")}</dt><dd>${esc(lang === "zh" ? inc.category_name : inc.category_name_en || inc.category_name)} (${esc(inc.category)})</dd>
      ${inc.description ? `<dt>${t("dp.description")}</dt><dd>${esc(inc.description)}</dd>` : ""}
      ${inc.address ? `<dt>${t("dp.address")}</dt><dd>${esc(inc.address)}</dd>` : ""}
      <dt>${t("dp.grid")}</dt><dd data-assigned="${esc(inc.grid_code || "")}"><b>${esc(grid ? areaName(grid) : "—")}</b></dd>
      <dt>${t("dp.owner")}</dt><dd>${esc(t(`level.${inc.owner_level}`))} ${esc(inc.owner_code)}</dd>
      <dt>${t("dp.due")}</dt><dd>${esc((inc.due_at || "").replace("T", " ").slice(0, 16))}</dd>
    </dl>
    ${inc.near_boundary && !inc.assignment_confirmed ? `<div class="status warn" data-near-boundary>${t("dp.nearboundary", { d: distance(inc.distance_to_boundary_m) })} <button type="button" class="btn" id="confirm">${t("dp.confirm")}</button></div>` : ""}
    ${inc.grid_code ? await workersHtml(inc.grid_code, false) : ""}
    ${allowed.length ? `<div class="row"><input id="note" data-i18n-placeholder="dp.note" placeholder="${esc(t("dp.note"))}"></div>
      <div class="row" id="moves">${allowed.map((m) => `<button type="button" class="btn${m.note_required ? "" : " primary"}" data-to="${m.to}" data-note="${m.note_required}">${esc(t(`to.${m.to}`))}</button>`).join("")}</div>` : `<p class="hint">${t("dp.final")}</p>`}
    ${history.ok ? `<p><b>${t("dp.history")}</b></p><ul class="list">${history.data.history.map((h) => `<li class="meta">${esc((h.at || "").replace("T", " ").slice(0, 16))} · ${esc(h.actor || "")} · ${esc(h.from_status ? `${stateName(h.from_status)} → ` : "")}${esc(h.to_status ? stateName(h.to_status) : h.action || "")}${h.note ? ` · ${esc(h.note)}` : ""}</li>`).join("")}</ul>` : ""}`;
  for (const button of ui.created.querySelectorAll("#moves button")) {
    button.addEventListener("click", () => transition(inc, button.dataset.to, button.dataset.note === "true"));
  }
  const confirm = ui.created.querySelector("#confirm");
  if (confirm) {
    confirm.addEventListener("click", async () => {
      const r = await api(`/api/incidents/${inc.id}/assignment`, { method: "POST", body: {}, auth: true });
      notify(r.ok ? t("dp.confirmed") : failure(r, "/api/incidents/{id}/assignment"), r.ok ? "ok" : "error");
      if (r.ok) showIncident(inc.id);
    });
  }
  pointLayer.clearLayers();
  L.circleMarker(ctx.toLatLng([inc.lon, inc.lat]), { radius: 11, color: "#fff", weight: 3, fillColor: STATUS_COLOURS[inc.status], fillOpacity: 1 }).addTo(pointLayer);
  if (inc.grid_code) await workersHtml(inc.grid_code, true);
}

async function transition(inc, to, noteRequired) {
  const note = (ui.created.querySelector("#note") || {}).value || "";
  if (noteRequired && !note.trim()) return notify(t("dp.notereq", { label: t(`to.${to}`) }), "warn");
  const result = await api(`/api/incidents/${inc.id}/transition`, { method: "POST", body: { to, note: note.trim() || null }, auth: true });
  if (!result.ok) return notify(failure(result, "/api/incidents/{id}/transition"), "error");
  notify(t("dp.moved", { id: inc.id, status: stateName(result.data.status) }), "ok");
  await loadQueue();
  await showIncident(inc.id);
}

// ------------------------------------------------------------------ start

document.addEventListener("gs:token", () => loadQueue());
onLanguage(() => {
  fillCategories();
  renderFilter();
  renderQueue();
  renderWhere();
  if (state.current) showIncident(state.current.id);
});
const [config, categories] = await Promise.all([api("/app/config.json"), api("/api/incidents/categories")]);
if (config.ok) state.config = config.data;
if (categories.ok) state.categories = categories.data.categories;
fillCategories();
renderFilter();
applyI18n();
await loadQueue();
document.body.dataset.ready = "true";

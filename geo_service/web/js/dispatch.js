// /app/dispatch: the 12345 dispatcher's desk. Find the place (a caller's address, or a click on the map),
// see which grid and worker it falls to, file the incident, and move incidents through the closed loop.

import {
  addStrings, api, applyI18n, currentRole, distance, esc, failure, formatTime, getToken, initSheet, lang, messageText, notify, onLanguage,
  renderHeader, reveal, t,
} from "./common.js";
import { distanceToGeometryM, metresPerDegree } from "./geometry.js";
import { isPrecise, kindLabel, precisionLabel, sourceLabel } from "./labels.js";
import { createMap } from "./map.js";
import { satisfactionLabel, showPhotos } from "./loop.js";

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
    "dp.needtoken": "建单和查看队列需要调度员令牌：请在页面顶部填写。",
    "dp.creating": "正在建单…",
    "dp.created": "已创建事件 #{id}，分派到 {owner}。",
    "dp.existing": "工单号已存在：这是之前建的事件 #{id}。",
    "dp.nearboundary": "靠近网格边界（{d}）：请确认归属，或改派到相邻网格。",
    "dp.confirm": "确认归属",
    "dp.confirmed": "已确认归属。",
    "dp.reassign": "改派到 {name}（相距 {d}）",
    "dp.reassigned": "事件 #{id} 已改派到 {grid}。",
    "dp.pick": "地址不够明确，请从候选中选一个，或直接点击地图：",
    "dp.picked": "已选定“{name}”。核对位置后点“创建并分派”。",
    "dp.precision": "精度",
    "dp.coarse": "这个候选只定位到{precision}，位置不够准确：请核对或在地图上点选准确位置。",
    "dp.ingrid": "网格 {code}",
    "act.created": "建单",
    "act.transition": "{from} → {to}",
    "act.assignment_confirmed": "确认归属网格 {grid}",
    "act.reassigned": "改派：{from} → {to}",
    "act.overdue": "已超时（已在最高层级）",
    "act.escalated": "超时上报：{from} → {to}",
    "act.escalated.manual": "上报上级：{from} → {to}",
    "act.merged": "并案",
    "act.feedback": "回访",
    "act.media": "添加照片",
    "act.other": "处理记录",
    "act.assigned": "分派到 {owner}",
    "act.source": "来源：{source}",
    "act.nearboundary": "靠近网格边界，待确认归属",
    "act.nobody": "系统",
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
    "lp.photos": "照片",
    "lp.dups": "可能是同一事件（步行 {walk} 以内、{hours} 小时内、仍在办理）：",
    "lp.dup": "#{id} {category} · {status} · 步行 {walk}",
    "lp.straight": "（直线 {d}，隔着河或围墙）",
    "lp.merge": "并入 #{id}",
    "lp.merged": "事件 #{id} 已并入 #{into}：今后跟随它的状态，来电人仍单独回访。",
    "lp.mergedinto": "已并入事件 #{into}（并案）：状态跟随该案件，来电人单独回访。",
    "lp.open": "查看 #{id}",
    "lp.followers": "并入本案的重复上报：{list}",
    "lp.callback": "回访",
    "lp.callback.hint": "已处置，等待回访：来电人满意才能结案，不满意退回重办，三次联系不上按回访失败结案。",
    "lp.reached": "联系上来电人了吗？",
    "lp.reached.yes": "联系上了",
    "lp.reached.no": "未接通",
    "lp.satisfaction": "满意度",
    "lp.callback.note": "回访记录（来电人说了什么）",
    "lp.callback.save": "记录回访",
    "lp.callback.need": "联系上了就要选择满意度。",
    "lp.callback.closed": "已回访：{sat}，事件 #{id} 结案。",
    "lp.callback.reopened": "已回访：不满意，事件 #{id} 退回重办。",
    "lp.callback.failed": "第 {n} 次未接通：按回访失败结案。",
    "lp.callback.retry": "第 {n} 次未接通：稍后再打。",
    "lp.calls": "回访记录",
    "lp.call.unreached": "未接通",
    "act.merged_in": "并案：并入重复上报",
    "act.reopened": "回访不满意，重办",
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
    "dp.needtoken": "Filing and the queue need a dispatcher token: enter it at the top of the page.",
    "dp.creating": "creating…",
    "dp.created": "Created incident #{id}, assigned to {owner}.",
    "dp.existing": "This ticket exists: incident #{id}, filed before.",
    "dp.nearboundary": "Close to a grid boundary ({d}): confirm the assignment or move it to the neighbour.",
    "dp.confirm": "Confirm assignment",
    "dp.confirmed": "Assignment confirmed.",
    "dp.reassign": "Move to {name} ({d} away)",
    "dp.reassigned": "Incident #{id} moved to {grid}.",
    "dp.pick": "The address is not clear enough: pick a candidate, or click the map:",
    "dp.picked": "Picked “{name}”. Check the location, then “Create and assign”.",
    "dp.precision": "precision",
    "dp.coarse": "This candidate only locates a {precision}: check it or click the exact spot on the map.",
    "dp.ingrid": "grid {code}",
    "act.created": "Filed",
    "act.transition": "{from} → {to}",
    "act.assignment_confirmed": "Grid {grid} confirmed",
    "act.reassigned": "Moved: {from} → {to}",
    "act.overdue": "Overdue (already at the top level)",
    "act.escalated": "Overdue, escalated: {from} → {to}",
    "act.escalated.manual": "Escalated: {from} → {to}",
    "act.merged": "Merged",
    "act.feedback": "Callback",
    "act.media": "Photo added",
    "act.other": "Record",
    "act.assigned": "assigned to {owner}",
    "act.source": "source: {source}",
    "act.nearboundary": "near a grid boundary, to be confirmed",
    "act.nobody": "system",
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
    "lp.photos": "Photos",
    "lp.dups": "Possibly the same event (within {walk} on foot, {hours} h, still open):",
    "lp.dup": "#{id} {category} · {status} · {walk} walk",
    "lp.straight": " ({d} straight: across a river or fence)",
    "lp.merge": "Merge into #{id}",
    "lp.merged": "Incident #{id} merged into #{into}: it follows that case; its caller is called back on their own.",
    "lp.mergedinto": "Merged into incident #{into}: follows that case; its caller is called back on their own.",
    "lp.open": "Open #{id}",
    "lp.followers": "Duplicates merged into this case: {list}",
    "lp.callback": "Callback",
    "lp.callback.hint": "Resolved, waiting for the callback: only a satisfied caller closes it; unsatisfied reopens it; three unanswered calls close it as a failed callback.",
    "lp.reached": "Did the caller answer?",
    "lp.reached.yes": "answered",
    "lp.reached.no": "no answer",
    "lp.satisfaction": "Satisfaction",
    "lp.callback.note": "what the caller said",
    "lp.callback.save": "Record the callback",
    "lp.callback.need": "An answered call needs the caller's satisfaction.",
    "lp.callback.closed": "Called back: {sat}; incident #{id} closed.",
    "lp.callback.reopened": "Called back: unsatisfied; incident #{id} reopened.",
    "lp.callback.failed": "Unanswered ({n}): closed as a failed callback.",
    "lp.callback.retry": "Unanswered ({n}): try again later.",
    "lp.calls": "Callbacks",
    "lp.call.unreached": "no answer",
    "act.merged_in": "Duplicate merged in",
    "act.reopened": "Unsatisfied caller: reopened",
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
// the open cases and those waiting for their callback (回访)
const DEFAULT_FILTER = ["reported", "filed", "dispatched", "in_progress", "escalated", "resolved", "verified"];

renderHeader("dispatch", { token: true });
initSheet(document.querySelector("aside.panel"));
const $ = (id) => document.getElementById(id);
const ui = {
  searchForm: $("search-form"), q: $("q"), candidates: $("candidates"), where: $("where"), form: $("incident-form"),
  category: $("category"), description: $("description"), address: $("address"), externalId: $("external-id"),
  created: $("created"), filter: $("status-filter"), queue: $("queue"),
};
const ctx = await createMap("map", { overlays: ["grids"] });
const { map } = ctx;
const state = { config: null, categories: [], location: null, located: null, filter: new Set(DEFAULT_FILTER), queue: [], current: null, neighbours: [] };
const pointLayer = L.layerGroup().addTo(map);
const gridLayer = L.layerGroup().addTo(map);
const queueLayer = L.layerGroup().addTo(map);
const candidateLayer = L.layerGroup().addTo(map);
window.gs = { ctx, map, state };

const stateName = (s) => t(`state.${s}`);
const areaName = (a) => (a ? `${a.name || a.code} (${a.code})` : "");
const levelName = (level) => (t(`level.${level}`) === `level.${level}` ? level : t(`level.${level}`));

// ------------------------------------------------------------------ where: geocoder and map clicks

ui.searchForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const q = ui.q.value.trim();
  if (!q) return;
  const result = await api(`/api/geocode?q=${encodeURIComponent(q)}&limit=6`);
  if (!result.ok) return notify(failure(result), "error");
  if (!result.data.candidates.length) return notify(t("dp.nocandidates"), "warn", "pick-status");
  notify("", "info", "pick-status");
  showCandidates(result.data.candidates);
});

function clearCandidates() {
  ui.candidates.innerHTML = "";
  candidateLayer.clearLayers();
}

/** The candidates of a search, or of an address the service would not file by itself (409, or 422 before):
 * listed with their kind, precision and grid, and numbered on the map; a tap on either picks one. */
function showCandidates(candidates) {
  clearCandidates();
  candidates.forEach((c, i) => {
    const li = document.createElement("li");
    li.className = "candidate";
    const precision = precisionLabel(c.precision);
    const badges = [
      `<span class="badge">${esc(kindLabel(c.kind, c.kind_name))}</span>`,
      precision ? `<span class="badge ${isPrecise(c.precision) ? "precise" : "coarse"}" data-precision="${esc(c.precision)}">${esc(t("dp.precision"))}：${esc(precision)}</span>` : "",
      c.grid_code ? `<span class="meta">${esc(t("dp.ingrid", { code: c.grid_code }))}</span>` : "",
      c.score != null ? `<span class="meta">${Math.round(c.score * 100)}%</span>` : "",
    ];
    li.innerHTML = `<button type="button"><b>${i + 1}. ${esc(c.name)}</b> ${badges.join(" ")}</button>`;
    li.querySelector("button").addEventListener("click", () => pickCandidate(c));
    ui.candidates.append(li);
    const icon = L.divIcon({ className: "", html: `<div class="pin candidate-pin">${i + 1}</div>`, iconSize: [44, 44], iconAnchor: [22, 22] });
    L.marker(ctx.toLatLng([c.lon, c.lat]), { icon, keyboard: false, title: c.name }).on("click", () => pickCandidate(c)).addTo(candidateLayer);
  });
  const markers = candidateLayer.getLayers();
  if (markers.length) map.fitBounds(L.featureGroup(markers).getBounds().pad(0.3), { maxZoom: 17 });
}

function pickCandidate(c) {
  clearCandidates();
  if (!ui.address.value.trim()) ui.address.value = c.name;
  setLocation([c.lon, c.lat]);
  map.setView(ctx.toLatLng([c.lon, c.lat]), Math.max(map.getZoom(), 17));
  if (c.precision && !isPrecise(c.precision)) notify(t("dp.coarse", { precision: precisionLabel(c.precision) }), "warn", "pick-status");
  else notify(t("dp.picked", { name: c.name }), "info", "pick-status");
}

map.on("click", (ev) => {
  clearCandidates();
  notify("", "info", "pick-status");
  setLocation(ctx.toLonLat(ev.latlng));
});

async function setLocation(lonlat) {
  state.location = lonlat;
  pointLayer.clearLayers();
  L.circleMarker(ctx.toLatLng(lonlat), { radius: 10, color: "#fff", weight: 3, fillColor: "#c62828", fillOpacity: 1 }).addTo(pointLayer);
  const result = await api(`/api/locate?lon=${lonlat[0].toFixed(7)}&lat=${lonlat[1].toFixed(7)}`);
  if (!result.ok) return notify(failure(result), "error");
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
  for (const a of r.ancestors) html += `<dt>${levelName(a.level)}</dt><dd>${esc(areaName(a))}</dd>`;
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
    const kind = lang === "zh" ? (c.kind === "event" ? "事件" : "部件") : c.kind === "event" ? "event" : "component";
    const major = lang === "zh" ? c.major_name : c.major_name_en || c.major_name;
    if (!groups.has(key)) groups.set(key, { label: `${kind} · ${major}`, items: [] });
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
  // an address the service cannot place with confidence: 409 with candidates (422 on servers before that);
  // nothing was filed, the dispatcher picks a candidate (or clicks the map) and files with its coordinates
  if ((result.status === 409 || result.status === 422) && result.data && Array.isArray(result.data.candidates)) {
    const said = messageText(result.data);
    notify("");
    if (!result.data.candidates.length) {
      notify(`${said} ${t("dp.nocandidates")}`.trim(), "warn", "pick-status");
    } else {
      notify(said || t("dp.pick"), "warn", "pick-status");
      showCandidates(result.data.candidates);
    }
    reveal($("pick-status"), "start");
    return;
  }
  if (!result.ok) return notify(result.status === 401 || result.status === 403 ? `${t("dp.needtoken")} ${failure(result)}` : failure(result), "error");
  const incident = result.data;
  const owner = incident.grid_code ? areaName(incident.areas.find((a) => a.code === incident.grid_code)) : `${levelName(incident.owner_level)} ${incident.owner_code}`;
  notify("", "info", "pick-status");
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
    queueLayer.clearLayers();
    return;
  }
  const statuses = [...state.filter].join(",");
  const result = await api(`/api/incidents?limit=200${statuses ? `&status=${statuses}` : ""}`, { auth: true });
  if (!result.ok) {
    ui.queue.innerHTML = `<li class="meta">${esc(failure(result))}</li>`;
    return;
  }
  state.queue = result.data.features;
  renderQueue();
}

const categoryName = (p) => (lang === "zh" ? p.category_name : p.category_name_en || p.category_name) || p.category;

function renderQueue() {
  ui.queue.innerHTML = state.queue.length ? "" : `<li class="meta">${t("dp.empty")}</li>`;
  queueLayer.clearLayers();
  for (const f of state.queue) {
    const p = f.properties;
    const li = document.createElement("li");
    li.dataset.incident = p.id;
    li.tabIndex = 0;
    li.setAttribute("role", "button");
    li.className = state.current && state.current.id === p.id ? "selected" : "";
    li.innerHTML = `<span><b>#${p.id}</b> ${esc(categoryName(p))}
      <span class="badge st-${p.status}">${esc(stateName(p.status))}</span>
      ${p.overdue ? `<span class="badge bad">${t("dp.overdue")}</span>` : ""}
      ${p.near_boundary && !p.assignment_confirmed ? `<span class="badge warn"><i class="fa-solid fa-triangle-exclamation"></i></span>` : ""}</span>
      <span class="meta">${esc(p.grid_code || p.owner_code)} · ${esc(formatTime(p.created_at))} · ${esc((p.description || "").slice(0, 40))}</span>`;
    li.addEventListener("click", () => showIncident(p.id, { from: "queue" }));
    li.addEventListener("keydown", (ev) => (ev.key === "Enter" || ev.key === " ") && (ev.preventDefault(), showIncident(p.id, { from: "queue" })));
    ui.queue.append(li);
    L.circleMarker(ctx.toLatLng(f.geometry.coordinates), { radius: 8, color: "#fff", weight: 2, fillColor: STATUS_COLOURS[p.status] || "#333", fillOpacity: 0.95 })
      .bindTooltip(`#${p.id} ${esc(categoryName(p))} · ${esc(stateName(p.status))}`)
      .on("click", (ev) => {
        L.DomEvent.stopPropagation(ev);
        showIncident(p.id, { from: "map" });
      })
      .addTo(queueLayer);
  }
}

/** Grids other than the incident's within reach of it (for a near-boundary reassignment), nearest first. */
async function neighbourGrids(inc) {
  const radius = Math.max(60, 3 * (inc.distance_to_boundary_m || 0));
  const [kx, ky] = metresPerDegree(inc.lat);
  const bbox = [inc.lon - radius / kx, inc.lat - radius / ky, inc.lon + radius / kx, inc.lat + radius / ky];
  const result = await api(`/api/grids?level=grid&bbox=${bbox.map((v) => v.toFixed(7)).join(",")}`);
  if (!result.ok) return [];
  return result.data.features
    .filter((f) => f.properties.code !== inc.grid_code)
    .map((f) => ({ code: f.properties.code, name: f.properties.name || f.properties.code, distance_m: distanceToGeometryM([inc.lon, inc.lat], f.geometry) }))
    .filter((n) => n.distance_m <= radius)
    .sort((a, b) => a.distance_m - b.distance_m)
    .slice(0, 3);
}

/** One history entry in words: what happened (in the page language), who, when and the note. */
function historyLine(h) {
  const d = h.detail || {};
  const owner = (level, code, name) => [levelName(level), name || code].filter(Boolean).join(" ");
  let what;
  const extra = [];
  switch (h.action) {
    case "created":
      what = t("act.created");
      if (d.source) extra.push(t("act.source", { source: sourceLabel(d.source) }));
      if (d.grid_code || d.owner_code) extra.push(t("act.assigned", { owner: d.grid_code || owner(d.owner_level, d.owner_code) }));
      if (d.near_boundary) extra.push(t("act.nearboundary"));
      break;
    case "transition":
      what = t("act.transition", { from: h.from_status ? stateName(h.from_status) : "", to: stateName(h.to_status) });
      break;
    case "assignment_confirmed":
      what = t("act.assignment_confirmed", { grid: d.grid_code || d.owner_code || "" });
      break;
    case "reassigned":
      what = t("act.reassigned", { from: d.from_grid || d.from_owner || "—", to: d.to_grid || "—" });
      break;
    case "overdue":
      what = t("act.overdue");
      break;
    case "feedback":
      what = t("act.feedback");
      extra.push(d.reached ? satisfactionLabel(d.satisfaction) : t("lp.call.unreached"));
      break;
    case "merged":
      what = `${t("act.merged")} → #${d.into}`;
      break;
    case "escalated":
      what = t(d.reason === "manual" ? "act.escalated.manual" : "act.escalated", {
        from: owner(d.from_level, d.from_code), to: owner(d.to_level, d.to_code, d.to_name),
      });
      break;
    default:
      what = t(`act.${h.action}`) === `act.${h.action}` ? t("act.other") : t(`act.${h.action}`);
  }
  // the escalation job's own notes repeat what the line says (in English on older servers): not shown
  const note = h.note && !/^(overdue at the|deadline missed)/.test(h.note) ? h.note : "";
  return `<li data-action="${esc(h.action)}"><div class="when">${esc(formatTime(h.at))} · ${esc(h.actor || t("act.nobody"))}</div>
    <div class="what">${esc(what)}</div>${extra.length ? `<div class="meta">${esc(extra.join("；"))}</div>` : ""}${note ? `<div class="note">${esc(note)}</div>` : ""}</li>`;
}

/**
 * Show incident `id` in the card above the queue: its facts, the near-boundary prompt (confirm, or move to a
 * neighbouring grid), its workers, the next moves and its history. Selecting it (in the queue or on the map)
 * brings the card into view and pans the map to the incident.
 */
async function showIncident(id, { from = null } = {}) {
  const result = await api(`/api/incidents/${id}`, { auth: true });
  if (!result.ok) return notify(failure(result), "error");
  const inc = result.data;
  state.current = inc;
  delete ui.created.dataset.loaded;
  renderQueue();
  const [history, neighbours] = await Promise.all([
    api(`/api/incidents/${id}/history`, { auth: true }),
    inc.near_boundary && !inc.assignment_confirmed ? neighbourGrids(inc) : Promise.resolve([]),
  ]);
  state.neighbours = neighbours;
  const moves = ((state.config && state.config.incident_transitions) || []).filter((m) => m.from === inc.status);
  const role = currentRole();
  const allowed = moves.filter((m) => !role || m.roles.includes(role.role));
  const grid = inc.areas.find((a) => a.code === inc.grid_code);
  const prompt = inc.near_boundary && !inc.assignment_confirmed
    ? `<div class="status warn" data-near-boundary>${t("dp.nearboundary", { d: distance(inc.distance_to_boundary_m) })}
        <div class="reassign"><button type="button" class="btn" id="confirm">${t("dp.confirm")}</button>
        ${neighbours.map((n) => `<button type="button" class="btn" data-reassign="${esc(n.code)}">${esc(t("dp.reassign", { name: n.name, d: distance(n.distance_m) }))}</button>`).join("")}</div></div>`
    : "";
  ui.created.innerHTML = `
    <h2>${t("dp.incident", { id: inc.id })}</h2>
    <dl class="facts">
      <dt>${t("dp.status")}</dt><dd><span class="badge st-${inc.status}" data-status="${inc.status}">${esc(stateName(inc.status))}</span>${inc.overdue ? ` <span class="badge bad">${t("dp.overdue")}</span>` : ""}</dd>
      <dt>${t("dp.category")}</dt><dd>${esc(categoryName(inc))} (${esc(inc.category)})</dd>
      ${inc.description ? `<dt>${t("dp.description")}</dt><dd>${esc(inc.description)}</dd>` : ""}
      ${inc.address ? `<dt>${t("dp.address")}</dt><dd>${esc(inc.address)}</dd>` : ""}
      <dt>${t("dp.grid")}</dt><dd data-assigned="${esc(inc.grid_code || "")}"><b>${esc(grid ? areaName(grid) : "—")}</b></dd>
      <dt>${t("dp.owner")}</dt><dd>${esc(levelName(inc.owner_level))} ${esc(inc.owner_code)}</dd>
      <dt>${t("dp.due")}</dt><dd>${esc(formatTime(inc.due_at))}</dd>
    </dl>
    ${prompt}
    ${loopHtml(inc)}
    ${inc.grid_code ? await workersHtml(inc.grid_code, false) : ""}
    ${allowed.length ? `<div class="row"><input id="note" data-i18n-placeholder="dp.note" placeholder="${esc(t("dp.note"))}"></div>
      <div class="row" id="moves">${allowed.map((m) => `<button type="button" class="btn${m.note_required ? "" : " primary"}" data-to="${m.to}" data-note="${m.note_required}">${esc(t(`to.${m.to}`))}</button>`).join("")}</div>` : `<p class="hint">${t("dp.final")}</p>`}
    ${history.ok ? `<p><b>${t("dp.history")}</b></p><ol class="timeline" id="history">${history.data.history.map(historyLine).join("")}</ol>` : ""}`;
  for (const button of ui.created.querySelectorAll("#moves button")) {
    button.addEventListener("click", () => transition(inc, button.dataset.to, button.dataset.note === "true"));
  }
  const confirm = ui.created.querySelector("#confirm");
  if (confirm) confirm.addEventListener("click", () => assign(inc, null));
  for (const button of ui.created.querySelectorAll("[data-reassign]")) {
    button.addEventListener("click", () => assign(inc, button.dataset.reassign));
  }
  await wireLoop(inc);
  pointLayer.clearLayers();
  const here = ctx.toLatLng([inc.lon, inc.lat]);
  L.circleMarker(here, { radius: 12, color: "#fff", weight: 3, fillColor: STATUS_COLOURS[inc.status], fillOpacity: 1 }).addTo(pointLayer);
  if (inc.grid_code) await workersHtml(inc.grid_code, true);
  ui.created.dataset.loaded = String(inc.id);
  if (from) {
    // the dispatcher picked it: show its card and the place (the queue item too, when picked on the map)
    map.panTo(here);
    reveal(ui.created, "start");
    if (from === "map") reveal(ui.queue.querySelector(`li[data-incident="${inc.id}"]`), "nearest");
  }
}

/** Confirm the incident's grid (`gridCode` null) or move it to the neighbouring grid `gridCode`. */
async function assign(inc, gridCode) {
  const body = gridCode ? { grid_code: gridCode } : {};
  const r = await api(`/api/incidents/${inc.id}/assignment`, { method: "POST", body, auth: true });
  if (!r.ok) return notify(failure(r), "error");
  notify(gridCode ? t("dp.reassigned", { id: inc.id, grid: gridCode }) : t("dp.confirmed"), "ok");
  await loadQueue();
  await showIncident(inc.id);
}

async function transition(inc, to, noteRequired) {
  const note = (ui.created.querySelector("#note") || {}).value || "";
  if (noteRequired && !note.trim()) return notify(t("dp.notereq", { label: t(`to.${to}`) }), "warn");
  const result = await api(`/api/incidents/${inc.id}/transition`, { method: "POST", body: { to, note: note.trim() || null }, auth: true });
  if (!result.ok) return notify(failure(result), "error");
  notify(t("dp.moved", { id: inc.id, status: stateName(result.data.status) }), "ok");
  await loadQueue();
  await showIncident(inc.id);
}

// ------------------------------------------------------------------ the 12345 loop: photos, 并案, 回访

const isDispatcher = () => {
  const role = currentRole();
  return !role || ["dispatcher", "admin"].includes(role.role);
};

/** The card's loop sections (filled by wireLoop): photos, merge suggestions or the case it follows, callback. */
function loopHtml(inc) {
  const followers = inc.duplicates_merged || [];
  return `
    <p><b>${t("lp.photos")}</b></p><div class="photos" id="incident-photos"></div>
    ${inc.merged_into ? `<div class="status info" data-merged-into="${inc.merged_into}">${esc(t("lp.mergedinto", { into: inc.merged_into }))}
        <button type="button" class="btn" data-open="${inc.merged_into}">${esc(t("lp.open", { id: inc.merged_into }))}</button></div>` : ""}
    ${followers.length ? `<p class="meta" data-followers="${followers.join(",")}">${esc(t("lp.followers", { list: followers.map((f) => `#${f}`).join("、") }))}</p>` : ""}
    <div id="duplicates"></div>
    ${inc.awaiting_callback && isDispatcher() ? `<div class="callback" id="callback">
      <h2>${t("lp.callback")}</h2><p class="hint">${t("lp.callback.hint")}</p>
      <fieldset><legend>${t("lp.reached")}</legend><div class="chips">
        <label class="check"><input type="radio" name="reached" value="yes" checked> ${t("lp.reached.yes")}</label>
        <label class="check"><input type="radio" name="reached" value="no"> ${t("lp.reached.no")}</label></div></fieldset>
      <fieldset id="satisfaction"><legend>${t("lp.satisfaction")}</legend><div class="chips">
        ${((state.config && state.config.satisfaction) || ["satisfied", "basically_satisfied", "unsatisfied"]).map((v) => `<label class="check"><input type="radio" name="satisfaction" value="${v}"> ${esc(satisfactionLabel(v))}</label>`).join("")}</div></fieldset>
      <div class="row"><input id="callback-note" placeholder="${esc(t("lp.callback.note"))}"></div>
      <div class="row"><button type="button" class="btn primary" id="callback-save"><i class="fa-solid fa-phone"></i> ${t("lp.callback.save")}</button></div>
    </div>` : ""}
    <div id="calls"></div>`;
}

async function wireLoop(inc) {
  const card = ui.created;
  for (const button of card.querySelectorAll("[data-open]")) button.addEventListener("click", () => showIncident(Number(button.dataset.open), { from: "queue" }));
  const save = card.querySelector("#callback-save");
  if (save) {
    const satisfaction = card.querySelector("#satisfaction");
    const reachedBoxes = card.querySelectorAll("input[name=reached]");
    for (const box of reachedBoxes) box.addEventListener("change", () => (satisfaction.hidden = card.querySelector("input[name=reached]:checked").value === "no"));
    save.addEventListener("click", () => recordCallback(inc));
  }
  const [media, dups, calls] = await Promise.all([
    api(`/api/incidents/${inc.id}/media`, { auth: true }),
    !inc.merged_into && !["closed", "rejected"].includes(inc.status) && isDispatcher() ? api(`/api/incidents/${inc.id}/duplicates`, { auth: true }) : Promise.resolve(null),
    isDispatcher() ? api(`/api/incidents/${inc.id}/callbacks`, { auth: true }) : Promise.resolve(null),
  ]);
  if (media.ok) await showPhotos(card.querySelector("#incident-photos"), inc.id, media.data.media);
  if (dups && dups.ok && dups.data.duplicates.length) {
    const box = card.querySelector("#duplicates");
    box.innerHTML = `<div class="status warn" data-duplicates><p>${esc(t("lp.dups", { walk: distance(dups.data.walk_m), hours: dups.data.window_h }))}</p>
      <ul class="list duplicates">${dups.data.duplicates.map((d) => `<li data-duplicate="${d.id}"><span>${esc(t("lp.dup", { id: d.id, category: categoryName(d), status: stateName(d.status), walk: distance(d.distance_m) }))}${d.straight_m != null && d.distance_m > d.straight_m * 1.5 ? esc(t("lp.straight", { d: distance(d.straight_m) })) : ""}</span>
        <span class="loop-actions"><button type="button" class="btn" data-open="${d.id}">${esc(t("lp.open", { id: d.id }))}</button>
        <button type="button" class="btn primary" data-merge="${d.id}"><i class="fa-solid fa-link"></i> ${esc(t("lp.merge", { id: d.id }))}</button></span></li>`).join("")}</ul></div>`;
    for (const button of box.querySelectorAll("[data-open]")) button.addEventListener("click", () => showIncident(Number(button.dataset.open), { from: "queue" }));
    for (const button of box.querySelectorAll("[data-merge]")) button.addEventListener("click", () => mergeInto(inc, Number(button.dataset.merge)));
  }
  if (calls && calls.ok && calls.data.callbacks.length) {
    card.querySelector("#calls").innerHTML = `<p><b>${t("lp.calls")}</b></p><ul class="list calls">${calls.data.callbacks.map((c) =>
      `<li data-callback="${esc(c.outcome)}"><span>${esc(formatTime(c.at))} · ${esc(c.reached ? satisfactionLabel(c.satisfaction) : t("lp.call.unreached"))}</span>${c.note ? `<span class="meta">${esc(c.note)}</span>` : ""}</li>`).join("")}</ul>`;
  }
}

async function mergeInto(inc, into) {
  const note = ((ui.created.querySelector("#note") || {}).value || "").trim() || null;
  const result = await api(`/api/incidents/${inc.id}/merge`, { method: "POST", body: { into, note }, auth: true });
  if (!result.ok) return notify(failure(result), "error");
  notify(t("lp.merged", { id: inc.id, into }), "ok");
  await loadQueue();
  await showIncident(inc.id);
}

async function recordCallback(inc) {
  const card = ui.created;
  const reached = card.querySelector("input[name=reached]:checked").value === "yes";
  const chosen = card.querySelector("input[name=satisfaction]:checked");
  if (reached && !chosen) return notify(t("lp.callback.need"), "warn");
  const body = { reached, satisfaction: reached ? chosen.value : null, note: card.querySelector("#callback-note").value.trim() || null };
  const result = await api(`/api/incidents/${inc.id}/feedback`, { method: "POST", body, auth: true });
  if (!result.ok) return notify(failure(result), "error");
  const call = result.data.callback;
  const said = {
    closed: () => t("lp.callback.closed", { sat: satisfactionLabel(call.satisfaction), id: inc.id }),
    reopened: () => t("lp.callback.reopened", { id: inc.id }),
    failed: () => t("lp.callback.failed", { n: result.data.callback_attempts }),
    retry: () => t("lp.callback.retry", { n: result.data.callback_attempts }),
  }[call.outcome];
  notify(said ? said() : t("dp.moved", { id: inc.id, status: stateName(result.data.status) }), call.outcome === "reopened" ? "warn" : "ok");
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

// /app/worker: the grid worker's phone (网格员). Report what they find on patrol (category, description, a photo,
// their GPS position with its accuracy) straight to their own grid; reports made without a network wait in an
// outbox on the phone (IndexedDB) and are sent once when it returns, each with a client-generated id so that a
// report sent twice is filed once. The grid's open cases: take one (in_progress), report it handled with a photo.
// Rest stations in their grids: record a regular inspection (常态化巡查).

import {
  addStrings, api, applyI18n, currentRole, distance, esc, failure, formatTime, getToken, initSheet, lang, localName,
  notify, onLanguage, renderHeader, reveal, t,
} from "./common.js";
import { newClientId, postForm, showPhotos, uploadPhoto } from "./loop.js";
import { createMap } from "./map.js";

addStrings({
  zh: {
    "wk.tab.report": "巡查上报",
    "wk.tab.cases": "本网格待办",
    "wk.tab.stations": "驿站巡查",
    "wk.locate": "定位我的位置",
    "wk.tap": "也可以直接点地图上问题所在的位置。",
    "wk.locating": "正在获取你的位置…",
    "wk.geo.failed": "无法获取你的位置：请在地图上点问题所在的位置。",
    "wk.position": "位置",
    "wk.accuracy": "定位精度约 {d}",
    "wk.tapped": "地图点选",
    "wk.ingrid": "在你的网格 {grid} 内",
    "wk.notmine": "这里属于网格 {grid}，不是你负责的网格：不能上报到这里。",
    "wk.nogrid": "这里不在任何网格内：不能上报到这里。",
    "wk.category": "类别",
    "wk.description": "描述",
    "wk.description.placeholder": "看到了什么、在哪里（可选）",
    "wk.photo": "拍照或选照片",
    "wk.photo.chosen": "已选照片：{name}",
    "wk.send": "上报",
    "wk.needtoken": "请先在页面顶部（菜单里）填写网格员令牌。",
    "wk.needworker": "这个页面给网格员用：当前令牌的角色是“{role}”。",
    "wk.needposition": "请先定位，或在地图上点问题所在的位置。",
    "wk.sending": "正在上报…",
    "wk.sent": "已上报：事件 #{id}，网格 {grid}。",
    "wk.sent.photo": "已上报：事件 #{id}，网格 {grid}，照片已上传。",
    "wk.sent.before": "这条上报之前已经收到：事件 #{id}。",
    "wk.queued": "没有网络：上报已保存在手机上，联网后自动补发。",
    "wk.outbox": "还有 {n} 条上报等待联网补发。",
    "wk.outbox.send": "立即补发",
    "wk.flushed": "网络已恢复：补发了 {n} 条上报。",
    "wk.dropped": "一条保存的上报无法提交，已移出待发：{reason}",
    "wk.photo.failed": "事件已上报，但照片没有传上去：{reason}",
    "wk.cases.none": "本网格没有待办事件。",
    "wk.cases.count": "本网格 {n} 个待办事件",
    "wk.take": "接单处置",
    "wk.taken": "已接单：事件 #{id} 处置中。",
    "wk.resolve": "处置完成并上传照片",
    "wk.resolve.photo": "处置后照片",
    "wk.resolve.needphoto": "请先拍一张处置后的照片。",
    "wk.resolved": "已上报处置完成：事件 #{id}，等待回访。",
    "wk.return": "退回（说明原因）",
    "wk.return.note": "退回原因",
    "wk.return.needed": "退回需要写明原因。",
    "wk.returned": "事件 #{id} 已退回调度。",
    "wk.photos": "照片",
    "wk.due": "处置时限",
    "wk.grid": "网格",
    "wk.status": "状态",
    "wk.stations.hint": "你负责网格内的驿站。点一个驿站登记本次巡查。",
    "wk.stations.none": "你的网格内没有驿站。",
    "wk.last": "上次巡查：{when}",
    "wk.never": "还没有巡查记录",
    "wk.overdue": "该巡查了",
    "wk.open_ok": "按公示时间开放",
    "wk.open_bad": "未按公示时间开放",
    "wk.missing": "缺少：{list}",
    "wk.inspect": "巡查：{name}",
    "wk.inspect.open": "按公示时间开放",
    "wk.inspect.amenities": "设施是否齐全（勾选现场有的）",
    "wk.inspect.notes": "巡查记录（可选）",
    "wk.inspect.photo": "现场照片（可选）",
    "wk.inspect.save": "提交巡查记录",
    "wk.inspected": "已登记对“{name}”的巡查。",
    "status.reported": "已上报", "status.filed": "已立案", "status.dispatched": "已派遣", "status.in_progress": "处置中",
    "status.resolved": "已处置", "status.verified": "已核查", "status.closed": "已结案", "status.rejected": "不予立案",
    "status.escalated": "已上报上级",
  },
  en: {
    "wk.tab.report": "Report",
    "wk.tab.cases": "My grid's cases",
    "wk.tab.stations": "Station checks",
    "wk.locate": "Locate me",
    "wk.tap": "Or tap the spot on the map.",
    "wk.locating": "finding your position…",
    "wk.geo.failed": "Could not get your position: tap the spot on the map.",
    "wk.position": "Position",
    "wk.accuracy": "accurate to about {d}",
    "wk.tapped": "tapped on the map",
    "wk.ingrid": "in your grid {grid}",
    "wk.notmine": "This is grid {grid}, not one of yours: you cannot report here.",
    "wk.nogrid": "This is in no grid: you cannot report here.",
    "wk.category": "Category",
    "wk.description": "Description",
    "wk.description.placeholder": "what you saw and where (optional)",
    "wk.photo": "Take or pick a photo",
    "wk.photo.chosen": "photo: {name}",
    "wk.send": "Report",
    "wk.needtoken": "Enter your grid worker token at the top of the page (in the menu) first.",
    "wk.needworker": "This page is for grid workers: the token's role is “{role}”.",
    "wk.needposition": "Locate yourself or tap the spot on the map first.",
    "wk.sending": "sending…",
    "wk.sent": "Reported: incident #{id}, grid {grid}.",
    "wk.sent.photo": "Reported: incident #{id}, grid {grid}, with the photo.",
    "wk.sent.before": "This report arrived before: incident #{id}.",
    "wk.queued": "No network: the report is kept on the phone and sent when the network returns.",
    "wk.outbox": "{n} report(s) waiting for the network.",
    "wk.outbox.send": "Send now",
    "wk.flushed": "Back online: sent {n} report(s).",
    "wk.dropped": "A kept report cannot be filed and was removed: {reason}",
    "wk.photo.failed": "The incident is filed but the photo did not upload: {reason}",
    "wk.cases.none": "No open case in your grids.",
    "wk.cases.count": "{n} open cases in your grids",
    "wk.take": "Take it",
    "wk.taken": "Taken: incident #{id} is in progress.",
    "wk.resolve": "Handled: upload the photo",
    "wk.resolve.photo": "Photo after the work",
    "wk.resolve.needphoto": "Take a photo of the work done first.",
    "wk.resolved": "Reported handled: incident #{id}, waiting for the callback.",
    "wk.return": "Hand back (say why)",
    "wk.return.note": "why",
    "wk.return.needed": "Handing back needs a reason.",
    "wk.returned": "Incident #{id} handed back to dispatch.",
    "wk.photos": "Photos",
    "wk.due": "Due",
    "wk.grid": "Grid",
    "wk.status": "Status",
    "wk.stations.hint": "Rest stations in your grids. Tap one to record this visit.",
    "wk.stations.none": "No rest station in your grids.",
    "wk.last": "last inspected: {when}",
    "wk.never": "never inspected",
    "wk.overdue": "due for a visit",
    "wk.open_ok": "open as published",
    "wk.open_bad": "not open as published",
    "wk.missing": "missing: {list}",
    "wk.inspect": "Inspect: {name}",
    "wk.inspect.open": "open as its published hours say",
    "wk.inspect.amenities": "Amenities (tick those present)",
    "wk.inspect.notes": "notes (optional)",
    "wk.inspect.photo": "Photo (optional)",
    "wk.inspect.save": "Save the inspection",
    "wk.inspected": "Inspection of “{name}” recorded.",
    "status.reported": "reported", "status.filed": "filed", "status.dispatched": "dispatched", "status.in_progress": "in progress",
    "status.resolved": "resolved", "status.verified": "verified", "status.closed": "closed", "status.rejected": "rejected",
    "status.escalated": "escalated",
  },
});

const OPEN_STATES = ["reported", "filed", "dispatched", "in_progress", "escalated"];
const STATUS_COLOURS = { reported: "#1565c0", filed: "#5e35b1", dispatched: "#ef6c00", in_progress: "#f9a825", escalated: "#c62828" };
const INSPECTION_DAYS_FALLBACK = 30;

renderHeader("worker", { token: true });
const sheet = initSheet(document.querySelector("aside.panel"));
const $ = (id) => document.getElementById(id);
const ui = {
  form: $("report-form"), category: $("category"), description: $("description"), photo: $("photo"), photoName: $("photo-name"),
  position: $("position"), sent: $("sent"), outbox: $("outbox"), cases: $("cases"), caseCard: $("case"),
  inspectList: $("inspect-list"), inspection: $("inspection"),
};
const ctx = await createMap("map", { overlays: ["grids", "stations"], zoomOffset: 2, layerControl: false });
const { map } = ctx;
const state = {
  categories: [], whoami: null, grids: [], position: null, tab: "report", cases: [], current: null,
  stations: [], vocabulary: null, inspecting: null, flushing: false,
};
const hereLayer = L.layerGroup().addTo(map);
const gridLayer = L.layerGroup().addTo(map);
const casesLayer = L.layerGroup().addTo(map);
window.gs = { ctx, map, state };

const stateName = (s) => t(`status.${s}`);
const categoryName = (p) => (lang === "zh" ? p.category_name : p.category_name_en || p.category_name) || p.category;

// ------------------------------------------------------------------ tabs

function showTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll(".tabs .tab")) button.setAttribute("aria-selected", String(button.dataset.tab === tab));
  for (const pane of document.querySelectorAll("[data-pane]")) pane.hidden = pane.dataset.pane !== tab;
  if (tab === "cases") loadCases();
  if (tab === "stations") loadStations();
}
for (const button of document.querySelectorAll(".tabs .tab")) button.addEventListener("click", () => showTab(button.dataset.tab));

// ------------------------------------------------------------------ the outbox (IndexedDB: photos are blobs)

const OUTBOX_DB = "geo-service-worker";
let outboxDb = null;

function openOutbox() {
  if (outboxDb) return Promise.resolve(outboxDb);
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(OUTBOX_DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore("outbox", { keyPath: "client_id" });
    request.onsuccess = () => resolve((outboxDb = request.result));
    request.onerror = () => reject(request.error);
  });
}

async function outbox(mode, fn) {
  const db = await openOutbox();
  return new Promise((resolve, reject) => {
    const tx = db.transaction("outbox", mode);
    const request = fn(tx.objectStore("outbox"));
    tx.oncomplete = () => resolve(request ? request.result : undefined);
    tx.onerror = () => reject(tx.error);
  });
}

const queued = () => outbox("readonly", (store) => store.getAll());
const keep = (item) => outbox("readwrite", (store) => store.put(item));
const forget = (clientId) => outbox("readwrite", (store) => store.delete(clientId));

async function renderOutbox() {
  const items = await queued();
  ui.outbox.hidden = !items.length;
  ui.outbox.dataset.count = String(items.length);
  if (!items.length) return;
  ui.outbox.innerHTML = `<span>${esc(t("wk.outbox", { n: items.length }))}</span>
    <button type="button" class="btn" id="flush"><i class="fa-solid fa-rotate"></i> ${esc(t("wk.outbox.send"))}</button>`;
  ui.outbox.querySelector("#flush").addEventListener("click", () => flush());
}

/**
 * Send one report: the incident (the same client id again returns the incident filed before), then its photo
 * (the same photo again is the one stored before). Resolves to {done, incident, photo, result}; `done` false
 * means "keep it and try again later" (no network, the server busy or down, the token not accepted yet).
 */
async function deliver(item) {
  const result = await api("/api/incidents", { method: "POST", body: item.body, auth: true });
  const retry = result.network || result.status === 0 || result.status >= 500 || [401, 403, 408, 429].includes(result.status);
  if (!result.ok) return { done: !retry, result };
  const incident = result.data;
  let photo = null;
  if (item.photo) {
    photo = await uploadPhoto(incident.id, item.photo, "report", item.photo_name || "photo.jpg");
    if (!photo.ok && (photo.network || photo.status >= 500 || photo.status === 429)) return { done: false, result: photo, incident };
  }
  return { done: true, incident, photo, result };
}

/** Send what waits in the outbox, oldest first, once: a flush already under way is not started again. */
async function flush() {
  if (state.flushing || !getToken()) return;
  state.flushing = true;
  let sent = 0;
  try {
    const items = (await queued()).sort((a, b) => a.queued_at.localeCompare(b.queued_at));
    for (const item of items) {
      const outcome = await deliver(item);
      if (!outcome.done) break; // still offline: the rest waits too
      await forget(item.client_id);
      if (outcome.incident) sent += 1;
      else notify(t("wk.dropped", { reason: failure(outcome.result) }), "error");
    }
  } finally {
    state.flushing = false;
    await renderOutbox();
  }
  if (sent) {
    notify(t("wk.flushed", { n: sent }), "ok");
    if (state.tab === "cases") loadCases();
  }
}

window.addEventListener("online", () => flush());

// ------------------------------------------------------------------ where: GPS or a tap

$("locate").addEventListener("click", () => {
  if (!navigator.geolocation) return notify(t("wk.geo.failed"), "warn");
  notify(t("wk.locating"), "info");
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      // the browser's GPS position is WGS-84 (what the API speaks); its accuracy travels with the report
      setPosition([pos.coords.longitude, pos.coords.latitude], pos.coords.accuracy);
      map.setView(ctx.toLatLng(state.position.lonlat), Math.max(map.getZoom(), 17));
    },
    () => notify(t("wk.geo.failed"), "warn"),
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 10000 },
  );
});

map.on("click", (ev) => {
  if (state.tab !== "report") return;
  setPosition(ctx.toLonLat(ev.latlng), null);
});

async function setPosition(lonlat, accuracyM) {
  state.position = { lonlat, accuracy_m: accuracyM, grid: null };
  hereLayer.clearLayers();
  const here = ctx.toLatLng(lonlat);
  if (accuracyM) L.circle(here, { radius: accuracyM, color: "#1565c0", weight: 1, fillOpacity: 0.12, interactive: false }).addTo(hereLayer);
  L.circleMarker(here, { radius: 10, color: "#fff", weight: 3, fillColor: "#c62828", fillOpacity: 1 }).addTo(hereLayer);
  notify("");
  renderPosition();
  // which grid it is in (online only: offline the server decides when the report is sent)
  const result = await api(`/api/locate?lon=${lonlat[0].toFixed(7)}&lat=${lonlat[1].toFixed(7)}`);
  if (result.ok && state.position && state.position.lonlat === lonlat) {
    state.position.grid = result.data.grid ? result.data.grid.code : "";
    state.position.gridName = result.data.grid ? result.data.grid.name || result.data.grid.code : "";
    renderPosition();
  }
}

function renderPosition() {
  const p = state.position;
  if (!p) return;
  const how = p.accuracy_m ? t("wk.accuracy", { d: distance(p.accuracy_m) }) : t("wk.tapped");
  let where = "";
  if (p.grid === "") where = `<div class="gap-positive">${esc(t("wk.nogrid"))}</div>`;
  else if (p.grid && state.grids.length && !state.grids.includes(p.grid)) where = `<div class="gap-positive" data-not-mine>${esc(t("wk.notmine", { grid: p.gridName }))}</div>`;
  else if (p.grid) where = `<div class="gap-ok" data-grid="${esc(p.grid)}">${esc(t("wk.ingrid", { grid: p.gridName }))}</div>`;
  ui.position.innerHTML = `<b>${esc(t("wk.position"))}</b> ${p.lonlat[1].toFixed(5)}, ${p.lonlat[0].toFixed(5)} · ${esc(how)}${where}`;
  ui.position.hidden = false;
}

// ------------------------------------------------------------------ reporting

function fillCategories() {
  const keep = ui.category.value;
  const groups = new Map();
  for (const c of state.categories.filter((c) => c.code.length > 3)) {
    const major = lang === "zh" ? c.major_name : c.major_name_en || c.major_name;
    if (!groups.has(major)) groups.set(major, []);
    groups.get(major).push(c);
  }
  ui.category.innerHTML = [...groups]
    .map(([major, items]) => `<optgroup label="${esc(major)}">${items.map((c) => `<option value="${esc(c.code)}">${esc(lang === "zh" ? c.name : c.name_en || c.name)}</option>`).join("")}</optgroup>`)
    .join("");
  if (keep) ui.category.value = keep;
}

ui.photo.addEventListener("change", () => {
  const file = ui.photo.files[0];
  ui.photoName.textContent = file ? t("wk.photo.chosen", { name: file.name }) : "";
});

ui.form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!getToken()) return notify(t("wk.needtoken"), "error");
  if (!state.position) return notify(t("wk.needposition"), "warn");
  const [lon, lat] = state.position.lonlat.map((v) => Number(v.toFixed(7)));
  const body = { category: ui.category.value, description: ui.description.value.trim() || null, lon, lat, client_id: newClientId() };
  if (state.position.accuracy_m) body.accuracy_m = Math.round(state.position.accuracy_m * 10) / 10;
  const file = ui.photo.files[0] || null;
  const item = { client_id: body.client_id, body, photo: file, photo_name: file ? file.name : null, queued_at: new Date().toISOString() };
  // kept first: if the phone loses the network (or the page closes) half-way, the report is not lost
  await keep(item);
  notify(t("wk.sending"), "info");
  const outcome = await deliver(item);
  if (!outcome.done) {
    await renderOutbox();
    notify(t("wk.queued"), "warn");
    return reveal($("status"), "start");
  }
  await forget(item.client_id);
  await renderOutbox();
  if (!outcome.incident) return notify(failure(outcome.result), "error");
  const inc = outcome.incident;
  const grid = inc.grid_code || inc.owner_code;
  ui.description.value = "";
  ui.photo.value = "";
  ui.photoName.textContent = "";
  if (outcome.photo && !outcome.photo.ok) notify(t("wk.photo.failed", { reason: failure(outcome.photo) }), "warn");
  else if (outcome.result.status === 200) notify(t("wk.sent.before", { id: inc.id }), "info");
  else notify(t(outcome.photo ? "wk.sent.photo" : "wk.sent", { id: inc.id, grid }), "ok");
  ui.sent.innerHTML = `<p class="meta" data-sent="${inc.id}">#${inc.id} · ${esc(categoryName(inc))} · ${esc(stateName(inc.status))}</p>`;
  reveal($("status"), "start");
});

// ------------------------------------------------------------------ the grid's cases

async function loadCases() {
  if (!getToken()) {
    ui.cases.innerHTML = `<li class="meta">${esc(t("wk.needtoken"))}</li>`;
    return;
  }
  const result = await api(`/api/incidents?status=${OPEN_STATES.join(",")}&limit=200`, { auth: true });
  if (!result.ok) {
    ui.cases.innerHTML = `<li class="meta">${esc(failure(result))}</li>`;
    return;
  }
  state.cases = result.data.features;
  renderCases();
}

function renderCases() {
  casesLayer.clearLayers();
  ui.cases.innerHTML = state.cases.length
    ? `<li class="meta count">${esc(t("wk.cases.count", { n: state.cases.length }))}</li>`
    : `<li class="meta">${esc(t("wk.cases.none"))}</li>`;
  for (const f of state.cases) {
    const p = f.properties;
    const li = document.createElement("li");
    li.dataset.incident = p.id;
    li.tabIndex = 0;
    li.setAttribute("role", "button");
    li.className = state.current && state.current.id === p.id ? "selected" : "";
    li.innerHTML = `<span><b>#${p.id}</b> ${esc(categoryName(p))} <span class="badge st-${p.status}">${esc(stateName(p.status))}</span>
      ${p.overdue ? `<span class="badge bad">!</span>` : ""}</span>
      <span class="meta">${esc(p.grid_code || p.owner_code)} · ${esc(formatTime(p.created_at))} · ${esc((p.description || "").slice(0, 30))}</span>`;
    li.addEventListener("click", () => showCase(p.id));
    li.addEventListener("keydown", (ev) => (ev.key === "Enter" || ev.key === " ") && (ev.preventDefault(), showCase(p.id)));
    ui.cases.append(li);
    L.circleMarker(ctx.toLatLng(f.geometry.coordinates), { radius: 9, color: "#fff", weight: 2, fillColor: STATUS_COLOURS[p.status] || "#333", fillOpacity: 0.95 })
      .on("click", (ev) => {
        L.DomEvent.stopPropagation(ev);
        showCase(p.id);
      })
      .addTo(casesLayer);
  }
}

async function showCase(id) {
  const result = await api(`/api/incidents/${id}`, { auth: true });
  if (!result.ok) return notify(failure(result), "error");
  const inc = result.data;
  state.current = inc;
  renderCases();
  const canTake = ["dispatched", "escalated"].includes(inc.status) && inc.owner_level === "grid";
  const canResolve = inc.status === "in_progress";
  ui.caseCard.innerHTML = `
    <h2>#${inc.id} ${esc(categoryName(inc))}</h2>
    <dl class="facts">
      <dt>${esc(t("wk.grid"))}</dt><dd>${esc(inc.grid_code || inc.owner_code)}</dd>
      <dt>${esc(t("wk.status"))}</dt><dd><span class="badge st-${inc.status}" data-status="${inc.status}">${esc(stateName(inc.status))}</span></dd>
      ${inc.description ? `<dt>${esc(t("wk.description"))}</dt><dd>${esc(inc.description)}</dd>` : ""}
      <dt>${esc(t("wk.due"))}</dt><dd>${esc(formatTime(inc.due_at))}</dd>
    </dl>
    <p><b>${esc(t("wk.photos"))}</b></p><div class="photos" id="case-photos"></div>
    ${canTake ? `<div class="row"><button type="button" class="btn primary wide" id="take"><i class="fa-solid fa-hand"></i> ${esc(t("wk.take"))}</button></div>
      <div class="row"><input id="return-note" placeholder="${esc(t("wk.return.note"))}"><button type="button" class="btn" id="hand-back">${esc(t("wk.return"))}</button></div>` : ""}
    ${canResolve ? `<div class="row"><label class="photo-pick btn" for="resolve-photo"><i class="fa-solid fa-camera"></i> ${esc(t("wk.resolve.photo"))}</label>
        <input id="resolve-photo" class="photo-input" type="file" accept="image/*" capture="environment"><span id="resolve-photo-name" class="meta"></span></div>
      <div class="row"><button type="button" class="btn primary wide" id="resolve"><i class="fa-solid fa-check"></i> ${esc(t("wk.resolve"))}</button></div>` : ""}`;
  delete ui.caseCard.dataset.loaded;
  const take = ui.caseCard.querySelector("#take");
  if (take) take.addEventListener("click", () => move(inc, "in_progress", null, "wk.taken"));
  const handBack = ui.caseCard.querySelector("#hand-back");
  if (handBack) {
    handBack.addEventListener("click", () => {
      const note = ui.caseCard.querySelector("#return-note").value.trim();
      if (!note) return notify(t("wk.return.needed"), "warn");
      move(inc, "filed", note, "wk.returned");
    });
  }
  const photoInput = ui.caseCard.querySelector("#resolve-photo");
  if (photoInput) {
    photoInput.addEventListener("change", () => {
      const file = photoInput.files[0];
      ui.caseCard.querySelector("#resolve-photo-name").textContent = file ? t("wk.photo.chosen", { name: file.name }) : "";
    });
    ui.caseCard.querySelector("#resolve").addEventListener("click", async () => {
      const file = photoInput.files[0];
      if (!file) return notify(t("wk.resolve.needphoto"), "warn");
      const uploaded = await uploadPhoto(inc.id, file, "resolution", file.name);
      if (!uploaded.ok) return notify(failure(uploaded), "error");
      await move(inc, "resolved", null, "wk.resolved");
    });
  }
  map.panTo(ctx.toLatLng([inc.lon, inc.lat]));
  reveal(ui.caseCard, "start");
  const media = await api(`/api/incidents/${inc.id}/media`, { auth: true });
  if (media.ok) await showPhotos(ui.caseCard.querySelector("#case-photos"), inc.id, media.data.media);
  ui.caseCard.dataset.loaded = String(inc.id);
}

async function move(inc, to, note, done) {
  const result = await api(`/api/incidents/${inc.id}/transition`, { method: "POST", body: { to, note }, auth: true });
  if (!result.ok) return notify(failure(result), "error");
  notify(t(done, { id: inc.id }), "ok");
  await loadCases();
  await showCase(inc.id);
}

// ------------------------------------------------------------------ stations in my grids: regular inspection

function amenityName(id) {
  const item = state.vocabulary && state.vocabulary.amenities.find((a) => a.id === id);
  return localName(item, id.replace(/_/g, " "));
}

function lastInspectionText(last) {
  if (!last) return `<span class="badge warn">${esc(t("wk.never"))}</span>`;
  const missing = last.missing || [];
  const parts = [t("wk.last", { when: formatTime(last.at) }), t(last.open_as_published ? "wk.open_ok" : "wk.open_bad")];
  if (missing.length) parts.push(t("wk.missing", { list: missing.map(amenityName).join("、") }));
  return esc(parts.join(" · "));
}

async function loadStations() {
  if (!state.grids.length) {
    ui.inspectList.innerHTML = `<li class="meta">${esc(t(getToken() ? "wk.stations.none" : "wk.needtoken"))}</li>`;
    return;
  }
  if (!state.vocabulary) {
    const vocabulary = await api("/api/stations/vocabulary");
    if (vocabulary.ok) state.vocabulary = vocabulary.data;
  }
  const found = new Map();
  for (const code of state.grids) {
    const grid = await api(`/api/grids/${encodeURIComponent(code)}`);
    if (!grid.ok) continue;
    const bounds = ctx.geoJSON(grid.data).getBounds();
    // the map frame may be shifted (AMap): the bbox is asked for in WGS-84
    const [west, south] = ctx.toLonLat(bounds.getSouthWest());
    const [east, north] = ctx.toLonLat(bounds.getNorthEast());
    const result = await api(`/api/stations?bbox=${[west, south, east, north].map((v) => v.toFixed(7)).join(",")}`);
    if (!result.ok) continue;
    for (const f of result.data.features) found.set(f.id, f);
  }
  state.stations = [...found.values()];
  ui.inspectList.innerHTML = state.stations.length ? "" : `<li class="meta">${esc(t("wk.stations.none"))}</li>`;
  for (const f of state.stations) {
    const p = f.properties;
    const li = document.createElement("li");
    li.dataset.stationId = f.id;
    li.tabIndex = 0;
    li.setAttribute("role", "button");
    li.innerHTML = `<span><b>${esc(p.name)}</b></span><span class="meta" data-last>${lastInspectionText(p.last_inspection)}</span>`;
    li.addEventListener("click", () => inspect(f));
    ui.inspectList.append(li);
  }
}

function inspect(feature) {
  const p = feature.properties;
  state.inspecting = feature;
  const amenities = p.amenities || [];
  ui.inspection.innerHTML = `
    <h2>${esc(t("wk.inspect", { name: p.name }))}</h2>
    <form id="inspection-form">
      <label class="check"><input type="checkbox" id="open-ok" checked> ${esc(t("wk.inspect.open"))}</label>
      ${amenities.length ? `<p class="hint">${esc(t("wk.inspect.amenities"))}</p>
        ${amenities.map((a) => `<label class="check"><input type="checkbox" data-amenity="${esc(a)}" checked> ${esc(amenityName(a))}</label>`).join("")}` : ""}
      <div class="row"><textarea id="inspection-notes" rows="2" placeholder="${esc(t("wk.inspect.notes"))}"></textarea></div>
      <div class="row"><label class="photo-pick btn" for="inspection-photo"><i class="fa-solid fa-camera"></i> ${esc(t("wk.inspect.photo"))}</label>
        <input id="inspection-photo" class="photo-input" type="file" accept="image/*" capture="environment"><span id="inspection-photo-name" class="meta"></span></div>
      <div class="row"><button type="submit" class="btn primary wide" id="inspection-save"><i class="fa-solid fa-clipboard-check"></i> ${esc(t("wk.inspect.save"))}</button></div>
    </form>`;
  const photoInput = ui.inspection.querySelector("#inspection-photo");
  photoInput.addEventListener("change", () => {
    const file = photoInput.files[0];
    ui.inspection.querySelector("#inspection-photo-name").textContent = file ? t("wk.photo.chosen", { name: file.name }) : "";
  });
  map.setView(ctx.toLatLng(feature.geometry.coordinates), Math.max(map.getZoom(), 17));
  ui.inspection.querySelector("#inspection-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const found = {};
    for (const box of ui.inspection.querySelectorAll("[data-amenity]")) found[box.dataset.amenity] = box.checked;
    const body = { open_as_published: ui.inspection.querySelector("#open-ok").checked, amenities: found,
      notes: ui.inspection.querySelector("#inspection-notes").value.trim() || null };
    if (state.position) [body.lon, body.lat] = state.position.lonlat.map((v) => Number(v.toFixed(7)));
    const form = new FormData();
    form.append("inspection", JSON.stringify(body));
    const file = ui.inspection.querySelector("#inspection-photo").files[0];
    if (file) form.append("file", file, file.name);
    const result = await postForm(`/api/stations/${feature.id}/inspections`, form);
    if (!result.ok) return notify(failure(result), "error");
    notify(t("wk.inspected", { name: p.name }), "ok");
    ui.inspection.innerHTML = "";
    await loadStations();
  });
  reveal(ui.inspection, "start");
}

// ------------------------------------------------------------------ who: the token's grids

async function onToken(whoami) {
  state.whoami = whoami;
  state.grids = whoami && whoami.role === "worker" ? whoami.grids || [] : [];
  gridLayer.clearLayers();
  if (whoami && whoami.role !== "worker" && whoami.role !== "admin") {
    const role = t(`role.${whoami.role}`);
    notify(t("wk.needworker", { role }), "warn");
  }
  const shapes = [];
  for (const code of state.grids) {
    const grid = await api(`/api/grids/${encodeURIComponent(code)}`);
    if (!grid.ok) continue;
    const layer = ctx.geoJSON(grid.data, { style: { color: "#c62828", weight: 3, fill: true, fillOpacity: 0.06 }, interactive: false }).addTo(gridLayer);
    shapes.push(layer);
  }
  if (shapes.length && !location.hash.includes("map=")) map.fitBounds(L.featureGroup(shapes).getBounds().pad(0.1), { maxZoom: 17 });
  renderPosition();
  if (state.tab === "cases") loadCases();
  if (state.tab === "stations") loadStations();
  await flush();
}

document.addEventListener("gs:token", (ev) => onToken(ev.detail));
onLanguage(() => {
  fillCategories();
  renderPosition();
  renderOutbox();
  if (state.tab === "cases") renderCases();
});
const categories = await api("/api/incidents/categories");
if (categories.ok) state.categories = categories.data.categories;
fillCategories();
applyI18n();
await renderOutbox();
// the token may have been checked before the listener above existed (or be checked just now: not twice)
if (currentRole() && state.whoami !== currentRole()) await onToken(currentRole());
if (sheet) sheet.setState("half");
document.body.dataset.ready = "true";

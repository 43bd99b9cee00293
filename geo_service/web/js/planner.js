// /app/planner: the area hierarchy on the map; draw, reshape, split and merge areas with snapping to the
// neighbours (geoman in the browser, the service snaps again on save), live dry-run validation, the selected
// area's numbers, and versioned saves (If-Match → 412 when someone else saved first).

import {
  addStrings, api, applyI18n, confirmDialog, debounce, esc, failure, formatTime, inPageLanguage, initSheet, lang, notify, onLanguage, renderHeader,
  reveal, t,
} from "./common.js";
import { createMap } from "./map.js";
import "./inspections.js";
import { initNetworkCompare } from "./networks.js";
import { partCount, SplitError, splitGeometry } from "./geometry.js";

addStrings({
  zh: {
    "pl.tools": "工具",
    "pl.zoomin": "请放大地图后再编辑{level}。",
    "pl.level": "编辑层级",
    "pl.draw": "绘制新区域",
    "pl.edit": "修改边界",
    "pl.split": "拆分",
    "pl.merge": "合并",
    "pl.hint.idle": "点击地图上的区域查看户数、人口与网格员配备；选中后可修改、拆分或合并。",
    "pl.hint.draw": "逐点点击绘制边界，点击第一个点闭合；靠近相邻区域的边界时自动吸附。绘制过程中实时校验。",
    "pl.hint.edit": "拖动顶点修改边界；拖动边中点可增加顶点，右键点击顶点可删除。修改时实时校验。",
    "pl.hint.split": "画一条穿过所选区域的线：在区域外开始、在区域外结束，再次点击最后一个点结束。",
    "pl.hint.merge": "点击与所选区域相邻的另一个同级区域，两者将合并为一个。",
    "pl.draft": "待保存的修改",
    "pl.name": "名称",
    "pl.code": "编码",
    "pl.code.auto": "留空则按 GB/T 自动编号",
    "pl.parent": "上级",
    "pl.households": "户数",
    "pl.households.auto": "留空则按住宅估算",
    "pl.save": "保存",
    "pl.cancel": "取消",
    "pl.selected": "所选区域",
    "pl.validating": "正在校验…",
    "pl.valid": "校验通过：没有重叠、超界或无效边界。",
    "pl.problems": "发现 {n} 个问题（保存时服务器会拒绝）：",
    "pl.warnings": "{n} 条提示（不影响保存）。",
    "pl.saving": "正在保存…",
    "pl.saved": "已保存 {code}（第 {version} 版）。",
    "pl.snapped": "服务器将 {n} 个顶点吸附到相邻边界上。",
    "pl.conflict": "保存失败：其他人已在你之后保存了 {code}（当前第 {version} 版）。你的修改没有保存。",
    "pl.reload": "载入对方的版本",
    "pl.reloaded": "已载入 {code} 的最新版本（第 {version} 版）。",
    "pl.rejected": "服务器拒绝保存：见下方问题列表。",
    "pl.needtoken": "保存需要规划人员（planner）令牌：请在右上角填写。",
    "pl.split.line": "已拆分为两块：A 保留原编码，B 获得新编码。",
    "pl.split.crossings": "这条线与边界相交 {n} 次；需要恰好两次（从区域外画到区域外）。",
    "pl.split.hole": "这条线穿过了区域内的空洞，无法拆分。",
    "pl.merge.pick": "请点击相邻的另一个区域。",
    "pl.merge.same": "请选择另一个区域。",
    "pl.merge.apart": "两个区域不相邻（合并后仍是 {n} 块），无法合并。",
    "pl.merge.parent": "只能合并同一上级下的区域。",
    "pl.merge.ready": "合并 {a} 与 {b}：{b} 将被注销，{a} 扩大为合并后的范围。",
    "pl.parent.none": "（无上级）",
    "pl.stats.area": "面积",
    "pl.stats.households": "户数",
    "pl.stats.population": "人口",
    "pl.stats.residences": "住宅楼",
    "pl.stats.need": "应配网格员",
    "pl.stats.workers": "现有网格员",
    "pl.stats.gap": "缺口",
    "pl.stats.children": "下级区域",
    "pl.src.record": "登记",
    "pl.src.residences": "按住宅估算",
    "pl.src.estimated": "按户数估算",
    "pl.norm": "按每万名居民 {norm} 名网格员配置",
    "pl.workers": "网格员",
    "pl.version": "版本",
    "pl.history": "变更记录",
    "pl.history.hide": "收起变更记录",
    "pl.history.v": "第 {version} 版",
    "pl.history.by": "{who}",
    "pl.history.nobody": "系统",
    "pl.change.create": "新建",
    "pl.change.update": "修改",
    "pl.change.restore": "恢复",
    "pl.change.import": "导入",
    "pl.closed.delete": "删除（注销）",
    "pl.closed.merge": "并入相邻区域后注销",
    "pl.diff.name": "名称：{from} → {to}",
    "pl.diff.households": "户数：{from} → {to}",
    "pl.diff.population": "人口：{from} → {to}",
    "pl.diff.parent": "上级：{from} → {to}",
    "pl.diff.workers": "网格员：{from} → {to}",
    "pl.diff.boundary": "边界调整：面积 {from} → {to} 平方米",
    "pl.diff.first": "首版：面积 {area} 平方米",
    "pl.diff.none": "属性与边界未变",
    "pl.none": "无",
    "pl.guide": "导视图",
    "pl.delete": "删除",
    "pl.delete.title": "删除{level}“{name}”？",
    "pl.delete.body": "删除后 {code} 将被注销，不再参与定位与分派；历史记录保留，编码不会再分配给其他区域。",
    "pl.delete.confirm": "确认删除",
    "pl.deleted": "已删除 {code}。",
    "pl.deleting": "正在删除…",
    "pl.new.name": "新建{level}",
    "prob.self_intersection": "边界自相交",
    "prob.invalid_ring": "无效的边界环",
    "prob.invalid_coordinates": "坐标无效",
    "prob.invalid_geometry": "几何无效",
    "prob.invalid_feature": "要素无效",
    "prob.invalid_property": "属性无效",
    "prob.overlap": "与相邻区域重叠",
    "prob.outside_parent": "超出上级区域",
    "prob.sliver": "细碎多边形",
    "prob.unknown_parent": "上级不存在",
    "prob.bad_level": "层级不符",
    "prob.duplicate_code": "编码重复",
    "prob.missing_code": "缺少编码",
    "prob.cannot_number": "无法自动编号",
    "prob.code_reused": "编码不可复用",
    "prob.child_outside": "下级区域将超出边界",
    "prob.gap": "未被覆盖的空隙",
    "prob.area": "面积约 {a} 平方米",
    "prob.codes": "涉及 {codes}",
  },
  en: {
    "pl.tools": "Tools",
    "pl.zoomin": "Zoom in to edit the {level} level.",
    "pl.level": "Level",
    "pl.draw": "Draw new area",
    "pl.edit": "Reshape",
    "pl.split": "Split",
    "pl.merge": "Merge",
    "pl.hint.idle": "Click an area on the map for its households, population and staffing; once selected you can reshape, split or merge it.",
    "pl.hint.draw": "Click point by point; click the first point to close. Vertices snap to neighbouring edges. Checked live while you draw.",
    "pl.hint.edit": "Drag vertices to reshape; drag an edge's middle marker to add a vertex, right-click a vertex to remove it. Checked live.",
    "pl.hint.split": "Draw a line across the selected area: start and end outside it, click the last point again to finish.",
    "pl.hint.merge": "Click another area of the same level next to the selected one to merge the two.",
    "pl.draft": "Change to save",
    "pl.name": "Name",
    "pl.code": "Code",
    "pl.code.auto": "leave empty for the next GB/T number",
    "pl.parent": "Parent",
    "pl.households": "Households",
    "pl.households.auto": "empty: estimated from homes",
    "pl.save": "Save",
    "pl.cancel": "Cancel",
    "pl.selected": "Selected area",
    "pl.validating": "checking…",
    "pl.valid": "Checks passed: no overlap, nothing outside the parent, valid boundary.",
    "pl.problems": "{n} problem(s) (the service would refuse to save):",
    "pl.warnings": "{n} note(s) (saving still works).",
    "pl.saving": "saving…",
    "pl.saved": "Saved {code} (version {version}).",
    "pl.snapped": "The service snapped {n} vertices onto neighbouring edges.",
    "pl.conflict": "Not saved: someone else saved {code} after you opened it (now version {version}). Your change was not saved.",
    "pl.reload": "Load their version",
    "pl.reloaded": "Loaded the latest version of {code} (version {version}).",
    "pl.rejected": "The service refused to save: see the problems below.",
    "pl.needtoken": "Saving needs a planner token: enter it at the top right.",
    "pl.split.line": "Split in two: A keeps the code, B gets a new one.",
    "pl.split.crossings": "The line crosses the boundary {n} time(s); it must cross exactly twice (draw from outside to outside).",
    "pl.split.hole": "The line runs through a hole of the area: cannot split there.",
    "pl.merge.pick": "Click the neighbouring area to merge with.",
    "pl.merge.same": "Pick a different area.",
    "pl.merge.apart": "The two areas do not touch (the union has {n} parts): cannot merge.",
    "pl.merge.parent": "Only areas under the same parent can be merged.",
    "pl.merge.ready": "Merge {a} and {b}: {b} is closed and {a} grows to the union.",
    "pl.parent.none": "(no parent)",
    "pl.stats.area": "Area",
    "pl.stats.households": "Households",
    "pl.stats.population": "Population",
    "pl.stats.residences": "Residential buildings",
    "pl.stats.need": "Workers needed",
    "pl.stats.workers": "Workers on record",
    "pl.stats.gap": "Gap",
    "pl.stats.children": "Sub-areas",
    "pl.src.record": "on record",
    "pl.src.residences": "from homes",
    "pl.src.estimated": "from households",
    "pl.norm": "norm: {norm} workers per 10,000 residents",
    "pl.workers": "Grid workers",
    "pl.version": "Version",
    "pl.history": "Change history",
    "pl.history.hide": "Hide the history",
    "pl.history.v": "version {version}",
    "pl.history.by": "{who}",
    "pl.history.nobody": "system",
    "pl.change.create": "created",
    "pl.change.update": "changed",
    "pl.change.restore": "restored",
    "pl.change.import": "imported",
    "pl.closed.delete": "deleted (closed)",
    "pl.closed.merge": "merged into a neighbour and closed",
    "pl.diff.name": "name: {from} → {to}",
    "pl.diff.households": "households: {from} → {to}",
    "pl.diff.population": "population: {from} → {to}",
    "pl.diff.parent": "parent: {from} → {to}",
    "pl.diff.workers": "grid workers: {from} → {to}",
    "pl.diff.boundary": "boundary changed: area {from} → {to} m²",
    "pl.diff.first": "first version: area {area} m²",
    "pl.diff.none": "properties and boundary unchanged",
    "pl.none": "none",
    "pl.guide": "Guide map",
    "pl.delete": "Delete",
    "pl.delete.title": "Delete the {level} “{name}”?",
    "pl.delete.body": "{code} will be closed and no longer used to locate or assign incidents; its history stays and the code is never given to other land.",
    "pl.delete.confirm": "Delete",
    "pl.deleted": "Deleted {code}.",
    "pl.deleting": "deleting…",
    "pl.new.name": "New {level}",
    "prob.self_intersection": "boundary crosses itself",
    "prob.invalid_ring": "invalid ring",
    "prob.invalid_coordinates": "invalid coordinates",
    "prob.invalid_geometry": "invalid geometry",
    "prob.invalid_feature": "invalid feature",
    "prob.invalid_property": "invalid property",
    "prob.overlap": "overlaps a neighbour",
    "prob.outside_parent": "outside the parent",
    "prob.sliver": "sliver",
    "prob.unknown_parent": "unknown parent",
    "prob.bad_level": "wrong level",
    "prob.duplicate_code": "duplicate code",
    "prob.missing_code": "missing code",
    "prob.cannot_number": "cannot number",
    "prob.code_reused": "code cannot be reused",
    "prob.child_outside": "a sub-area would fall outside",
    "prob.gap": "uncovered gap",
    "prob.area": "about {a} m²",
    "prob.codes": "concerns {codes}",
  },
});

const LEVELS = ["district", "street", "community", "grid"];
const LEVEL_MIN_ZOOM = { district: 0, street: 10, community: 12, grid: 13 }; // Leaflet zooms (tiles: 0/9/11/12)
const WARNINGS = new Set(["gap"]);
const SNAP = { snappable: true, snapDistance: 18 };
const STYLE = {
  area: { color: "#1d3d6e", weight: 1.5, fillColor: "#4f7cc2", fillOpacity: 0.08 },
  hover: { weight: 3, fillOpacity: 0.18 },
  selected: { color: "#c62828", weight: 3, fillColor: "#e57373", fillOpacity: 0.2 },
  parent: { color: "#5b2c83", weight: 2.5, dashArray: "6 4", fill: false },
  draft: { color: "#0a7d4f", weight: 3, fillColor: "#26a69a", fillOpacity: 0.25 },
  pieceB: { color: "#8a4b00", weight: 3, fillColor: "#ffb74d", fillOpacity: 0.3 },
  problem: { color: "#b3261e", weight: 2, fillColor: "#e53935", fillOpacity: 0.45 },
  warning: { color: "#a15c00", weight: 2, dashArray: "4 3", fillColor: "#ffb300", fillOpacity: 0.35 },
};

renderHeader("planner", { token: true });
initSheet(document.querySelector("aside.panel"));

const ui = {
  level: document.getElementById("level"),
  draw: document.getElementById("tool-draw"),
  edit: document.getElementById("tool-edit"),
  split: document.getElementById("tool-split"),
  merge: document.getElementById("tool-merge"),
  hint: document.getElementById("tool-hint"),
  draft: document.getElementById("draft"),
  name: document.getElementById("f-name"),
  code: document.getElementById("f-code"),
  rowCode: document.getElementById("row-code"),
  parent: document.getElementById("f-parent"),
  rowParent: document.getElementById("row-parent"),
  households: document.getElementById("f-households"),
  validation: document.getElementById("validation"),
  problems: document.getElementById("problems"),
  save: document.getElementById("save"),
  cancel: document.getElementById("cancel"),
  selected: document.getElementById("selected"),
  selectedBody: document.getElementById("selected-body"),
};

const ctx = await createMap("map", { overlays: ["grids", "stations"] });
const { map } = ctx;
map.pm.setLang(lang === "zh" ? "zh" : "en");
map.pm.setGlobalOptions({ ...SNAP, allowSelfIntersection: true, templineStyle: STYLE.draft, hintlineStyle: { color: "#0a7d4f", dashArray: "5 5" } });

const state = {
  level: "grid",
  areas: new Map(), // code → {feature, layer}
  parents: new Map(), // code → feature (one level up)
  selected: null, // {feature, etag}
  mode: "idle", // idle | draw | edit | split | merge
  draft: null, // {kind, layers, features(), parentCode, ignoreCodes, ...}
  validationSeq: 0,
};
const areasLayer = L.featureGroup().addTo(map);
const parentsLayer = L.featureGroup().addTo(map);
const draftLayer = L.featureGroup().addTo(map);
const problemsLayer = L.featureGroup().addTo(map);
window.gs = { ctx, map, state };

const parentLevel = (level) => LEVELS[LEVELS.indexOf(level) - 1] || null;
const geometryOf = (layer) => ctx.frame.fromMapGeoJSON(layer.toGeoJSON(false)).geometry;
const versionOf = (etag) => Number(String(etag || "").replace(/\D/g, "")) || null;

// ------------------------------------------------------------------ loading

function viewBbox() {
  const b = map.getBounds().pad(0.6);
  const [w, s] = ctx.toLonLat(b.getSouthWest());
  const [e, n] = ctx.toLonLat(b.getNorthEast());
  const clamp = (v, lim) => Math.max(-lim, Math.min(lim, v));
  return [clamp(w, 180), clamp(s, 85), clamp(e, 180), clamp(n, 85)].map((v) => v.toFixed(6)).join(",");
}

async function loadAreas() {
  // as the grids layer does: finer levels only once zoomed in far enough to tell them apart
  if (map.getZoom() < LEVEL_MIN_ZOOM[state.level]) {
    areasLayer.clearLayers();
    parentsLayer.clearLayers();
    state.areas.clear();
    state.zoomHint = true;
    return notify(t("pl.zoomin", { level: t(`level.${state.level}`) }), "info");
  }
  if (state.zoomHint) notify("");
  state.zoomHint = false;
  const bbox = viewBbox();
  const upper = parentLevel(state.level);
  const [own, up] = await Promise.all([
    api(`/api/grids?level=${state.level}&bbox=${bbox}`),
    upper ? api(`/api/grids?level=${upper}&bbox=${bbox}`) : Promise.resolve({ ok: true, data: { features: [] } }),
  ]);
  if (!own.ok) return notify(failure(own, "/api/grids"), "error");
  areasLayer.clearLayers();
  state.areas.clear();
  for (const feature of own.data.features) addArea(feature);
  parentsLayer.clearLayers();
  state.parents.clear();
  for (const feature of up.ok ? up.data.features : []) {
    state.parents.set(feature.properties.code, feature);
    ctx.geoJSON(feature, { style: STYLE.parent, interactive: false }).addTo(parentsLayer);
  }
  parentsLayer.bringToBack();
  if (state.selected) {
    const entry = state.areas.get(state.selected.feature.properties.code);
    if (entry && state.mode === "idle") entry.layer.setStyle(STYLE.selected);
  }
  hideDraftOriginals();
}

function addArea(feature) {
  const code = feature.properties.code;
  const group = ctx.geoJSON(feature, { style: STYLE.area });
  const layer = group.getLayers()[0];
  layer.feature = feature;
  layer.bindTooltip(() => esc(feature.properties.name || code), { sticky: true });
  layer.on("mouseover", () => isSelected(code) || layer.setStyle(STYLE.hover));
  layer.on("mouseout", () => isSelected(code) || layer.setStyle(STYLE.area));
  layer.on("click", (ev) => {
    if (state.mode === "draw" || state.mode === "split") return; // the click belongs to the drawing
    L.DomEvent.stopPropagation(ev);
    onAreaClick(code);
  });
  layer.addTo(areasLayer);
  state.areas.set(code, { feature, layer });
}

const isSelected = (code) => state.selected && state.selected.feature.properties.code === code;
const reload = debounce(() => state.mode === "idle" && !state.draft && loadAreas(), 300);
map.on("moveend", reload);

// ------------------------------------------------------------------ selection and numbers

async function select(code) {
  const result = await api(`/api/grids/${encodeURIComponent(code)}`);
  if (!result.ok) return notify(failure(result, "/api/grids/{code}"), "error");
  for (const { layer } of state.areas.values()) layer.setStyle(STYLE.area);
  state.selected = { feature: result.data, etag: result.etag };
  const entry = state.areas.get(code);
  if (entry) entry.layer.setStyle(STYLE.selected).bringToFront();
  updateTools();
  await renderSelected();
}

function clearSelection() {
  state.selected = null;
  for (const { layer } of state.areas.values()) layer.setStyle(STYLE.area);
  ui.selected.hidden = true;
  updateTools();
}

async function renderSelected() {
  if (!state.selected) return;
  const props = state.selected.feature.properties;
  const result = await api(`/api/areas/${encodeURIComponent(props.code)}/stats`);
  const s = result.ok ? result.data : null;
  const src = (key) => (s && s[key] ? ` <span class="meta">(${t(`pl.src.${s[key]}`)})</span>` : "");
  const number = (v) => (v == null ? "—" : Number(v).toLocaleString(lang === "zh" ? "zh-CN" : "en"));
  const workers = (props.workers || []).map((w) => `${esc(w.name)} ${w.phone ? `<a href="tel:${esc(w.phone)}">${esc(w.phone)}</a>` : ""}`);
  ui.selectedBody.innerHTML = `
    <div class="big-number">${esc(props.name || props.code)}</div>
    <dl class="facts">
      <dt>${t("pl.code")}</dt><dd>${esc(props.code)} · ${t(`level.${props.level}`)}</dd>
      <dt>${t("pl.version")}</dt><dd>${esc(props.version)}</dd>
      <dt>${t("pl.parent")}</dt><dd>${esc(props.parent_code || t("pl.parent.none"))}</dd>
      ${s ? `
      <dt>${t("pl.stats.area")}</dt><dd>${s.area_km2.toFixed(3)} ${t("unit.km2")}</dd>
      <dt>${t("pl.stats.households")}</dt><dd data-stat="households">${number(s.households)}${src("households_source")}</dd>
      <dt>${t("pl.stats.population")}</dt><dd data-stat="population">${number(s.population)}${src("population_source")}</dd>
      <dt>${t("pl.stats.residences")}</dt><dd>${number(s.residences)}</dd>
      ${s.children ? `<dt>${t("pl.stats.children")}</dt><dd>${number(s.children)}</dd>` : ""}
      <dt>${t("pl.stats.need")}</dt><dd data-stat="staffing_need">${number(s.staffing_need)}</dd>
      <dt>${t("pl.stats.workers")}</dt><dd>${number(s.workers)}</dd>
      <dt>${t("pl.stats.gap")}</dt><dd data-stat="staffing_gap" class="${s.staffing_gap > 0 ? "gap-positive" : "gap-ok"}">${number(s.staffing_gap)}</dd>` : ""}
    </dl>
    ${s ? `<p class="hint">${t("pl.norm", { norm: s.staffing_norm_per_10k })}</p>` : `<p class="status error">${esc(failure(result, "/api/areas/{code}/stats"))}</p>`}
    ${workers.length ? `<h2>${t("pl.workers")}</h2><ul class="list">${workers.map((w) => `<li>${w}</li>`).join("")}</ul>` : ""}
    <div class="downloads"><span class="meta">${t("pl.guide")}</span>
      <a class="btn" data-guide="png" href="${esc(guideUrl(props.code, "png"))}" download="${esc(`guide-map-${props.code}.png`)}"><i class="fa-solid fa-image"></i> PNG</a>
      <a class="btn" data-guide="pdf" href="${esc(guideUrl(props.code, "pdf"))}" download="${esc(`guide-map-${props.code}.pdf`)}"><i class="fa-solid fa-file-pdf"></i> PDF</a>
    </div>
    <div class="row">
      <button type="button" class="btn" id="show-history" aria-expanded="false"><i class="fa-solid fa-clock-rotate-left"></i> <span>${t("pl.history")}</span></button>
      <button type="button" class="btn danger" id="delete-area"><i class="fa-solid fa-trash-can"></i> ${t("pl.delete")}</button>
    </div>
    <div id="history"></div>`;
  ui.selectedBody.querySelector("#show-history").addEventListener("click", toggleHistory);
  ui.selectedBody.querySelector("#delete-area").addEventListener("click", deleteSelected);
  ui.selected.hidden = false;
}

const guideUrl = (code, format) => `/api/areas/${encodeURIComponent(code)}/guide-map.${format}?lang=${lang === "en" ? "en" : "zh"}`;

// ------------------------------------------------------------------ history: a readable timeline of the versions

async function toggleHistory() {
  const box = document.getElementById("history");
  const button = document.getElementById("show-history");
  if (box.childElementCount) {
    box.innerHTML = "";
    button.setAttribute("aria-expanded", "false");
    button.querySelector("span").textContent = t("pl.history");
    return;
  }
  const code = state.selected.feature.properties.code;
  const result = await api(`/api/grids/${encodeURIComponent(code)}/history`);
  if (!result.ok) return notify(failure(result), "error");
  box.innerHTML = historyHtml(result.data.features);
  button.setAttribute("aria-expanded", "true");
  button.querySelector("span").textContent = t("pl.history.hide");
  reveal(box, "nearest");
}

const numberText = (v) => (v == null ? t("pl.none") : Number(v).toLocaleString(lang === "zh" ? "zh-CN" : "en"));
const workersText = (ws) => ((ws || []).map((w) => w.name).join("、") || t("pl.none"));
const areaM2 = (feature) => (feature.geometry ? Math.round(turf.area(feature)) : null);

/** What changed from one version to the next, in words (name, numbers, parent, workers, boundary). */
function versionChanges(before, after) {
  const a = after.properties;
  if (!before) return [t("pl.diff.first", { area: numberText(areaM2(after)) })];
  const b = before.properties;
  const out = [];
  if ((b.name || "") !== (a.name || "")) out.push(t("pl.diff.name", { from: b.name || t("pl.none"), to: a.name || t("pl.none") }));
  for (const key of ["households", "population"]) {
    if ((b[key] ?? null) !== (a[key] ?? null)) out.push(t(`pl.diff.${key}`, { from: numberText(b[key]), to: numberText(a[key]) }));
  }
  if ((b.parent_code || "") !== (a.parent_code || "")) out.push(t("pl.diff.parent", { from: b.parent_code || t("pl.none"), to: a.parent_code || t("pl.none") }));
  if (workersText(b.workers) !== workersText(a.workers)) out.push(t("pl.diff.workers", { from: workersText(b.workers), to: workersText(a.workers) }));
  if (JSON.stringify(before.geometry) !== JSON.stringify(after.geometry)) {
    out.push(t("pl.diff.boundary", { from: numberText(areaM2(before)), to: numberText(areaM2(after)) }));
  }
  return out.length ? out : [t("pl.diff.none")];
}

/** Newest first: each version (when, who, what kind of change, what changed) and the closing, if any. */
function historyHtml(versions) {
  const items = [];
  versions.forEach((feature, i) => {
    const p = feature.properties;
    const change = p.change === "create" && p.source === "import" ? "import" : p.change;
    const label = t(`pl.change.${change}`) === `pl.change.${change}` ? change : t(`pl.change.${change}`);
    items.push(`<li data-version="${esc(p.version)}"><div class="when">${esc(formatTime(p.valid_from))} · ${esc(p.changed_by || t("pl.history.nobody"))}</div>
      <div class="what">${esc(t("pl.history.v", { version: p.version }))} · ${esc(label)}</div>
      <ul>${versionChanges(versions[i - 1], feature).map((line) => `<li>${esc(line)}</li>`).join("")}</ul></li>`);
    if (p.valid_to && (p.closed_change === "delete" || p.closed_change === "merge")) {
      items.push(`<li class="closed" data-closed="${esc(p.closed_change)}"><div class="when">${esc(formatTime(p.valid_to))} · ${esc(p.closed_by || t("pl.history.nobody"))}</div>
        <div class="what">${esc(t(`pl.closed.${p.closed_change}`))}</div></li>`);
    }
  });
  return `<ol class="timeline">${items.reverse().join("")}</ol>`;
}

// ------------------------------------------------------------------ delete (with a confirmation)

async function deleteSelected() {
  const { feature, etag } = state.selected;
  const props = feature.properties;
  const yes = await confirmDialog({
    title: t("pl.delete.title", { level: t(`level.${props.level}`), name: props.name || props.code }),
    body: t("pl.delete.body", { code: props.code }),
    confirm: t("pl.delete.confirm"),
    danger: true,
  });
  if (!yes) return;
  notify(t("pl.deleting"), "info");
  // If-Match: the version this page read; a newer save by someone else answers 412 and nothing is deleted
  const result = await api(`/api/grids/${encodeURIComponent(props.code)}`, { method: "DELETE", auth: true, headers: { "If-Match": etag } });
  if (!checkWrite(result, props.code, "/api/grids/{code}")) return;
  clearSelection();
  notify(t("pl.deleted", { code: props.code }), "ok");
  await Promise.all([loadAreas(), ctx.refreshSource("grids")]);
}

function onAreaClick(code) {
  if (state.mode === "merge") return pickMergePartner(code);
  if (state.mode !== "idle") return;
  select(code);
}

map.on("click", () => {
  if (state.mode === "idle" && !state.draft) clearSelection();
});

// ------------------------------------------------------------------ tools

function updateTools() {
  const busy = state.mode !== "idle" || state.draft;
  const canChange = Boolean(state.selected) && !busy;
  ui.draw.disabled = Boolean(busy);
  ui.edit.disabled = !canChange;
  ui.split.disabled = !canChange;
  ui.merge.disabled = !canChange;
  ui.level.disabled = Boolean(busy);
  for (const [mode, button] of [["draw", ui.draw], ["edit", ui.edit], ["split", ui.split], ["merge", ui.merge]]) {
    button.classList.toggle("active", state.mode === mode || (state.draft && state.draft.kind === mode));
  }
  const hintMode = state.mode !== "idle" ? state.mode : state.draft ? state.draft.kind : "idle";
  ui.hint.dataset.i18n = `pl.hint.${hintMode}`;
  ui.hint.textContent = t(ui.hint.dataset.i18n);
}

ui.level.addEventListener("change", () => {
  state.level = ui.level.value;
  clearSelection();
  loadAreas();
});

ui.draw.addEventListener("click", () => {
  clearSelection();
  state.mode = "draw";
  notify("");
  map.pm.enableDraw("Polygon", { ...SNAP, pathOptions: STYLE.draft });
  updateTools();
});

// live validation while the polygon is being drawn
map.on("pm:drawstart", ({ shape, workingLayer }) => {
  if (shape !== "Polygon") return;
  workingLayer.on("pm:vertexadded", () => {
    const ring = workingLayer.getLatLngs().map((ll) => ctx.toLonLat(ll));
    if (ring.length < 3) return;
    const geometry = { type: "Polygon", coordinates: [[...ring, ring[0]]] };
    validateSoon([newAreaFeature(geometry)], { parentCode: null, autoParent: true });
  });
});

map.on("pm:create", ({ shape, layer }) => {
  if (state.mode === "draw" && shape === "Polygon") return startNewDraft(layer);
  if (state.mode === "split" && shape === "Line") return finishSplitLine(layer);
  map.removeLayer(layer);
});

function newAreaFeature(geometry, parentCode = null) {
  return { type: "Feature", properties: { level: state.level, parent_code: parentCode }, geometry };
}

async function startNewDraft(layer) {
  state.mode = "idle";
  map.pm.disableDraw();
  layer.removeFrom(map).addTo(draftLayer).setStyle(STYLE.draft);
  const geometry = geometryOf(layer);
  const parentCode = await findParent(geometry);
  state.draft = {
    kind: "draw",
    layers: [layer],
    parentCode,
    features: () => {
      const props = draftProperties();
      const feature = newAreaFeature(geometryOf(layer), ui.parent.value || null);
      feature.properties = { ...feature.properties, ...props };
      return [feature];
    },
  };
  showDraftForm({ name: t("pl.new.name", { level: t(`level.${state.level}`) }), code: "", households: "", parentCode, showCode: true });
  editable(layer);
  revalidate();
  updateTools();
}

/** The parent area (one level up) holding a point inside `geometry`, from the locate service. */
async function findParent(geometry) {
  const upper = parentLevel(state.level);
  if (!upper) return null;
  const inside = turf.pointOnFeature(geometry).geometry.coordinates;
  const result = await api(`/api/locate?lon=${inside[0]}&lat=${inside[1]}`);
  if (!result.ok) return null;
  const found = result.data.ancestors.find((a) => a.level === upper);
  return found ? found.code : null;
}

function editable(layer) {
  layer.pm.enable({ ...SNAP, allowSelfIntersection: true });
  for (const name of ["pm:edit", "pm:vertexremoved", "pm:markerdragend", "pm:vertexadded"]) {
    layer.on(name, () => revalidate());
  }
}

ui.edit.addEventListener("click", () => {
  const { feature } = state.selected;
  const props = feature.properties;
  const layer = ctx.geoJSON(feature, { style: STYLE.draft }).getLayers()[0];
  layer.addTo(draftLayer);
  state.draft = {
    kind: "edit",
    layers: [layer],
    originals: [props.code],
    parentCode: props.parent_code,
    features: () => [{ type: "Feature", properties: { ...coreProperties(props), ...draftProperties() }, geometry: geometryOf(layer) }],
  };
  hideDraftOriginals();
  showDraftForm({ name: props.name, code: props.code, households: props.households ?? "", parentCode: props.parent_code, showCode: false });
  editable(layer);
  revalidate();
  updateTools();
});

ui.split.addEventListener("click", () => {
  state.mode = "split";
  notify("");
  map.pm.enableDraw("Line", { ...SNAP, pathOptions: { color: "#c62828", weight: 3 } });
  updateTools();
});

function finishSplitLine(lineLayer) {
  state.mode = "idle";
  map.pm.disableDraw();
  const line = geometryOf(lineLayer).coordinates;
  map.removeLayer(lineLayer);
  const { feature } = state.selected;
  const props = feature.properties;
  let pieces;
  try {
    pieces = splitGeometry(feature.geometry, line);
  } catch (exc) {
    if (!(exc instanceof SplitError)) throw exc;
    notify(exc.reason === "hole" ? t("pl.split.hole") : t("pl.split.crossings", { n: exc.count }), "warn");
    updateTools();
    return;
  }
  const layers = pieces.map((geometry, i) => ctx.geoJSON({ type: "Feature", properties: {}, geometry }, { style: i ? STYLE.pieceB : STYLE.draft }).getLayers()[0]);
  layers.forEach((layer, i) => {
    layer.addTo(draftLayer).bindTooltip(i ? "B" : `A · ${props.code}`, { permanent: true, direction: "center" });
  });
  state.draft = {
    kind: "split",
    layers,
    originals: [props.code],
    parentCode: props.parent_code,
    features: () => {
      const own = draftProperties();
      return [
        // households on record described the whole area: both pieces go back to estimates from homes
        { type: "Feature", properties: { ...coreProperties(props), name: own.name, households: null, version: props.version }, geometry: geometryOf(layers[0]) },
        { type: "Feature", properties: { name: `${own.name} B`, level: props.level, parent_code: props.parent_code }, geometry: geometryOf(layers[1]) },
      ];
    },
  };
  hideDraftOriginals();
  showDraftForm({ name: props.name, code: props.code, households: "", parentCode: props.parent_code, showCode: false, fixedHouseholds: true });
  notify(t("pl.split.line"), "info");
  layers.forEach(editable);
  revalidate();
  updateTools();
}

ui.merge.addEventListener("click", () => {
  state.mode = "merge";
  notify(t("pl.merge.pick"), "info");
  updateTools();
});

function pickMergePartner(code) {
  const a = state.selected.feature;
  if (code === a.properties.code) return notify(t("pl.merge.same"), "warn");
  const b = state.areas.get(code).feature;
  if (a.properties.parent_code !== b.properties.parent_code) return notify(t("pl.merge.parent"), "warn");
  const union = turf.union(turf.featureCollection([turf.feature(a.geometry), turf.feature(b.geometry)]));
  const parts = partCount(union && union.geometry);
  if (parts !== 1) return notify(t("pl.merge.apart", { n: parts }), "warn");
  state.mode = "idle";
  api(`/api/grids/${encodeURIComponent(code)}`).then((partner) => {
    if (!partner.ok) return notify(failure(partner, "/api/grids/{code}"), "error");
    const layer = ctx.geoJSON(union, { style: STYLE.draft }).getLayers()[0];
    layer.addTo(draftLayer);
    const ha = a.properties.households;
    const hb = partner.data.properties.households;
    state.draft = {
      kind: "merge",
      layers: [layer],
      originals: [a.properties.code, code],
      partner: { feature: partner.data, etag: partner.etag },
      parentCode: a.properties.parent_code,
      ignoreCodes: [code], // the partner is closed before the union is saved
      features: () => [{ type: "Feature", properties: { ...coreProperties(a.properties), ...draftProperties() }, geometry: geometryOf(layer) }],
    };
    hideDraftOriginals();
    showDraftForm({ name: a.properties.name, code: a.properties.code, households: ha != null && hb != null ? ha + hb : "", parentCode: a.properties.parent_code, showCode: false });
    notify(t("pl.merge.ready", { a: a.properties.code, b: code }), "info");
    editable(layer);
    revalidate();
    updateTools();
  });
}

/** The stored properties a new version carries over (the service keeps omitted ones on PUT, not on import). */
function coreProperties(props) {
  const { version, valid_from, valid_to, changed_by, change, source, closed_by, closed_change, ...rest } = props;
  return rest;
}

function hideDraftOriginals() {
  const hidden = new Set((state.draft && state.draft.originals) || []);
  for (const [code, { layer }] of state.areas) {
    if (hidden.has(code)) areasLayer.removeLayer(layer);
    else if (!areasLayer.hasLayer(layer)) areasLayer.addLayer(layer);
  }
}

// ------------------------------------------------------------------ the draft form

function showDraftForm({ name, code, households, parentCode, showCode, fixedHouseholds = false }) {
  ui.name.value = name || "";
  ui.code.value = code || "";
  ui.rowCode.hidden = !showCode;
  ui.households.value = households ?? "";
  ui.households.disabled = fixedHouseholds;
  const upper = parentLevel(state.level);
  const options = [`<option value="">${esc(t("pl.parent.none"))}</option>`];
  for (const [pc, f] of state.parents) options.push(`<option value="${esc(pc)}">${esc(f.properties.name || pc)} (${esc(pc)})</option>`);
  if (parentCode && !state.parents.has(parentCode)) options.push(`<option value="${esc(parentCode)}">${esc(parentCode)}</option>`);
  ui.parent.innerHTML = options.join("");
  ui.parent.value = parentCode || "";
  ui.rowParent.hidden = !upper;
  ui.parent.disabled = state.draft.kind !== "draw";
  ui.draft.hidden = false;
}

function draftProperties() {
  const props = { name: ui.name.value.trim() || null };
  if (state.draft.kind === "draw" && ui.code.value.trim()) props.code = ui.code.value.trim();
  if (!ui.households.disabled && ui.households.value !== "") props.households = Number(ui.households.value);
  return props;
}

for (const input of [ui.parent, ui.code]) input.addEventListener("change", () => revalidate());

function endDraft() {
  if (state.draft) for (const layer of state.draft.layers) layer.pm && layer.pm.disable();
  draftLayer.clearLayers();
  problemsLayer.clearLayers();
  ui.problems.innerHTML = "";
  notify("", "info", "validation");
  state.draft = null;
  state.mode = "idle";
  ui.draft.hidden = true;
  map.pm.disableDraw();
  hideDraftOriginals();
  updateTools();
}

ui.cancel.addEventListener("click", () => {
  endDraft();
  notify("");
  if (state.selected) select(state.selected.feature.properties.code);
});

document.addEventListener("keydown", (ev) => {
  if (ev.key !== "Escape" || state.mode === "idle") return;
  map.pm.disableDraw();
  state.mode = "idle";
  notify("");
  updateTools();
});

// ------------------------------------------------------------------ validation (dry run on the server)

const revalidate = debounce(() => {
  if (!state.draft) return;
  validateNow(state.draft.features(), { parentCode: state.draft.kind === "draw" ? ui.parent.value || null : state.draft.parentCode, ignoreCodes: state.draft.ignoreCodes || [] });
}, 250);

const validateSoon = debounce(async (features, { autoParent }) => {
  const parentCode = autoParent ? await findParent(features[0].geometry) : null;
  features[0].properties.parent_code = parentCode;
  if (state.mode === "draw") validateNow(features, { parentCode });
}, 300);

async function validateNow(features, { parentCode = null, ignoreCodes = [] } = {}) {
  const seq = ++state.validationSeq;
  notify(t("pl.validating"), "info", "validation");
  const query = parentCode ? `?parent_code=${encodeURIComponent(parentCode)}` : "";
  const result = await api(`/api/grids/validate${query}`, { method: "POST", body: { type: "FeatureCollection", features }, auth: true });
  if (seq !== state.validationSeq) return; // a newer check is under way
  if (result.ok) return showProblems([]);
  if (result.status === 422 && Array.isArray(result.data.detail)) {
    return showProblems(result.data.detail.filter((p) => !(p.codes || []).some((c) => ignoreCodes.includes(c))));
  }
  notify(failure(result, "/api/grids/validate"), "error", "validation");
}

const problemLabel = (id) => (t(`prob.${id}`) === `prob.${id}` ? t("prob.invalid_feature") : t(`prob.${id}`));

/** The service's sentence about a problem when it is in the page's language, else the facts it carries. */
function problemText(p) {
  if (inPageLanguage(p.message)) return p.message;
  const facts = [];
  if (p.area_m2 != null) facts.push(t("prob.area", { a: Math.round(p.area_m2).toLocaleString(lang === "zh" ? "zh-CN" : "en") }));
  if (p.codes && p.codes.length) facts.push(t("prob.codes", { codes: p.codes.join(lang === "zh" ? "、" : ", ") }));
  return facts.join(lang === "zh" ? "；" : "; ");
}

function showProblems(problems) {
  problemsLayer.clearLayers();
  ui.problems.innerHTML = "";
  const errors = problems.filter((p) => !WARNINGS.has(p.problem));
  const warnings = problems.length - errors.length;
  if (!errors.length) notify(t("pl.valid") + (warnings ? ` ${t("pl.warnings", { n: warnings })}` : ""), warnings ? "warn" : "ok", "validation");
  else notify(t("pl.problems", { n: errors.length }), "error", "validation");
  for (const p of problems) {
    const warn = WARNINGS.has(p.problem);
    const li = document.createElement("li");
    li.className = warn ? "warn" : "";
    li.dataset.problem = p.problem;
    li.innerHTML = `<b>${esc(problemLabel(p.problem))}</b>${esc(problemText(p))}`;
    ui.problems.append(li);
    if (!p.location) continue;
    const style = warn ? STYLE.warning : STYLE.problem;
    const shape = ctx.geoJSON(p.location, {
      style, interactive: false, pmIgnore: true, snapIgnore: true,
      pointToLayer: (_, latlng) => L.circleMarker(latlng, { ...style, radius: 9, pmIgnore: true, snapIgnore: true }),
    });
    shape.eachLayer((l) => l.bindTooltip(esc(problemLabel(p.problem)), { permanent: true, className: `problem-tip${warn ? " warn" : ""}`, direction: "top" }));
    shape.addTo(problemsLayer);
    li.addEventListener("click", () => map.fitBounds(shape.getBounds().pad(1.5), { maxZoom: 18 }));
  }
}

// ------------------------------------------------------------------ saving

ui.save.addEventListener("click", save);

async function save() {
  const draft = state.draft;
  if (!draft) return;
  ui.save.disabled = true;
  notify(t("pl.saving"), "info");
  try {
    const outcome = await {
      draw: saveNew,
      edit: saveEdit,
      split: saveSplit,
      merge: saveMerge,
    }[draft.kind](draft);
    if (outcome) await afterSave(outcome);
  } finally {
    ui.save.disabled = false;
  }
}

/** The outcome of a write, or null after telling the user what went wrong. */
function checkWrite(result, code, path) {
  if (result.ok) return result;
  if (result.status === 412) {
    conflict(code);
    return null;
  }
  if (result.status === 401 || result.status === 403) notify(`${t("pl.needtoken")} ${failure(result)}`, "error");
  else if (result.status === 422 && Array.isArray(result.data.detail)) {
    notify(t("pl.rejected"), "error");
    showProblems(result.data.detail);
  } else notify(failure(result, path), "error");
  return null;
}

async function saveNew(draft) {
  const [feature] = draft.features();
  const query = feature.properties.code ? "" : "?auto_number=true";
  const result = checkWrite(await api(`/api/grids${query}`, { method: "POST", body: feature, auth: true }), null, "/api/grids");
  return result && { code: result.data.code, version: result.data.version, snapped: result.data.snapped_vertices };
}

async function saveEdit(draft) {
  const [feature] = draft.features();
  const code = feature.properties.code;
  const result = checkWrite(
    await api(`/api/grids/${encodeURIComponent(code)}`, { method: "PUT", body: feature, auth: true, headers: { "If-Match": state.selected.etag } }),
    code, "/api/grids/{code}",
  );
  return result && { code, version: result.data.version, snapped: result.data.snapped_vertices };
}

async function saveSplit(draft) {
  const features = draft.features();
  const code = features[0].properties.code;
  const result = checkWrite(
    await api("/api/grids/import?auto_number=true", { method: "POST", body: { type: "FeatureCollection", features }, auth: true }),
    code, "/api/grids/import",
  );
  return result && { code, version: versionOf(state.selected.etag) + 1, snapped: result.data.snapped_vertices };
}

async function saveMerge(draft) {
  // one request, one transaction: the partner closes and this area takes the union (or the edited boundary)
  const [feature] = draft.features();
  const code = feature.properties.code;
  const partnerCode = draft.partner.feature.properties.code;
  const result = checkWrite(
    await api(`/api/grids/${encodeURIComponent(code)}/merge`, {
      method: "POST", auth: true, headers: { "If-Match": state.selected.etag },
      body: { absorb: [partnerCode], versions: { [partnerCode]: versionOf(draft.partner.etag) }, feature },
    }),
    code, "/api/grids/{code}/merge",
  );
  return result && { code, version: result.data.version, snapped: result.data.snapped_vertices };
}

async function afterSave({ code, version, snapped }) {
  endDraft();
  const message = [t("pl.saved", { code, version })];
  if (snapped) message.push(t("pl.snapped", { n: snapped }));
  notify(message.join(" "), "ok");
  await Promise.all([loadAreas(), ctx.refreshSource("grids")]);
  await select(code);
}

function conflict(code) {
  api(`/api/grids/${encodeURIComponent(code)}`).then((latest) => {
    const version = latest.ok ? latest.data.properties.version : "?";
    notify(t("pl.conflict", { code, version }), "error");
    const box = document.getElementById("status");
    const button = document.createElement("button");
    button.className = "btn";
    button.type = "button";
    button.id = "reload-theirs";
    button.textContent = t("pl.reload");
    button.addEventListener("click", async () => {
      endDraft();
      await Promise.all([loadAreas(), ctx.refreshSource("grids")]);
      await select(code);
      notify(t("pl.reloaded", { code, version: state.selected.feature.properties.version }), "info");
    });
    box.append(button);
  });
}

onLanguage(() => {
  map.pm.setLang(lang === "zh" ? "zh" : "en");
  updateTools();
  renderSelected();
});
applyI18n();
updateTools();
await loadAreas();
await initNetworkCompare(ctx, document.getElementById("networks-compare"));
document.body.dataset.ready = "true";

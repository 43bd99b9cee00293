// The planner's comparison of a department's network (多网合一) with the unified grids: show the network's own
// tile layer `networks:<name>` over the grids, and list its boundary mismatches (a network line running within a
// few metres of a unified boundary without following it) with the unified line to adopt, drawn on the map.

import { addStrings, api, esc, failure, lang, notify, onLanguage, t } from "./common.js";

addStrings({
  zh: {
    "nw.title": "部门网格对比",
    "nw.hint": "选择一个已导入的部门网格，叠加到统一网格上比较，并列出边界不一致之处（橙色为部门边界，绿色虚线为应采用的统一边界）。",
    "nw.network": "部门网格",
    "nw.none": "还没有导入部门网格（POST /api/networks/{名称}/import）。",
    "nw.show": "在地图上显示",
    "nw.list": "列出边界不一致",
    "nw.loading": "正在比对…",
    "nw.count": "{n} 处边界不一致，共 {km} 公里；点击一处查看。",
    "nw.nomismatch": "没有边界不一致：部门网格的边界都沿着统一网格。",
    "nw.item": "#{k}：长 {length} 米，偏离 {offset} 米",
    "nw.cells": "部门网格 {cells} · 统一网格 {grids}",
    "nw.option": "{name}（{department}，{cells} 格，第 {version} 版）",
  },
  en: {
    "nw.title": "Compare a department network",
    "nw.hint": "Pick an imported department network to lay over the unified grids and list where their boundaries disagree (orange: the department's line; green dashes: the unified line to adopt).",
    "nw.network": "Network",
    "nw.none": "No department network imported yet (POST /api/networks/{name}/import).",
    "nw.show": "Show on the map",
    "nw.list": "List boundary mismatches",
    "nw.loading": "comparing…",
    "nw.count": "{n} boundary mismatches, {km} km in all; click one to see it.",
    "nw.nomismatch": "No mismatch: the network's boundaries follow the unified grids.",
    "nw.item": "#{k}: {length} m long, {offset} m off",
    "nw.cells": "network cells {cells} · unified grids {grids}",
    "nw.option": "{name} ({department}, {cells} cells, version {version})",
  },
});

const LINE = { color: "#ef6c00", weight: 4, opacity: 0.9 };
const SNAPPED = { color: "#2e7d32", weight: 3, dashArray: "6 4", opacity: 0.95 };

/** Wire the comparison section (`root`, see planner.html) to the page's map context `ctx` (map.js). */
export async function initNetworkCompare(ctx, root) {
  const ui = {
    select: root.querySelector("#nw-network"),
    show: root.querySelector("#nw-show"),
    list: root.querySelector("#nw-list"),
    items: root.querySelector("#nw-mismatches"),
    status: "nw-status",
  };
  const layer = L.featureGroup().addTo(ctx.map);
  const state = { networks: [], shown: null, mismatches: null, name: null };
  window.gs = Object.assign(window.gs || {}, { networks: state });

  const result = await api("/api/networks");
  state.networks = result.ok ? result.data.networks : [];
  const fill = () => {
    ui.select.innerHTML = state.networks
      .map((n) => `<option value="${esc(n.name)}">${esc(t("nw.option", { name: n.name, department: n.department || "—", cells: n.cells, version: n.version }))}</option>`)
      .join("");
    if (state.name) ui.select.value = state.name;
  };
  fill();
  onLanguage(() => {
    fill();
    renderList();
  });
  if (!state.networks.length) {
    notify(result.ok ? t("nw.none") : failure(result), result.ok ? "info" : "error", ui.status);
    ui.show.disabled = ui.list.disabled = ui.select.disabled = true;
    return state;
  }

  /** Add or remove the network's own vector layer (`networks:<name>`, its TileJSON names the source layer). */
  async function setShown(name) {
    const m = await ctx.whenStyled();
    if (state.shown) {
      const id = `networks:${state.shown}`;
      if (m.getLayer(`${id}-line`)) m.removeLayer(`${id}-line`);
      if (m.getSource(id)) m.removeSource(id);
      state.shown = null;
    }
    if (!name) return;
    const id = `networks:${name}`;
    const tilejson = await api(`/tiles/${encodeURIComponent(id)}.json`);
    if (!tilejson.ok) return notify(failure(tilejson), "error", ui.status);
    const sourceLayer = (tilejson.data.vector_layers && tilejson.data.vector_layers[0].id) || id;
    m.addSource(id, { type: "vector", tiles: tilejson.data.tiles, minzoom: tilejson.data.minzoom, maxzoom: tilejson.data.maxzoom });
    m.addLayer({ id: `${id}-line`, type: "line", source: id, "source-layer": sourceLayer,
      paint: { "line-color": "#ef6c00", "line-width": 2, "line-dasharray": [2, 1.5] } });
    state.shown = name;
  }

  async function listMismatches() {
    const name = ui.select.value;
    notify(t("nw.loading"), "info", ui.status);
    const response = await api(`/api/networks/${encodeURIComponent(name)}/crosswalk`, { timeoutMs: 120_000 });
    if (!response.ok) return notify(failure(response), "error", ui.status);
    state.name = name;
    state.mismatches = response.data.mismatches.features;
    layer.clearLayers();
    for (const f of state.mismatches) {
      ctx.geoJSON(f.properties.snapped, { style: SNAPPED, interactive: false }).addTo(layer);
      ctx.geoJSON(f, { style: LINE }).on("click", () => focus(f.id)).addTo(layer);
    }
    renderList();
    if (state.mismatches.length) ctx.map.fitBounds(layer.getBounds(), { padding: [20, 20], maxZoom: 17 });
  }

  function renderList() {
    if (!state.mismatches) return;
    const km = state.mismatches.reduce((sum, f) => sum + f.properties.length_m, 0) / 1000;
    notify(state.mismatches.length ? t("nw.count", { n: state.mismatches.length, km: km.toFixed(2) }) : t("nw.nomismatch"), "ok", ui.status);
    const number = (v, digits) => Number(v).toLocaleString(lang === "zh" ? "zh-CN" : "en", { maximumFractionDigits: digits });
    ui.items.innerHTML = state.mismatches
      .map((f) => `<li data-id="${f.id}" role="button" tabindex="0"><span>${esc(t("nw.item", { k: f.id, length: number(f.properties.length_m, 0), offset: number(f.properties.offset_m, 1) }))}</span>
        <span class="meta">${esc(t("nw.cells", { cells: f.properties.cells.join("、"), grids: f.properties.grids.join("、") || "—" }))}</span></li>`)
      .join("");
  }

  function focus(id) {
    const f = state.mismatches.find((m) => m.id === id);
    if (!f) return;
    const bounds = ctx.geoJSON(f).getBounds();
    ctx.map.fitBounds(bounds.pad(0.5), { maxZoom: 18 });
    for (const li of ui.items.querySelectorAll("li")) li.classList.toggle("active", Number(li.dataset.id) === id);
  }

  ui.show.addEventListener("change", () => setShown(ui.show.checked ? ui.select.value : null));
  ui.select.addEventListener("change", () => {
    if (ui.show.checked) setShown(ui.select.value);
    state.mismatches = null;
    ui.items.innerHTML = "";
    layer.clearLayers();
  });
  ui.list.addEventListener("click", listMismatches);
  ui.items.addEventListener("click", (ev) => {
    const li = ev.target.closest("li[data-id]");
    if (li) focus(Number(li.dataset.id));
  });
  ui.items.addEventListener("keydown", (ev) => {
    const li = ev.target.closest("li[data-id]");
    if (li && (ev.key === "Enter" || ev.key === " ")) focus(Number(li.dataset.id));
  });
  return state;
}

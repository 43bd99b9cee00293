// /app/circles: walking isochrones (5/10/15 minutes) from a clicked point with the life-circle check there,
// the coverage choropleth by profile and category, and the gaps (homes and H3 cells that miss a category).
// Endpoints not on this server yet answer 404: the page says so and keeps working.

import { addStrings, api, applyI18n, esc, failure, initSheet, lang, localText, minutes, notify, onLanguage, renderHeader, t } from "./common.js";
import { createMap } from "./map.js";

addStrings({
  zh: {
    "ci.iso": "步行等时圈",
    "ci.iso.hint": "点击地图：显示从该点步行 5、10、15 分钟能到的范围（沿街道网络计算），以及该点的生活圈配套。",
    "ci.speed": "步速",
    "ci.speed.adult": "4.5 公里/小时（成人）",
    "ci.speed.elderly": "3.0 公里/小时（老人）",
    "ci.speed.fast": "5.0 公里/小时（快走）",
    "ci.computing": "正在计算等时圈…",
    "ci.iso.none": "该点离步行路网太远，无法计算等时圈。",
    "ci.iso.unavailable": "等时圈服务还没有在这台服务器上开通。",
    "ci.circle.unavailable": "生活圈评估还没有在这台服务器上开通。",
    "ci.coverage.unavailable": "覆盖率服务还没有在这台服务器上开通。",
    "ci.minutes": "{m} 分钟",
    "ci.area": "{a} 平方公里",
    "ci.coverage": "生活圈覆盖率",
    "ci.profile": "标准",
    "ci.level": "统计单元",
    "ci.category": "设施",
    "ci.score": "综合得分",
    "ci.show.coverage": "覆盖率",
    "ci.show.gaps": "缺口",
    "ci.clear": "清除",
    "ci.loading": "正在加载…",
    "ci.coverage.shown": "{n} 个区域：颜色表示步行可达“{cat}”的住户比例。",
    "ci.gaps.shown": "“{cat}”的缺口：{homes} 栋住宅、{cells} 个 H3 网格（共 {households} 户）步行够不到。",
    "ci.gaps.pick": "请先选择一种设施（不是综合得分）再看缺口。",
    "ci.reached": "可达",
    "ci.missing": "缺失",
    "ci.nearest": "最近：{name}，步行 {min} 分钟",
    "ci.share": "可达住户比例",
    "ci.households": "户",
    "ci.guide": "{level}导视图：{name}",
    "ci.guide.hint": "便民生活服务圈导视图（A4，可打印）",
    "cat.grocery": "便利店/超市", "cat.market": "菜市场", "cat.pharmacy": "药店", "cat.clinic": "社区卫生服务",
    "cat.hospital": "医院", "cat.school": "学校", "cat.kindergarten": "幼儿园", "cat.childcare": "托育",
    "cat.elderly_care": "养老服务", "cat.canteen": "社区食堂", "cat.restaurant": "餐饮", "cat.community_center": "社区服务中心",
    "cat.sports": "体育健身", "cat.park": "公园绿地", "cat.toilet": "公共厕所", "cat.drinking_water": "饮用水",
    "cat.bank": "银行", "cat.post": "邮政快递", "cat.police": "警务", "cat.bus_stop": "公交站",
  },
  en: {
    "ci.iso": "Walking isochrones",
    "ci.iso.hint": "Click the map: where 5, 10 and 15 minutes of walking along the streets reach from there, and the life-circle check of that point.",
    "ci.speed": "Speed",
    "ci.speed.adult": "4.5 km/h (adult)",
    "ci.speed.elderly": "3.0 km/h (elderly)",
    "ci.speed.fast": "5.0 km/h (brisk)",
    "ci.computing": "computing isochrones…",
    "ci.iso.none": "This point is too far from the walking network for isochrones.",
    "ci.iso.unavailable": "Isochrones are not available on this server yet.",
    "ci.circle.unavailable": "The life-circle check is not available on this server yet.",
    "ci.coverage.unavailable": "Coverage is not available on this server yet.",
    "ci.minutes": "{m} min",
    "ci.area": "{a} km²",
    "ci.coverage": "Life-circle coverage",
    "ci.profile": "Profile",
    "ci.level": "Areas",
    "ci.category": "Facility",
    "ci.score": "overall score",
    "ci.show.coverage": "Coverage",
    "ci.show.gaps": "Gaps",
    "ci.clear": "Clear",
    "ci.loading": "loading…",
    "ci.coverage.shown": "{n} areas: colour = share of households within walking reach of “{cat}”.",
    "ci.gaps.shown": "Gaps for “{cat}”: {homes} homes and {cells} H3 cells ({households} households) out of walking reach.",
    "ci.gaps.pick": "Pick a facility category (not the overall score) to see its gaps.",
    "ci.reached": "reached",
    "ci.missing": "missing",
    "ci.nearest": "nearest: {name}, {min} min walk",
    "ci.share": "share of households reached",
    "ci.households": "households",
    "ci.guide": "Guide map of the {level}: {name}",
    "ci.guide.hint": "the printable life-circle guide map (A4)",
    "cat.grocery": "grocery", "cat.market": "market", "cat.pharmacy": "pharmacy", "cat.clinic": "clinic",
    "cat.hospital": "hospital", "cat.school": "school", "cat.kindergarten": "kindergarten", "cat.childcare": "childcare",
    "cat.elderly_care": "elderly care", "cat.canteen": "canteen", "cat.restaurant": "restaurant", "cat.community_center": "community centre",
    "cat.sports": "sports", "cat.park": "park", "cat.toilet": "toilet", "cat.drinking_water": "drinking water",
    "cat.bank": "bank", "cat.post": "post", "cat.police": "police", "cat.bus_stop": "bus stop",
  },
});

const MINUTES = [5, 10, 15];
const ISO_COLOURS = { 5: "#d73027", 10: "#fdae61", 15: "#74add1" };
const RAMP = [[0.2, "#d73027"], [0.4, "#fc8d59"], [0.6, "#fee08b"], [0.8, "#91cf60"], [1.01, "#1a9850"]];
const DEFAULT_PROFILE = "gb50180";

renderHeader("circles");
initSheet(document.querySelector("aside.panel"));
const $ = (id) => document.getElementById(id);
const ui = {
  speed: $("speed"), isoResult: $("iso-result"), circleResult: $("circle-result"), guide: $("guide"), profile: $("profile"),
  level: $("cov-level"), category: $("category"), coverage: $("show-coverage"), gaps: $("show-gaps"),
  clear: $("clear"), coverageResult: $("coverage-result"),
};
const ctx = await createMap("map", { overlays: ["grids", "facilities"] });
const { map } = ctx;
const state = { profiles: [], origin: null, isochrones: null, circle: null, coverage: null, guideArea: null };
const isoLayer = L.layerGroup().addTo(map);
const coverageLayer = L.layerGroup().addTo(map);
const gapsLayer = L.layerGroup().addTo(map);
const originLayer = L.layerGroup().addTo(map);
window.gs = { ctx, map, state };

const categoryName = (id) => (t(`cat.${id}`) === `cat.${id}` ? id.replace(/_/g, " ") : t(`cat.${id}`));
const rampColour = (share) => (share == null ? "#bdbdbd" : RAMP.find(([limit]) => share < limit)[1]);
const km2 = (m2) => (m2 / 1e6).toFixed(2);

// ------------------------------------------------------------------ isochrones and the point's life circle

map.on("click", (ev) => showPoint(ctx.toLonLat(ev.latlng)));
ui.speed.addEventListener("change", () => state.origin && showPoint(state.origin));

async function showPoint(lonlat) {
  state.origin = lonlat;
  originLayer.clearLayers();
  L.circleMarker(ctx.toLatLng(lonlat), { radius: 8, color: "#fff", weight: 3, fillColor: "#1d3d6e", fillOpacity: 1 }).addTo(originLayer);
  await Promise.all([showIsochrones(lonlat), showLifeCircle(lonlat), findGuideArea(lonlat)]);
}

// ------------------------------------------------------------------ the printable guide map of the point's community

async function findGuideArea([lon, lat]) {
  const result = await api(`/api/locate?lon=${lon.toFixed(7)}&lat=${lat.toFixed(7)}`);
  const areas = result.ok ? [...(result.data.ancestors || []), ...(result.data.grid ? [{ level: "grid", ...result.data.grid }] : [])] : [];
  // the guide map is drawn for a community (the 15-minute circle's unit); a street or grid when there is none
  state.guideArea = ["community", "street", "grid", "district"].map((level) => areas.find((a) => a.level === level)).find(Boolean) || null;
  renderGuide();
}

function renderGuide() {
  const area = state.guideArea;
  ui.guide.innerHTML = "";
  if (!area) return;
  const name = area.name || area.code;
  const query = new URLSearchParams({ lang: lang === "en" ? "en" : "zh", speed_kmh: ui.speed.value });
  const href = (format) => `/api/areas/${encodeURIComponent(area.code)}/guide-map.${format}?${query}`;
  ui.guide.innerHTML = `<p><b>${esc(t("ci.guide", { level: t(`level.${area.level}`), name }))}</b> <span class="meta">${esc(t("ci.guide.hint"))}</span></p>
    <div class="downloads">
      <a class="btn" data-guide="png" href="${esc(href("png"))}" download="${esc(`guide-map-${area.code}.png`)}"><i class="fa-solid fa-image"></i> PNG</a>
      <a class="btn" data-guide="pdf" href="${esc(href("pdf"))}" download="${esc(`guide-map-${area.code}.pdf`)}"><i class="fa-solid fa-file-pdf"></i> PDF</a>
    </div>`;
}

async function showIsochrones([lon, lat]) {
  notify(t("ci.computing"), "info", "iso-status");
  const params = new URLSearchParams({ lon: lon.toFixed(7), lat: lat.toFixed(7), minutes: MINUTES.join(","), speed_kmh: ui.speed.value });
  const result = await api(`/api/isochrones?${params}`);
  isoLayer.clearLayers();
  ui.isoResult.innerHTML = "";
  if (!result.ok) {
    state.isochrones = null;
    if (result.missing) return notify(t("ci.iso.unavailable"), "warn", "iso-status");
    if (result.status === 422) return notify(t("ci.iso.none"), "warn", "iso-status");
    return notify(failure(result, "/api/isochrones"), "error", "iso-status");
  }
  notify("", "info", "iso-status");
  state.isochrones = result.data;
  const features = [...result.data.features].sort((a, b) => b.properties.minutes - a.properties.minutes);
  for (const f of features) {
    const m = f.properties.minutes;
    ctx.geoJSON(f, { style: { color: ISO_COLOURS[m] || "#555", weight: 2, fillColor: ISO_COLOURS[m] || "#888", fillOpacity: 0.4 }, interactive: false }).addTo(isoLayer);
  }
  // legend swatches are classes (no style attributes: the pages run under a strict Content-Security-Policy)
  const swatch = (m) => (ISO_COLOURS[m] ? `iso-${m}` : "iso-other");
  ui.isoResult.innerHTML = `<div class="legend" data-isochrones="${result.data.features.length}">${result.data.features
    .map((f) => `<div><i class="swatch ${swatch(f.properties.minutes)}"></i>${t("ci.minutes", { m: f.properties.minutes })} · ${t("ci.area", { a: km2(f.properties.area_m2) })}</div>`)
    .join("")}</div>`;
  originLayer.eachLayer((marker) => marker.bringToFront());
  if (features.length) map.fitBounds(L.featureGroup(isoLayer.getLayers()).getBounds().pad(0.1));
  document.body.dataset.isochrones = String(result.data.features.length);
}

async function showLifeCircle([lon, lat]) {
  const params = new URLSearchParams({ lon: lon.toFixed(7), lat: lat.toFixed(7), profile: ui.profile.value || DEFAULT_PROFILE });
  const result = await api(`/api/life-circle?${params}`);
  state.circle = result.ok ? result.data : null;
  if (!result.ok) {
    ui.circleResult.innerHTML = result.missing ? `<p class="hint">${t("ci.circle.unavailable")}</p>` : `<p class="status error">${esc(failure(result, "/api/life-circle"))}</p>`;
    return;
  }
  renderLifeCircle();
}

function renderLifeCircle() {
  if (!state.circle) return;
  ui.circleResult.innerHTML = state.circle.levels
    .map((level) => `<p><b>${esc(localText(level.name, t("ci.minutes", { m: level.minutes })))}</b>${level.max_distance_m ? ` · ≤ ${Math.round(level.max_distance_m)} ${t("unit.m")}` : ""}</p>
      <ul class="problems">${level.categories
        .map((c) => `<li class="${c.status === "reached" ? "reached" : "warn"}" data-category="${esc(c.category)}"><b>${c.status === "reached" ? "✓" : "✗"} ${esc(localText(c.label, categoryName(c.category)))} · ${t(`ci.${c.status}`)}</b>${c.nearest ? esc(t("ci.nearest", { name: c.nearest.name || "—", min: minutes(c.nearest.walk_seconds) })) : ""}</li>`)
        .join("")}</ul>`)
    .join("");
}

// ------------------------------------------------------------------ coverage and gaps

function fillCategories() {
  const profile = state.profiles.find((p) => p.id === ui.profile.value);
  const ids = profile ? [...new Set(profile.levels.flatMap((l) => l.categories))] : [];
  const keep = ui.category.value;
  ui.category.innerHTML = [`<option value="score">${esc(t("ci.score"))}</option>`, ...ids.map((id) => `<option value="${esc(id)}">${esc(categoryName(id))}</option>`)].join("");
  if (keep && [...ui.category.options].some((o) => o.value === keep)) ui.category.value = keep;
}

function fillProfiles() {
  const keep = ui.profile.value;
  const profiles = state.profiles.length ? state.profiles : [{ id: DEFAULT_PROFILE, name: DEFAULT_PROFILE }];
  ui.profile.innerHTML = profiles.map((p) => `<option value="${esc(p.id)}">${esc(localText(p.name, p.id))}</option>`).join("");
  ui.profile.value = keep || (profiles.some((p) => p.id === DEFAULT_PROFILE) ? DEFAULT_PROFILE : profiles[0].id);
  fillCategories();
}

ui.profile.addEventListener("change", () => {
  fillCategories();
  if (state.origin) showLifeCircle(state.origin);
  if (state.coverage) showCoverage();
});
ui.level.addEventListener("change", () => state.coverage && showCoverage());

ui.coverage.addEventListener("click", showCoverage);
ui.category.addEventListener("change", drawCoverage);
ui.gaps.addEventListener("click", showGaps);
ui.clear.addEventListener("click", () => {
  state.coverage = null;
  coverageLayer.clearLayers();
  gapsLayer.clearLayers();
  isoLayer.clearLayers();
  originLayer.clearLayers();
  ui.coverageResult.innerHTML = "";
  ui.isoResult.innerHTML = "";
  ui.circleResult.innerHTML = "";
  ui.guide.innerHTML = "";
  state.guideArea = null;
  notify("");
  notify("", "info", "iso-status");
});

async function showCoverage() {
  notify(t("ci.loading"), "info");
  const params = new URLSearchParams({ level: ui.level.value, profile: ui.profile.value || DEFAULT_PROFILE });
  const result = await api(`/api/coverage?${params}`);
  coverageLayer.clearLayers();
  state.coverage = null;
  if (!result.ok) return notify(result.missing ? t("ci.coverage.unavailable", { path: "/api/coverage" }) : failure(result, "/api/coverage"), result.missing ? "warn" : "error");
  state.coverage = result;
  drawCoverage();
}

/** The coverage choropleth of the chosen category (or the overall score); redrawn when the choice changes. */
function drawCoverage() {
  const result = state.coverage;
  coverageLayer.clearLayers();
  if (!result) return;
  const category = ui.category.value;
  const share = (p) => (category === "score" ? p.score : p.categories ? p.categories[category] : null);
  ctx.geoJSON(result.data, {
    style: (f) => ({ color: "#333", weight: 1, fillColor: rampColour(share(f.properties)), fillOpacity: 0.6 }),
    onEachFeature: (f, layer) => {
      const value = share(f.properties);
      layer.bindTooltip(`${esc(f.properties.name || f.properties.code)}<br>${value == null ? "—" : `${Math.round(value * 100)}%`} · ${esc(f.properties.households ?? "—")} ${t("ci.households")}`, { sticky: true });
    },
  }).addTo(coverageLayer);
  const label = category === "score" ? t("ci.score") : categoryName(category);
  notify(t("ci.coverage.shown", { n: result.data.features.length, cat: label }), "ok");
  ui.coverageResult.innerHTML = `<div class="legend"><b>${t("ci.share")}</b>${RAMP.map(([limit], i) => `<div><i class="swatch ramp-${i}"></i>${i * 20}–${Math.min(100, Math.round(limit * 100))}%</div>`).join("")}</div>`;
}

async function showGaps() {
  const category = ui.category.value;
  if (category === "score") return notify(t("ci.gaps.pick"), "warn");
  notify(t("ci.loading"), "info");
  const params = new URLSearchParams({ category, profile: ui.profile.value || DEFAULT_PROFILE });
  const result = await api(`/api/coverage/gaps?${params}`);
  gapsLayer.clearLayers();
  if (!result.ok) return notify(result.missing ? t("ci.coverage.unavailable", { path: "/api/coverage/gaps" }) : failure(result, "/api/coverage/gaps"), result.missing ? "warn" : "error");
  const cells = result.data.features.filter((f) => f.properties.kind === "h3_cell");
  const homes = result.data.features.filter((f) => f.properties.kind !== "h3_cell");
  ctx.geoJSON({ type: "FeatureCollection", features: cells }, { style: { color: "#b2182b", weight: 1, fillColor: "#b2182b", fillOpacity: 0.25, dashArray: "3 3" }, interactive: false }).addTo(gapsLayer);
  ctx.geoJSON({ type: "FeatureCollection", features: homes }, {
    pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: Math.min(12, 3 + Math.sqrt(f.properties.households || 1)), color: "#fff", weight: 1, fillColor: "#b2182b", fillOpacity: 0.85 }),
    onEachFeature: (f, layer) => layer.bindTooltip(`${esc(f.properties.households ?? "?")} ${t("ci.households")}`),
  }).addTo(gapsLayer);
  const households = result.data.households_missing ?? homes.reduce((sum, f) => sum + (f.properties.households || 0), 0);
  notify(t("ci.gaps.shown", { cat: categoryName(category), homes: homes.length, cells: cells.length, households: Math.round(households).toLocaleString(lang === "zh" ? "zh-CN" : "en") }), "ok");
}

// ------------------------------------------------------------------ start

onLanguage(() => {
  fillProfiles();
  renderLifeCircle();
  renderGuide();
});
ui.speed.addEventListener("change", renderGuide);
const profiles = await api("/api/life-circle/profiles");
if (profiles.ok) state.profiles = Array.isArray(profiles.data) ? profiles.data : profiles.data.profiles || [];
fillProfiles();
applyI18n();
document.body.dataset.ready = "true";

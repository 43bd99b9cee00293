// /app/stations: for outdoor workers on a phone. "Locate me" (or tap the map) → the nearest open rest
// stations by walking time, with their amenities, and the walking route to the one picked.

import { addStrings, api, applyI18n, distance, esc, failure, formatTime, initSheet, lang, localName, minutes, notify, onLanguage, renderHeader, reveal, t } from "./common.js";
import { describeOpeningHours } from "./hours.js";
import { createMap } from "./map.js";
import { amapWalkUrl, baiduWalkUrl } from "./navigate.js";

addStrings({
  zh: {
    "st.locate": "定位我，找最近的驿站",
    "st.tap": "也可以直接点地图上你所在的位置。",
    "st.open": "只看开放中",
    "st.locating": "正在获取你的位置…",
    "st.searching": "正在查找附近的驿站…",
    "st.found": "离你最近的 {n} 个驿站（按步行时间排序）。点一个看路线。",
    "st.none": "附近没有符合条件的驿站：试试去掉一些筛选。",
    "st.geo.failed": "无法获取你的位置（{reason}）：请在地图上点你所在的位置。",
    "st.geo.1": "没有定位权限",
    "st.geo.2": "暂时无法确定位置",
    "st.geo.3": "定位超时",
    "st.geo.unsupported": "这个浏览器不能定位：请在地图上点你所在的位置。",
    "st.open_now": "开放中",
    "st.closed_now": "未开放",
    "st.hours_unknown": "开放时间未知",
    "st.call": "打电话",
    "st.you": "你的位置",
    "st.unavailable": "驿站服务还没有在这台服务器上开通，请稍后再试。",
    "st.walk": "步行",
    "st.route": "步行 {min} 分钟 · {dist}",
    "st.manager": "管理",
    "st.hours": "开放时间",
    "st.amap": "高德地图导航",
    "st.baidu": "百度地图导航",
    "st.here": "我的位置",
    "st.inspected": "上次巡查 {when}：{verdict}",
    "st.inspected.ok": "开放和设施正常",
    "st.inspected.closed": "未按公示时间开放",
    "st.inspected.missing": "缺少 {list}",
    "st.inspected.never": "还没有巡查记录",
  },
  en: {
    "st.locate": "Locate me: nearest stations",
    "st.tap": "Or tap where you are on the map.",
    "st.open": "open now only",
    "st.locating": "finding your position…",
    "st.searching": "looking for stations nearby…",
    "st.found": "The {n} nearest stations by walking time. Tap one for the route.",
    "st.none": "No station nearby matches: try fewer filters.",
    "st.geo.failed": "Could not get your position ({reason}): tap where you are on the map.",
    "st.geo.1": "permission denied",
    "st.geo.2": "position unavailable",
    "st.geo.3": "timed out",
    "st.geo.unsupported": "This browser cannot locate you: tap where you are on the map.",
    "st.open_now": "open now",
    "st.closed_now": "closed now",
    "st.hours_unknown": "hours unknown",
    "st.call": "Call",
    "st.you": "You are here",
    "st.unavailable": "The station service is not available on this server yet; please try again later.",
    "st.walk": "walk",
    "st.route": "{min} min walk · {dist}",
    "st.manager": "run by",
    "st.hours": "Hours",
    "st.amap": "Navigate with AMap",
    "st.baidu": "Navigate with Baidu Maps",
    "st.here": "My location",
    "st.inspected": "last inspected {when}: {verdict}",
    "st.inspected.ok": "open and equipped as published",
    "st.inspected.closed": "not open as published",
    "st.inspected.missing": "missing {list}",
    "st.inspected.never": "not inspected yet",
  },
});

// Font Awesome (free, solid) icons for the amenity ids the vocabulary uses; unknown ids get a check mark.
const ICONS = {
  hot_water: "fa-mug-hot", drinking_water: "fa-faucet-drip", microwave: "fa-fire-burner", refrigerator: "fa-snowflake",
  charging: "fa-plug", e_bike_charging: "fa-charging-station", toilet: "fa-restroom", wifi: "fa-wifi",
  heating: "fa-temperature-arrow-up", cooling: "fa-fan", seating: "fa-chair", first_aid: "fa-kit-medical",
  medicine: "fa-pills", vehicle_parking: "fa-square-parking", lockers: "fa-box-archive", umbrella: "fa-umbrella",
  repair_kit: "fa-screwdriver-wrench", reading: "fa-book-open", shower: "fa-shower", accessible: "fa-wheelchair",
};
const LIMIT = 5;

renderHeader("stations");
initSheet(document.querySelector("aside.panel"));
const ui = {
  locate: document.getElementById("locate"),
  filters: document.getElementById("filters"),
  list: document.getElementById("stations"),
};
const ctx = await createMap("map", { overlays: ["stations"], zoomOffset: 2, layerControl: false });
const { map } = ctx;
const state = { vocabulary: null, amenities: new Set(), openOnly: true, origin: null, stations: [], selected: null };
const youLayer = L.layerGroup().addTo(map);
const stationsLayer = L.layerGroup().addTo(map);
const routeLayer = L.layerGroup().addTo(map);
window.gs = { ctx, map, state };

function amenityName(id) {
  const item = state.vocabulary && state.vocabulary.amenities.find((a) => a.id === id);
  return localName(item, id.replace(/_/g, " "));
}

function kindName(id) {
  const item = state.vocabulary && state.vocabulary.kinds.find((k) => k.id === id);
  return localName(item, (id || "").replace(/_/g, " "));
}

/** Opening hours in words ("每天 20:00–次日 08:00"); the raw OSM value only when it cannot be read. */
function hoursText(value) {
  return describeOpeningHours(value, lang).text;
}

function renderFilters() {
  if (!state.vocabulary) {
    ui.filters.innerHTML = "";
    return;
  }
  const chip = (id, label, pressed, icon) =>
    `<button type="button" class="chip" data-filter="${esc(id)}" aria-pressed="${pressed}">${icon ? `<i class="fa-solid ${icon}"></i> ` : ""}${esc(label)}</button>`;
  ui.filters.innerHTML = [
    chip("open", t("st.open"), state.openOnly, "fa-door-open"),
    ...state.vocabulary.amenities.map((a) => chip(a.id, localName(a, a.id), state.amenities.has(a.id), ICONS[a.id] || "fa-circle-check")),
  ].join("");
  for (const button of ui.filters.querySelectorAll(".chip")) {
    button.addEventListener("click", () => {
      const id = button.dataset.filter;
      if (id === "open") state.openOnly = !state.openOnly;
      else if (state.amenities.has(id)) state.amenities.delete(id);
      else state.amenities.add(id);
      renderFilters();
      if (state.origin) search();
    });
  }
}

function setOrigin(lonlat) {
  state.origin = lonlat;
  youLayer.clearLayers();
  L.circleMarker(ctx.toLatLng(lonlat), { radius: 11, color: "#fff", weight: 4, fillColor: "#1565c0", fillOpacity: 1 })
    .bindTooltip(t("st.you"), { permanent: true, direction: "top", offset: [0, -10] })
    .addTo(youLayer);
  search();
}

ui.locate.addEventListener("click", () => {
  if (!navigator.geolocation) return notify(t("st.geo.unsupported"), "warn");
  notify(t("st.locating"), "info");
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      // GPS positions are WGS-84, what the API speaks; the map frame shifts them for display if needed
      setOrigin([pos.coords.longitude, pos.coords.latitude]);
      map.setView(ctx.toLatLng(state.origin), Math.max(map.getZoom(), 16));
    },
    (err) => notify(t("st.geo.failed", { reason: t(`st.geo.${err.code}`) === `st.geo.${err.code}` ? t("st.geo.2") : t(`st.geo.${err.code}`) }), "warn"),
    { enableHighAccuracy: true, timeout: 10000, maximumAge: 30000 },
  );
});

map.on("click", (ev) => setOrigin(ctx.toLonLat(ev.latlng)));

async function search() {
  if (!state.vocabulary) return notify(t("st.unavailable"), "warn");
  const [lon, lat] = state.origin;
  const params = new URLSearchParams({ lon: lon.toFixed(7), lat: lat.toFixed(7), limit: LIMIT, open_now: state.openOnly, include_route: true });
  if (state.amenities.size) params.set("amenities", [...state.amenities].join(","));
  notify(t("st.searching"), "info");
  const result = await api(`/api/stations/nearest?${params}`);
  if (!result.ok) {
    state.stations = [];
    render();
    return notify(result.missing ? t("st.unavailable") : failure(result, "/api/stations/nearest"), result.missing ? "warn" : "error");
  }
  state.stations = result.data.features;
  notify(state.stations.length ? t("st.found", { n: state.stations.length }) : t("st.none"), state.stations.length ? "ok" : "warn");
  state.selected = state.stations.length ? 0 : null;
  render();
}

/** The station's last regular inspection (常态化巡查) in words. */
function inspectionLine(last) {
  if (last === undefined) return "";
  if (!last) return `<div class="sub inspection" data-inspection="none">${esc(t("st.inspected.never"))}</div>`;
  const verdict = [];
  if (!last.open_as_published) verdict.push(t("st.inspected.closed"));
  if ((last.missing || []).length) verdict.push(t("st.inspected.missing", { list: last.missing.map(amenityName).join("、") }));
  const text = t("st.inspected", { when: formatTime(last.at).slice(0, 10), verdict: verdict.length ? verdict.join("，") : t("st.inspected.ok") });
  return `<div class="sub inspection" data-inspection="${last.ok ? "ok" : "problem"}"><i class="fa-solid fa-clipboard-check"></i> ${esc(text)}</div>`;
}

function openLabel(p) {
  if (p.open_now === true) return `<span class="open-now">${t("st.open_now")}</span>`;
  if (p.open_now === false) return `<span class="closed-now">${t("st.closed_now")}</span>`;
  return `<span>${t("st.hours_unknown")}</span>`;
}

function render() {
  ui.list.innerHTML = "";
  stationsLayer.clearLayers();
  state.stations.forEach((feature, i) => {
    const p = feature.properties;
    const li = document.createElement("li");
    li.className = "station";
    li.tabIndex = 0;
    li.setAttribute("role", "button");
    li.setAttribute("aria-selected", String(i === state.selected));
    li.dataset.stationId = p.id;
    const [lon, lat] = feature.geometry.coordinates;
    const hours = hoursText(p.opening_hours);
    li.innerHTML = `
      <div class="head"><span class="name">${i + 1}. ${esc(p.name)}</span>
        <span class="walk">${minutes(p.walk_seconds)}<small> ${t("unit.min")}</small></span></div>
      <div class="sub">${esc(kindName(p.kind))} · ${t("st.walk")} ${distance(p.walk_distance_m)} · ${openLabel(p)}</div>
      ${hours ? `<div class="sub hours" data-hours><i class="fa-regular fa-clock"></i> ${esc(hours)}</div>` : ""}
      ${p.address ? `<div class="sub">${esc(p.address)}</div>` : ""}
      <div class="amenities">${(p.amenities || []).map((a) => `<span class="amenity" data-amenity="${esc(a)}"><i class="fa-solid ${ICONS[a] || "fa-circle-check"}"></i>${esc(amenityName(a))}</span>`).join("")}</div>
      <div class="actions">
        <a class="nav-amap" href="${esc(amapWalkUrl([lon, lat], p.name, state.origin, t("st.here")))}" target="_blank" rel="noopener noreferrer"><i class="fa-solid fa-route"></i>&nbsp;${t("st.amap")}</a>
        <a class="nav-baidu" href="${esc(baiduWalkUrl([lon, lat], p.name, state.origin, t("st.here")))}" target="_blank" rel="noopener noreferrer"><i class="fa-solid fa-route"></i>&nbsp;${t("st.baidu")}</a>
        ${p.contact ? `<a href="tel:${esc(p.contact)}"><i class="fa-solid fa-phone"></i>&nbsp;${t("st.call")} ${esc(p.contact)}</a>` : ""}
      </div>
      ${p.manager ? `<div class="sub">${t("st.manager")}: ${esc(p.manager)}</div>` : ""}
      ${inspectionLine(p.last_inspection)}`;
    for (const link of li.querySelectorAll(".actions a")) link.addEventListener("click", (ev) => ev.stopPropagation());
    const choose = () => {
      state.selected = i;
      render();
      reveal(ui.list.children[i], "nearest");
    };
    li.addEventListener("click", choose);
    li.addEventListener("keydown", (ev) => (ev.key === "Enter" || ev.key === " ") && choose());
    ui.list.append(li);
    const icon = L.divIcon({ className: "", html: `<div class="pin${i === state.selected ? " selected" : ""}">${i + 1}</div>`, iconSize: [44, 44], iconAnchor: [22, 22] });
    L.marker(ctx.toLatLng(feature.geometry.coordinates), { icon, keyboard: false, title: p.name }).on("click", choose).addTo(stationsLayer);
  });
  drawRoute();
}

function drawRoute() {
  routeLayer.clearLayers();
  const feature = state.selected != null ? state.stations[state.selected] : null;
  if (!feature) return;
  const p = feature.properties;
  const line = p.route && p.route.type ? p.route : { type: "LineString", coordinates: [state.origin, feature.geometry.coordinates] };
  // the route runs from the nearest walkable edge: dotted links join it to where you stand and to the door
  const ends = line.coordinates;
  const links = { type: "MultiLineString", coordinates: [[state.origin, ends[0]], [ends[ends.length - 1], feature.geometry.coordinates]] };
  ctx.geoJSON(links, { style: { color: "#c62828", weight: 3, dashArray: "2 6", opacity: 1 }, interactive: false }).addTo(routeLayer);
  const casing = ctx.geoJSON(line, { style: { color: "#ffffff", weight: 11, opacity: 1 }, interactive: false });
  const stroke = ctx.geoJSON(line, { style: { color: "#c62828", weight: 6, opacity: 1, dashArray: p.route ? null : "8 8" }, interactive: false });
  casing.addTo(routeLayer);
  stroke.addTo(routeLayer);
  stroke.bindTooltip(t("st.route", { min: minutes(p.walk_seconds), dist: distance(p.walk_distance_m) }), { permanent: true, sticky: false });
  map.fitBounds(casing.getBounds().extend(ctx.toLatLng(state.origin)).pad(0.25), { maxZoom: 18 });
  document.body.dataset.route = String(p.id);
}

async function loadVocabulary() {
  const result = await api("/api/stations/vocabulary");
  if (result.ok) state.vocabulary = result.data;
  else notify(result.missing ? t("st.unavailable") : failure(result, "/api/stations/vocabulary"), result.missing ? "warn" : "error");
  renderFilters();
}

onLanguage(() => {
  renderFilters();
  render();
});
applyI18n();
await loadVocabulary();
document.body.dataset.ready = "true";

// /app/dashboard: the leaders' view of the 12345 loop for one area and period. Every number comes from
// GET /api/stats/dashboard (dispatcher or admin token); charts by ECharts from /vendor; the grids' choropleth
// on the shared map; CSV/XLSX downloads and a printable A4 report (print CSS).

import { acceptLanguage, addStrings, api, applyI18n, esc, failure, getToken, initSheet, lang, notify, onLanguage, renderHeader, reveal, t } from "./common.js";
import { createMap } from "./map.js";

addStrings({
  zh: {
    "db.choose": "区域与时段",
    "db.level": "层级",
    "db.area": "区域",
    "db.since": "开始日期",
    "db.until": "截止日期（不含）",
    "db.show": "查看",
    "db.loading": "正在统计…",
    "db.needtoken": "驾驶舱需要调度员或管理员令牌：请在页面顶部填写。",
    "db.noareas": "还没有任何区域：请先在网格规划中导入区、街道、社区和网格。",
    "db.flow": "事件办理",
    "db.period": "{area}，{since} 至 {until}（共 {days} 天），统计于 {asof}",
    "db.settled": "办结层级（小事不出网格）",
    "db.settled.note": "网格内办结 {share}，目标 {target}：{verdict}。共办结 {total} 件。",
    "db.settled.met": "已达标",
    "db.settled.missed": "未达标",
    "db.settled.none": "本时段还没有办结的事件。",
    "db.target": "目标",
    "db.weeks": "每周趋势",
    "db.grids": "各网格",
    "db.mapmode": "地图着色",
    "db.mode.volume": "按事件量",
    "db.mode.ontime": "按按时办结率",
    "db.nodata": "无数据",
    "db.overdue": "超期未办结",
    "db.escalated": "上报上级",
    "db.none": "没有。",
    "db.more": "另有 {n} 件未列出（见下载的表格）。",
    "db.case": "#{id} {category} · {status} · {owner}",
    "db.pastdue": "超期 {h} 小时",
    "db.escalations": "上报 {n} 次",
    "db.staffing": "人员配备与驿站覆盖",
    "db.download": "下载与打印",
    "db.dl.xlsx": "Excel（全部）",
    "db.dl.summary": "CSV 总览",
    "db.dl.weeks": "CSV 每周",
    "db.dl.grids": "CSV 网格",
    "db.dl.areas": "CSV 下级区域",
    "db.children.street": "各街道",
    "db.children.community": "各社区",
    "db.children.grid": "各网格",
    "db.children.hint": "按时率 = 按时办结 ÷ 应按时办结；办结层级为各级办结件数占本区域办结总数之比。点击表头排序。",
    "col.ontimerate": "按时率",
    "col.settled.grid": "网格办结",
    "col.settled.community": "社区办结",
    "col.settled.street": "街道办结",
    "col.settled.district": "区级办结",
    "col.sort.asc": "升序",
    "col.sort.desc": "降序",
    "db.print": "打印 A4 报告",
    "db.downloaded": "已下载 {name}",
    "db.report": "网格化管理运行报告",
    "kpi.reported": "上报",
    "kpi.accepted": "受理",
    "kpi.transferred": "转办",
    "kpi.completed": "办结",
    "kpi.on_time": "按时办结",
    "kpi.overdue": "超期未办结",
    "kpi.escalated": "上报上级",
    "kpi.rate": "{rate}",
    "col.code": "编码",
    "col.name": "名称",
    "col.reported": "上报",
    "col.completed": "办结",
    "col.ontime": "按时率",
    "col.overdue": "超期",
    "col.settledgrid": "网格内办结",
    "st.population": "常住人口",
    "st.norm": "配备标准",
    "st.norm.value": "每万人 {n} 名",
    "st.need": "应配",
    "st.workers": "在册网格员",
    "st.gap": "缺口",
    "st.per10k": "实配（每万人）",
    "st.stations": "驿站",
    "st.coverage": "步行 {m} 分钟覆盖户数",
    "st.estimated": "（按户数估算）",
    "state.reported": "已上报",
    "state.filed": "已立案",
    "state.dispatched": "已派遣",
    "state.in_progress": "处置中",
    "state.escalated": "已上报上级",
    "unit.people": "人",
    "unit.items": "件",
  },
  en: {
    "db.choose": "Area and period",
    "db.level": "Level",
    "db.area": "Area",
    "db.since": "From",
    "db.until": "Until (excluded)",
    "db.show": "Show",
    "db.loading": "counting…",
    "db.needtoken": "The dashboard needs a dispatcher or admin token: enter it at the top of the page.",
    "db.noareas": "No areas yet: import districts, streets, communities and grids in the planner first.",
    "db.flow": "Incidents handled",
    "db.period": "{area}, {since} to {until} ({days} days), as of {asof}",
    "db.settled": "Where cases were settled (小事不出网格)",
    "db.settled.note": "Settled in the grid: {share} against a target of {target}: {verdict}. {total} cases completed.",
    "db.settled.met": "target met",
    "db.settled.missed": "target missed",
    "db.settled.none": "No case completed in this period yet.",
    "db.target": "target",
    "db.weeks": "Weekly trend",
    "db.grids": "Grids",
    "db.mapmode": "Colour the map by",
    "db.mode.volume": "incident volume",
    "db.mode.ontime": "on-time rate",
    "db.nodata": "no data",
    "db.overdue": "Overdue",
    "db.escalated": "Escalated",
    "db.none": "None.",
    "db.more": "{n} more not listed (see the download).",
    "db.case": "#{id} {category} · {status} · {owner}",
    "db.pastdue": "{h} h past due",
    "db.escalations": "escalated {n}×",
    "db.staffing": "Staffing and stations",
    "db.download": "Download and print",
    "db.dl.xlsx": "Excel (all)",
    "db.dl.summary": "CSV summary",
    "db.dl.weeks": "CSV weeks",
    "db.dl.grids": "CSV grids",
    "db.dl.areas": "CSV child areas",
    "db.children.street": "Streets",
    "db.children.community": "Communities",
    "db.children.grid": "Grids",
    "db.children.hint": "On time = completed on time ÷ due; settled = cases completed at each level over all completed. Click a header to sort.",
    "col.ontimerate": "On time",
    "col.settled.grid": "Grid",
    "col.settled.community": "Community",
    "col.settled.street": "Street",
    "col.settled.district": "District",
    "col.sort.asc": "ascending",
    "col.sort.desc": "descending",
    "db.print": "Print A4 report",
    "db.downloaded": "Downloaded {name}",
    "db.report": "Grid management report",
    "kpi.reported": "Reported",
    "kpi.accepted": "Accepted",
    "kpi.transferred": "Transferred",
    "kpi.completed": "Completed",
    "kpi.on_time": "On time",
    "kpi.overdue": "Overdue",
    "kpi.escalated": "Escalated",
    "kpi.rate": "{rate}",
    "col.code": "Code",
    "col.name": "Name",
    "col.reported": "Reported",
    "col.completed": "Completed",
    "col.ontime": "On time",
    "col.overdue": "Overdue",
    "col.settledgrid": "Settled in grid",
    "st.population": "Residents",
    "st.norm": "Norm",
    "st.norm.value": "{n} per 10,000 residents",
    "st.need": "Needed",
    "st.workers": "Workers on record",
    "st.gap": "Gap",
    "st.per10k": "Workers per 10,000",
    "st.stations": "Stations",
    "st.coverage": "Households within {m} min walk",
    "st.estimated": "(estimated from households)",
    "state.reported": "reported",
    "state.filed": "filed",
    "state.dispatched": "dispatched",
    "state.in_progress": "in progress",
    "state.escalated": "escalated",
    "unit.people": "",
    "unit.items": "",
  },
});

const LEVELS = ["district", "street", "community", "grid"];
const KPIS = ["reported", "accepted", "transferred", "completed", "on_time", "overdue", "escalated"];
// on-time rate: red (low) to green (high), as the circles page; volume: light to dark blue
const RAMP = [[0.2, "#d73027"], [0.4, "#fc8d59"], [0.6, "#fee08b"], [0.8, "#91cf60"], [1.01, "#1a9850"]];
const VOLUME = ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"];

renderHeader("dashboard", { token: true });
initSheet(document.querySelector("aside.panel"));
const ui = {
  form: document.getElementById("choose"),
  level: document.getElementById("level"),
  area: document.getElementById("area"),
  since: document.getElementById("since"),
  until: document.getElementById("until"),
  report: document.getElementById("report"),
  mode: document.getElementById("map-mode"),
};
const state = { areas: [], report: null, gridShapes: null, shapesFor: null, charts: {}, areaSort: { key: "reported", dir: "desc" } };
const ctx = await createMap("map", { overlays: ["grids"] });
const map = ctx.map;
const choropleth = L.layerGroup().addTo(map);
window.gs = { ctx, map, state };

const number = (n) => (n == null ? "—" : Number(n).toLocaleString(lang === "zh" ? "zh-CN" : "en"));
const percent = (r) => (r == null ? "—" : `${(r * 100).toFixed(1)}%`);
const levelName = (level) => t(`level.${level}`);

// ------------------------------------------------------------------ the chooser

function fillAreas(selected) {
  const level = ui.level.value;
  const names = new Map(state.areas.map((a) => [a.code, a.name]));
  const options = state.areas.filter((a) => a.level === level);
  ui.area.innerHTML = options
    .map((a) => {
      const parent = a.parent_code && names.get(a.parent_code) ? ` · ${names.get(a.parent_code)}` : "";
      return `<option value="${esc(a.code)}">${esc(a.name)}${esc(parent)} (${esc(a.code)})</option>`;
    })
    .join("");
  if (selected && options.some((a) => a.code === selected)) ui.area.value = selected;
}

async function loadAreas() {
  const result = await api("/api/stats/dashboard/areas", { auth: true });
  if (!result.ok) {
    notify([401, 403].includes(result.status) ? t("db.needtoken") : failure(result), "warn");
    return false;
  }
  state.areas = result.data.areas;
  if (!state.areas.length) {
    notify(t("db.noareas"), "warn");
    return false;
  }
  return true;
}

// ------------------------------------------------------------------ the report

async function show() {
  const params = new URLSearchParams({ level: ui.level.value, code: ui.area.value });
  if (ui.since.value) params.set("since", ui.since.value);
  if (ui.until.value) params.set("until", ui.until.value);
  notify(t("db.loading"), "info");
  document.body.dataset.loaded = "false";
  const result = await api(`/api/stats/dashboard?${params}`, { auth: true });
  if (!result.ok) {
    notify([401, 403].includes(result.status) ? t("db.needtoken") : failure(result), result.status === 422 ? "warn" : "error");
    return;
  }
  const report = result.data;
  state.report = report;
  ui.since.value = report.period.since;
  ui.until.value = report.period.until;
  history.replaceState(null, "", `?${new URLSearchParams({ level: report.area.level, code: report.area.code, since: report.period.since, until: report.period.until })}${location.hash}`);
  notify("", "info");
  ui.report.hidden = false;
  render();
  await drawChoropleth(true);
  document.body.dataset.loaded = "true";
}

function render() {
  const r = state.report;
  if (!r) return;
  const s = r.summary;
  document.getElementById("print-title").textContent = `${t("db.report")} · ${r.area.name}`;
  document.getElementById("period-note").textContent = t("db.period", {
    area: `${r.area.name}（${levelName(r.area.level)} ${r.area.code}）`, since: r.period.since, until: r.period.until, days: r.period.days,
    asof: r.as_of.replace("T", " ").slice(0, 16),
  });
  const rates = { completed: s.completion_rate, on_time: s.on_time_rate };
  document.getElementById("kpis").innerHTML = KPIS.map(
    (key) => `<div class="kpi${["overdue", "escalated"].includes(key) && s[key] ? " alert" : ""}" data-key="${key}">
      <span class="label">${t(`kpi.${key}`)}</span><span class="value">${number(s[key])}</span>
      ${key in rates ? `<span class="rate" data-rate="${key}">${percent(rates[key])}</span>` : ""}</div>`,
  ).join("");
  renderSettled(r.settled);
  renderWeeks(r.weeks);
  renderTables(r);
  renderCases("overdue-list", r.overdue, (c) => t("db.pastdue", { h: c.hours_past_due }));
  renderCases("escalated-list", r.escalated, (c) => t("db.escalations", { n: c.escalations }));
  renderStaffing(r.staffing, r.coverage);
  renderLegend();
}

function chart(id) {
  if (!state.charts[id]) {
    const el = document.getElementById(id);
    state.charts[id] = echarts.init(el, null, { renderer: "canvas" });
    if (window.ResizeObserver) new ResizeObserver(() => state.charts[id].resize()).observe(el);
  }
  return state.charts[id];
}

// ECharts' own tooltips put style attributes in their HTML, which the page's CSP refuses: plain text instead
const tooltip = (format) => ({ trigger: "axis", formatter: (items) => format(items).map(esc).join("<br>") });

function renderSettled(settled) {
  const note = document.getElementById("settled-note");
  note.textContent = settled.total
    ? t("db.settled.note", { share: percent(settled.shares.grid), target: percent(settled.grid_target), total: number(settled.total),
        verdict: t(settled.grid_target_met ? "db.settled.met" : "db.settled.missed") })
    : t("db.settled.none");
  note.className = `hint ${settled.grid_target_met === false ? "warn" : ""}`;
  const names = LEVELS.slice().reverse().map(levelName);
  chart("chart-settled").setOption({
    animation: false,
    grid: { left: 56, right: 40, top: 26, bottom: 28 },
    tooltip: tooltip((items) => items.map((i) => `${i.name}: ${percent(i.value / 100)} (${number(settled.counts[LEVELS[3 - i.dataIndex]])})`)),
    xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
    yAxis: { type: "category", data: names },
    series: [{
      type: "bar", barWidth: "55%",
      data: LEVELS.slice().reverse().map((lv) => ({ value: settled.shares[lv] == null ? 0 : +(settled.shares[lv] * 100).toFixed(1),
        itemStyle: { color: lv === "grid" ? (settled.grid_target_met === false ? "#d9822b" : "#2e7d32") : "#5b7db1" } })),
      label: { show: true, position: "right", formatter: (p) => `${p.value}%` },
      markLine: { symbol: "none", lineStyle: { color: "#c62828", type: "dashed" }, label: { formatter: `${t("db.target")} ${percent(settled.grid_target)}` },
        data: [{ xAxis: +(settled.grid_target * 100).toFixed(1) }] },
    }],
  }, true);
}

function renderWeeks(weeks) {
  const keys = ["reported", "completed", "on_time", "escalated"];
  const colours = ["#5b7db1", "#2e7d32", "#91cf60", "#d9822b"];
  chart("chart-weeks").setOption({
    animation: false,
    color: colours,
    legend: { data: keys.map((k) => t(`kpi.${k}`)), top: 0 },
    grid: { left: 44, right: 12, top: 34, bottom: 28 },
    tooltip: tooltip((items) => [`${items[0].axisValue}`, ...items.map((i) => `${i.seriesName}: ${number(i.value)}`)]),
    xAxis: { type: "category", data: weeks.map((w) => w.week.slice(5)) },
    yAxis: { type: "value", minInterval: 1 },
    series: keys.map((k) => ({ name: t(`kpi.${k}`), type: "line", symbolSize: 4, data: weeks.map((w) => w[k]) })),
  }, true);
}

function renderTables(r) {
  const grids = r.grids.slice().sort((a, b) => b.reported - a.reported || a.code.localeCompare(b.code));
  const head = (cols) => `<thead><tr>${cols.map((c) => `<th>${t(c)}</th>`).join("")}</tr></thead>`;
  document.getElementById("grid-table").innerHTML = head(["col.code", "col.name", "col.reported", "col.completed", "col.ontime", "col.overdue"]) +
    `<tbody>${grids.map((g) => `<tr data-code="${esc(g.code)}"><td>${esc(g.code)}</td><td>${esc(g.name)}</td><td class="n">${number(g.reported)}</td>
      <td class="n">${number(g.completed)}</td><td class="n">${percent(g.on_time_rate)}</td><td class="n">${number(g.overdue)}</td></tr>`).join("")}</tbody>`;
  renderChildren(r);
}

// the child areas (streets of a district, communities of a street, grids of a community): one row each,
// sortable by any column (nulls last either way), the choice kept across reports
const CHILD_COLUMNS = [
  { key: "name", label: "col.name", text: true },
  { key: "reported", label: "col.reported", show: number },
  { key: "completed", label: "col.completed", show: number },
  { key: "on_time_rate", label: "col.ontimerate", show: percent },
  { key: "overdue", label: "col.overdue", show: number },
  ...LEVELS.map((lv) => ({ key: `settled_${lv}_share`, label: `col.settled.${lv}`, show: percent })),
];

function sortedChildren(areas) {
  const { key, dir } = state.areaSort;
  const sign = dir === "asc" ? 1 : -1;
  return areas.slice().sort((a, b) => {
    const x = a[key];
    const y = b[key];
    if (x == null || y == null) return x == null && y == null ? a.code.localeCompare(b.code) : x == null ? 1 : -1;
    const order = typeof x === "string" ? x.localeCompare(y, lang === "zh" ? "zh-CN" : "en") : x - y;
    return sign * order || a.code.localeCompare(b.code);
  });
}

function renderChildren(r) {
  const box = document.getElementById("children");
  box.hidden = !r.areas.length;
  const table = document.getElementById("area-table");
  if (!r.areas.length) {
    table.innerHTML = "";
    return;
  }
  document.getElementById("children-title").textContent = t(`db.children.${r.areas[0].level}`);
  const { key, dir } = state.areaSort;
  const heads = CHILD_COLUMNS.map((c) => {
    const sorted = c.key === key ? (dir === "asc" ? "ascending" : "descending") : "none";
    const arrow = c.key === key ? (dir === "asc" ? " ▲" : " ▼") : "";
    return `<th aria-sort="${sorted}"><button type="button" class="sort" data-sort="${c.key}">${t(c.label)}${arrow}</button></th>`;
  });
  const rows = sortedChildren(r.areas).map((a) => `<tr data-code="${esc(a.code)}">${CHILD_COLUMNS.map((c) =>
    c.text ? `<td title="${esc(a.code)}">${esc(a[c.key])}</td>` : `<td class="n" data-key="${c.key}">${c.show(a[c.key])}</td>`).join("")}</tr>`);
  table.innerHTML = `<thead><tr>${heads.join("")}</tr></thead><tbody>${rows.join("")}</tbody>`;
}

document.getElementById("area-table").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-sort]");
  if (!button || !state.report) return;
  const key = button.dataset.sort;
  const text = key === "name";
  state.areaSort = state.areaSort.key === key
    ? { key, dir: state.areaSort.dir === "asc" ? "desc" : "asc" }
    : { key, dir: text ? "asc" : "desc" };
  renderChildren(state.report);
});

function renderCases(id, block, extra) {
  const list = document.getElementById(id);
  const items = block.cases.map((c) => `<li data-id="${c.id}"><span>${esc(t("db.case", { id: c.id, category: c.category, status: t(`state.${c.status}`),
    owner: `${levelName(c.owner_level)} ${c.owner_code}` }))}</span><span class="meta">${esc(extra(c))}</span></li>`);
  const total = id === "overdue-list" ? block.total : block.open;
  if (total > block.cases.length) items.push(`<li class="more">${esc(t("db.more", { n: total - block.cases.length }))}</li>`);
  list.innerHTML = items.length ? items.join("") : `<li class="none">${t("db.none")}</li>`;
}

function renderStaffing(st, cov) {
  const rows = [
    ["st.population", `${number(st.population)} ${t("unit.people")}${st.population_source === "estimated" ? ` ${t("st.estimated")}` : ""}`],
    ["st.norm", t("st.norm.value", { n: st.norm_per_10k })],
    ["st.need", number(st.need)],
    ["st.workers", number(st.workers)],
    ["st.gap", number(st.gap)],
    ["st.per10k", st.per_10k == null ? "—" : st.per_10k.toFixed(1)],
    ["st.stations", number(cov.stations)],
  ];
  const dl = document.getElementById("staffing");
  dl.innerHTML = rows.map(([k, v]) => `<dt>${t(k)}</dt><dd data-key="${k}">${esc(v)}</dd>`).join("") +
    `<dt>${t("st.coverage", { m: cov.minutes })}</dt><dd data-key="st.coverage">${percent(cov.households_share)} (${number(Math.round(cov.households_covered))} / ${number(Math.round(cov.households))})</dd>`;
  dl.querySelector('[data-key="st.gap"]').classList.toggle("warn", st.gap > 0);
}

// ------------------------------------------------------------------ the map

function colourOf(grid) {
  if (ui.mode.value === "on_time") {
    const rate = grid.on_time_rate;
    return rate == null ? null : RAMP.find(([limit]) => rate < limit)[1];
  }
  const top = Math.max(1, ...state.report.grids.map((g) => g.reported));
  if (!grid.reported) return null;
  return VOLUME[Math.min(4, Math.floor((grid.reported / top) * 5))];
}

function renderLegend() {
  const box = document.getElementById("legend");
  if (ui.mode.value === "on_time") {
    box.innerHTML = `<div class="legend">${RAMP.map(([limit], i) => `<div><i class="swatch ramp-${i}"></i>${i * 20}–${Math.min(100, Math.round(limit * 100))}%</div>`).join("")}<div><i class="swatch none"></i>${t("db.nodata")}</div></div>`;
  } else {
    const top = Math.max(1, ...(state.report ? state.report.grids.map((g) => g.reported) : [1]));
    box.innerHTML = `<div class="legend">${VOLUME.map((_, i) => `<div><i class="swatch vol-${i}"></i>${number(Math.ceil((top * i) / 5))}–${number(Math.floor((top * (i + 1)) / 5))}</div>`).join("")}<div><i class="swatch none"></i>0</div></div>`;
  }
}

async function gridShapes(report) {
  const key = `${report.area.level}:${report.area.code}`;
  if (state.shapesFor === key) return state.gridShapes;
  const area = await api(`/api/grids/${encodeURIComponent(report.area.code)}`);
  if (!area.ok) return null;
  let [w, s, e, n] = [180, 90, -180, -90];
  const walk = (c) => (typeof c[0] === "number" ? ([w, s, e, n] = [Math.min(w, c[0]), Math.min(s, c[1]), Math.max(e, c[0]), Math.max(n, c[1])]) : c.forEach(walk));
  walk(area.data.geometry.coordinates);
  const grids = await api(`/api/grids?level=grid&bbox=${[w, s, e, n].join(",")}`);
  if (!grids.ok) return null;
  const wanted = new Set(report.grids.map((g) => g.code));
  state.gridShapes = { type: "FeatureCollection", features: grids.data.features.filter((f) => wanted.has(f.properties.code)), bbox: [w, s, e, n] };
  state.shapesFor = key;
  return state.gridShapes;
}

async function drawChoropleth(fit = false) {
  const report = state.report;
  choropleth.clearLayers();
  if (!report) return;
  const shapes = await gridShapes(report);
  if (!shapes) return;
  const byCode = new Map(report.grids.map((g) => [g.code, g]));
  ctx.geoJSON(shapes, {
    style: (f) => {
      const colour = colourOf(byCode.get(f.properties.code));
      return { color: "#34495e", weight: 1, fillColor: colour || "#bdbdbd", fillOpacity: colour ? 0.7 : 0.25 };
    },
    onEachFeature: (f, layer) => {
      const g = byCode.get(f.properties.code);
      layer.bindTooltip(`${esc(g.name)} (${esc(g.code)})<br>${t("col.reported")} ${number(g.reported)} · ${t("col.ontime")} ${percent(g.on_time_rate)} · ${t("col.overdue")} ${number(g.overdue)}`, { sticky: true });
    },
  }).addTo(choropleth);
  if (fit) {
    const [w, s, e, n] = shapes.bbox;
    map.fitBounds(L.latLngBounds(ctx.toLatLng([w, s]), ctx.toLatLng([e, n])), { padding: [12, 12] });
  }
}

// ------------------------------------------------------------------ downloads and print

async function download(format, section) {
  const params = new URLSearchParams({ level: state.report.area.level, code: state.report.area.code, since: state.report.period.since,
    until: state.report.period.until, format });
  if (section) params.set("section", section);
  const result = await fetchFile(`/api/stats/dashboard/export?${params}`);
  if (!result.ok) return notify(failure(result), "error");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(result.blob);
  link.download = result.name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  notify(t("db.downloaded", { name: result.name }), "ok");
}

async function fetchFile(path) {
  const token = getToken();
  const headers = { "Accept-Language": acceptLanguage() };
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    const response = await fetch(path, { headers });
    if (!response.ok) return { ok: false, status: response.status, data: await response.json().catch(() => null) };
    const disposition = response.headers.get("Content-Disposition") || "";
    const utf8 = /filename\*=UTF-8''([^;]+)/.exec(disposition);
    const plain = /filename="([^"]+)"/.exec(disposition);
    return { ok: true, blob: await response.blob(), name: utf8 ? decodeURIComponent(utf8[1]) : plain ? plain[1] : "dashboard" };
  } catch {
    return { ok: false, status: 0, network: true };
  }
}

// ------------------------------------------------------------------ start

ui.level.addEventListener("change", () => fillAreas());
ui.form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  await show();
  if (!ui.report.hidden) reveal(document.getElementById("kpis"));
});
ui.mode.addEventListener("change", () => {
  renderLegend();
  drawChoropleth();
});
document.getElementById("dl-xlsx").addEventListener("click", () => download("xlsx"));
for (const id of ["dl-csv-summary", "dl-csv-weeks", "dl-csv-grids", "dl-csv-areas"]) {
  const button = document.getElementById(id);
  button.addEventListener("click", () => download("csv", button.dataset.section));
}
document.getElementById("print").addEventListener("click", () => window.print());
window.addEventListener("beforeprint", () => Object.values(state.charts).forEach((c) => c.resize()));
window.addEventListener("afterprint", () => Object.values(state.charts).forEach((c) => c.resize()));
onLanguage(() => {
  applyI18n();
  fillAreas(ui.area.value);
  render();
  drawChoropleth();
});

const asked = new URLSearchParams(location.search);
if (LEVELS.includes(asked.get("level"))) ui.level.value = asked.get("level");
if (asked.get("since")) ui.since.value = asked.get("since");
if (asked.get("until")) ui.until.value = asked.get("until");
applyI18n();
if (await loadAreas()) {
  fillAreas(asked.get("code"));
  if (ui.area.value) await show();
}
document.body.dataset.ready = "true";

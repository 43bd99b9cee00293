// The planner's list of rest stations due for their regular inspection (常态化巡查督导): never visited, or not
// for longer than the service's interval; most overdue first. Shown to planners (and admins) only; a tap pans
// the page's map to the station.

import { addStrings, api, esc, failure, formatTime, onLanguage, t } from "./common.js";

addStrings({
  zh: {
    "insp.title": "驿站巡查逾期",
    "insp.hint": "超过 {days} 天没有巡查（或从未巡查）的驿站，按逾期时间排序。",
    "insp.none": "没有逾期未巡查的驿站。",
    "insp.never": "从未巡查",
    "insp.overdue": "逾期 {days} 天（上次 {when}）",
    "insp.problem": "上次巡查发现问题",
  },
  en: {
    "insp.title": "Station inspections overdue",
    "insp.hint": "Rest stations not inspected for {days} days (or never), most overdue first.",
    "insp.none": "No station is overdue for inspection.",
    "insp.never": "never inspected",
    "insp.overdue": "{days} days overdue (last {when})",
    "insp.problem": "problems found last time",
  },
});

const section = document.getElementById("inspections");
const list = document.getElementById("overdue");
let last = null;

function render() {
  if (!last) return;
  document.getElementById("inspections-hint").textContent = t("insp.hint", { days: last.interval_days });
  list.innerHTML = last.stations.length ? "" : `<li class="meta">${esc(t("insp.none"))}</li>`;
  for (const s of last.stations) {
    const li = document.createElement("li");
    li.dataset.stationId = s.station_id;
    li.tabIndex = 0;
    li.setAttribute("role", "button");
    const when = s.last_inspection_at ? t("insp.overdue", { days: Math.ceil(s.days_overdue), when: formatTime(s.last_inspection_at).slice(0, 10) }) : t("insp.never");
    li.innerHTML = `<span><b>${esc(s.name)}</b>${s.last_ok === false ? ` <span class="badge bad">${esc(t("insp.problem"))}</span>` : ""}</span><span class="meta">${esc(when)}</span>`;
    const show = () => window.gs && window.gs.map && window.gs.map.setView(window.gs.ctx.toLatLng([s.lon, s.lat]), 17);
    li.addEventListener("click", show);
    li.addEventListener("keydown", (ev) => (ev.key === "Enter" || ev.key === " ") && (ev.preventDefault(), show()));
    list.append(li);
  }
}

async function load(whoami) {
  const planner = whoami && ["planner", "admin"].includes(whoami.role);
  section.hidden = !planner;
  if (!planner) return;
  const result = await api("/api/stations/inspections/overdue", { auth: true });
  if (!result.ok) {
    list.innerHTML = `<li class="meta">${esc(failure(result))}</li>`;
    return;
  }
  last = result.data;
  render();
  section.dataset.loaded = "true";
}

document.addEventListener("gs:token", (ev) => load(ev.detail));
onLanguage(render);

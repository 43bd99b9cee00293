// Shared by every page: language (zh-CN default, English switch), the API client, the bearer token,
// the page header and status messages. No network access beyond this service.

const LANG_KEY = "geo-service:lang";
const TOKEN_KEY = "geo-service:token";

const STRINGS = {
  zh: {
    "app.title": "网格化管理地图",
    "nav.home": "首页",
    "nav.planner": "网格规划",
    "nav.stations": "暖心驿站",
    "nav.dispatch": "事件调度",
    "nav.circles": "生活圈",
    "nav.worker": "网格员",
    "nav.dashboard": "驾驶舱",
    "menu": "菜单",
    "lang.switch": "English",
    "token.label": "令牌",
    "token.placeholder": "粘贴 Bearer 令牌（写操作需要）",
    "token.none": "未登录：只能查看",
    "token.role": "角色：{role}（{name}）",
    "token.bad": "令牌无效、已过期或已撤销",
    "token.signout": "退出登录",
    "token.signedout": "已退出登录：令牌已从本页清除。",
    "token.session": "令牌只保存在当前标签页，关闭标签页即清除。",
    "role.admin": "管理员",
    "role.planner": "规划人员",
    "role.dispatcher": "调度员",
    "role.worker": "网格员",
    "demo.note": "演示数据：赫尔辛基 OpenStreetMap（© OpenStreetMap contributors, ODbL）",
    "err.network": "无法连接服务，请检查网络后重试。",
    "err.timeout": "服务响应超时，请稍后重试。",
    "err.unavailable": "该功能在本服务器上尚未提供。",
    "err.auth": "需要有效的令牌：请在页面上方填写有权限的令牌。",
    "err.forbidden": "当前令牌的角色无权执行此操作。",
    "err.notfound": "没有找到要查看的内容，可能已被删除。",
    "err.conflict": "操作与当前状态冲突，请刷新后重试。",
    "err.stale": "其他人已在你之后修改了这条记录，请重新载入后再改。",
    "err.precondition": "缺少版本信息，请重新载入后再保存。",
    "err.invalid": "填写的内容有误，请检查后重试。",
    "err.toolarge": "提交的内容太大。",
    "err.busy": "请求过于频繁，请稍后再试。",
    "err.server": "服务暂时不可用，请稍后再试。",
    "err.generic": "操作没有成功，请稍后重试。",
    "level.district": "区",
    "level.street": "街道",
    "level.community": "社区",
    "level.grid": "网格",
    "unit.min": "分钟",
    "unit.m": "米",
    "unit.km": "公里",
    "unit.km2": "平方公里",
    "close": "关闭",
    "cancel": "取消",
    "confirm": "确定",
    "sheet.toggle": "展开或收起面板",
    "map.zoomin": "放大",
    "map.zoomout": "缩小",
    "err.map": "地图样式加载失败，请检查网络后刷新页面。",
  },
  en: {
    "app.title": "Grid management map",
    "nav.home": "Home",
    "nav.planner": "Grid planner",
    "nav.stations": "Rest stations",
    "nav.dispatch": "Dispatch",
    "nav.circles": "Life circles",
    "nav.worker": "Grid worker",
    "nav.dashboard": "Dashboard",
    "menu": "Menu",
    "lang.switch": "中文",
    "token.label": "Token",
    "token.placeholder": "paste a Bearer token (needed for writes)",
    "token.none": "no token: read only",
    "token.role": "role: {role} ({name})",
    "token.bad": "token unknown, expired or revoked",
    "token.signout": "Sign out",
    "token.signedout": "Signed out: the token is gone from this page.",
    "token.session": "The token is kept in this tab only and cleared when the tab closes.",
    "role.admin": "admin",
    "role.planner": "planner",
    "role.dispatcher": "dispatcher",
    "role.worker": "grid worker",
    "demo.note": "Demo data: Helsinki from OpenStreetMap (© OpenStreetMap contributors, ODbL)",
    "err.network": "Cannot reach the service: check the network and try again.",
    "err.timeout": "The service took too long to answer; please try again.",
    "err.unavailable": "Not available on this server yet.",
    "err.auth": "A valid token is needed: enter one with the right role at the top of the page.",
    "err.forbidden": "This token's role may not do that.",
    "err.notfound": "Not found; it may have been deleted.",
    "err.conflict": "That clashes with the current state; reload and try again.",
    "err.stale": "Someone else changed this record after you opened it; reload before changing it.",
    "err.precondition": "The version you read is missing; reload and save again.",
    "err.invalid": "Some of the input is wrong; check it and try again.",
    "err.toolarge": "What you sent is too large.",
    "err.busy": "Too many requests; please wait a moment.",
    "err.server": "The service is unavailable right now; please try again later.",
    "err.generic": "That did not work; please try again.",
    "level.district": "district",
    "level.street": "street",
    "level.community": "community",
    "level.grid": "grid",
    "unit.min": "min",
    "unit.m": "m",
    "unit.km": "km",
    "unit.km2": "km²",
    "close": "close",
    "cancel": "Cancel",
    "confirm": "OK",
    "sheet.toggle": "expand or collapse the panel",
    "map.zoomin": "Zoom in",
    "map.zoomout": "Zoom out",
    "err.map": "The map style did not load: check the network and reload the page.",
  },
};

function initialLang() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "en" || asked === "zh") {
    localStorage.setItem(LANG_KEY, asked);
    return asked;
  }
  return localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh";
}

export let lang = initialLang();
const listeners = [];

/** Add a page's strings ({zh: {...}, en: {...}}) to the dictionary. */
export function addStrings(strings) {
  for (const code of Object.keys(STRINGS)) Object.assign(STRINGS[code], strings[code] || {});
}

/** The text of `key` in the current language, with {name} placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (vars[name] ?? `{${name}}`));
}

/** Fill every [data-i18n] (text), [data-i18n-placeholder] and [data-i18n-title] under `root`. */
export function applyI18n(root = document) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}

/** Run `fn` now and whenever the language changes (for text the page builds itself). */
export function onLanguage(fn) {
  listeners.push(fn);
}

export function setLang(code) {
  lang = code === "en" ? "en" : "zh";
  localStorage.setItem(LANG_KEY, lang);
  const url = new URL(location.href);
  if (url.searchParams.has("lang")) {
    url.searchParams.set("lang", lang);
    history.replaceState(null, "", url);
  }
  applyI18n();
  for (const fn of listeners) fn(lang);
}

/** Text the API gives in both languages ({zh, en}) in the current one; plain strings as they are. */
export function localText(value, fallback = "") {
  if (value == null) return fallback;
  if (typeof value === "object") return value[lang] || value.zh || value.en || fallback;
  return String(value);
}

/** A localised name: `name_zh`/`name_en` fields, else the fallback. */
export function localName(item, fallback = "") {
  if (!item) return fallback;
  return (lang === "zh" ? item.name_zh : item.name_en) || item.name || fallback;
}

// ---------------------------------------------------------------- token

// The bearer token lives in sessionStorage: this tab only, gone when the tab closes, never written to disk the
// way localStorage is. Copies that older versions of the pages left in localStorage are moved here once.
const legacyToken = localStorage.getItem(TOKEN_KEY);
if (legacyToken !== null) {
  if (!sessionStorage.getItem(TOKEN_KEY) && legacyToken) sessionStorage.setItem(TOKEN_KEY, legacyToken);
  localStorage.removeItem(TOKEN_KEY);
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  const token = (value || "").trim();
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// ---------------------------------------------------------------- API

const REQUEST_TIMEOUT_MS = 45_000;

/** The Accept-Language the service should answer in: the page's language. */
export function acceptLanguage() {
  return lang === "en" ? "en" : "zh-CN";
}

/**
 * Call the service. Resolves to {ok, status, data, etag, missing, network, timeout} and never throws for an
 * HTTP status: pages decide what 404 (missing endpoint), 409 (candidates), 412 (stale version) or 422
 * (problems) mean for them. `missing` is true when the route itself does not exist on this server.
 * Every call says the page's language (Accept-Language), so error bodies carry a `message` in it.
 */
export async function api(path, { method = "GET", body, headers = {}, auth = false, raw = false, timeoutMs = REQUEST_TIMEOUT_MS } = {}) {
  const init = { method, headers: { Accept: "application/json", "Accept-Language": acceptLanguage(), ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const token = getToken();
  if (auth && token) init.headers.Authorization = `Bearer ${token}`;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  let response;
  let text = "";
  try {
    response = await fetch(path, { ...init, signal: controller.signal });
    if (response.status !== 204) text = await response.text();
  } catch {
    return { ok: false, status: 0, data: null, etag: null, missing: false, network: true, timeout: timedOut };
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try {
    data = raw ? text : text ? JSON.parse(text) : null;
  } catch {
    data = null; // not JSON (a proxy's error page): the status alone decides what the user is told
  }
  const missing = response.status === 404 && Boolean(data) && (data.code === "http.not_found" || data.detail === "Not Found");
  return { ok: response.ok, status: response.status, data, etag: response.headers.get("ETag"), missing };
}

/** Whether `text` is in the page's language: for Chinese, it has Chinese characters (older servers and
 * user-facing details that are not yet catalogued answer in English; those are not shown to a zh-CN user). */
export function inPageLanguage(text) {
  return typeof text === "string" && text !== "" && (lang === "en" || /[\u4e00-\u9fff]/.test(text));
}

/** The service's own sentence for a failed call: `message` (in the language asked for), with the `message`
 * of each listed problem of a validation error; "" when the body carries none in the page's language. */
export function messageText(data) {
  if (!data || typeof data !== "object") return "";
  const parts = [];
  if (inPageLanguage(data.message)) parts.push(data.message);
  if (Array.isArray(data.detail)) {
    for (const problem of data.detail) {
      if (problem && inPageLanguage(problem.message) && !parts.includes(problem.message)) parts.push(problem.message);
    }
  }
  return parts.join(" ");
}

/** A user-facing sentence for a failed call: never an HTTP status code, never another language. */
export function failure(result) {
  if (result.network) return t(result.timeout ? "err.timeout" : "err.network");
  if (result.missing) return t("err.unavailable");
  const said = messageText(result.data);
  if (said) return said;
  const status = result.status;
  const key = { 401: "err.auth", 403: "err.forbidden", 404: "err.notfound", 409: "err.conflict", 412: "err.stale",
    413: "err.toolarge", 422: "err.invalid", 428: "err.precondition", 429: "err.busy" }[status];
  if (key) return t(key);
  return t(status >= 500 ? "err.server" : "err.generic");
}

// ---------------------------------------------------------------- page chrome

const PAGES = ["planner", "stations", "dispatch", "circles", "worker", "dashboard"];

/**
 * The header: title, links to the other pages, the language switch and (for pages that write) the token
 * field with "sign out". On a phone the links and the token sit behind a menu button. `page` is the page id.
 */
export function renderHeader(page, { token = false } = {}) {
  const header = document.getElementById("top");
  const links = PAGES.map(
    (id) => `<a href="/app/${id}" data-i18n="nav.${id}" class="${id === page ? "current" : ""}"></a>`,
  ).join("");
  header.innerHTML = `
    <a class="brand" href="/app" data-i18n="app.title"></a>
    <span class="spacer"></span>
    <button id="lang" type="button" class="lang" data-i18n="lang.switch"></button>
    <button id="menu" type="button" class="menu-toggle" aria-expanded="false" aria-controls="top-menu" data-i18n-title="menu"><i class="fa-solid fa-bars"></i><span class="sr-only" data-i18n="menu"></span></button>
    <div id="top-menu" class="top-menu">
      <nav>${links}</nav>
      ${token ? `<form class="token" id="token-form"><label for="token" data-i18n="token.label"></label>
        <input id="token" type="password" autocomplete="off" spellcheck="false" data-i18n-placeholder="token.placeholder" data-i18n-title="token.session">
        <button id="sign-out" type="button" class="signout" hidden><i class="fa-solid fa-right-from-bracket"></i> <span data-i18n="token.signout"></span></button>
        <span id="token-status" class="token-status" role="status"></span></form>` : ""}
    </div>`;
  header.querySelector("#lang").addEventListener("click", () => setLang(lang === "zh" ? "en" : "zh"));
  const menu = header.querySelector("#menu");
  menu.addEventListener("click", () => {
    const open = !header.classList.contains("open");
    header.classList.toggle("open", open);
    menu.setAttribute("aria-expanded", String(open));
  });
  applyI18n();
  if (token) initTokenField();
}

let whoami = null;

/** The role behind the stored token ({role, name}), or null. */
export function currentRole() {
  return whoami;
}

async function checkToken() {
  const status = document.getElementById("token-status");
  document.getElementById("sign-out").hidden = !getToken();
  whoami = null;
  if (!getToken()) {
    status.textContent = t("token.none");
    status.className = "token-status";
    document.dispatchEvent(new CustomEvent("gs:token", { detail: null }));
    return;
  }
  const result = await api("/api/auth/whoami", { auth: true });
  if (result.ok) {
    whoami = result.data;
    const role = t(`role.${result.data.role}`) === `role.${result.data.role}` ? result.data.role : t(`role.${result.data.role}`);
    status.textContent = t("token.role", { role, name: result.data.name || "" });
    status.className = "token-status ok";
  } else {
    status.textContent = result.status === 401 ? t("token.bad") : failure(result);
    status.className = "token-status bad";
  }
  document.dispatchEvent(new CustomEvent("gs:token", { detail: whoami }));
}

function initTokenField() {
  const input = document.getElementById("token");
  document.getElementById("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    input.dispatchEvent(new Event("change"));
  });
  input.value = getToken();
  input.addEventListener("change", () => {
    setToken(input.value);
    checkToken();
  });
  document.getElementById("sign-out").addEventListener("click", () => {
    setToken("");
    input.value = "";
    checkToken();
    notify(t("token.signedout"), "info");
  });
  onLanguage(checkToken);
  checkToken();
}

/**
 * A modal confirmation (a <dialog>): resolves true when the user confirms. `danger` styles the confirm button
 * for destructive actions. Text is set as text, never as HTML.
 */
export function confirmDialog({ title, body, confirm = t("confirm"), danger = false }) {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.className = "confirm";
    dialog.innerHTML = `<form method="dialog"><h2></h2><p></p><div class="row end">
      <button class="btn" value="cancel" type="submit"></button>
      <button class="btn ${danger ? "danger-solid" : "primary"}" value="confirm" type="submit"></button></div></form>`;
    dialog.querySelector("h2").textContent = title;
    dialog.querySelector("p").textContent = body;
    const [no, yes] = dialog.querySelectorAll("button");
    no.textContent = t("cancel");
    yes.textContent = confirm;
    no.dataset.answer = "cancel";
    yes.dataset.answer = "confirm";
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}

/**
 * On a phone the side panel is a bottom sheet under the map: a handle to tap (half ↔ full, peek → half) or
 * drag; the map keeps the rest of the screen and follows the sheet's height.
 */
export function initSheet(panel) {
  if (!panel) return;
  panel.classList.add("sheet");
  const handle = document.createElement("button");
  handle.type = "button";
  handle.className = "sheet-handle";
  handle.setAttribute("aria-expanded", "false");
  handle.dataset.i18nTitle = "sheet.toggle";
  handle.title = t("sheet.toggle");
  handle.innerHTML = `<span class="grip"></span>`;
  panel.prepend(handle);
  const states = ["peek", "half", "full"];
  let state = "half";
  const setState = (next) => {
    state = next;
    for (const s of states) panel.classList.toggle(`sheet-${s}`, s === state);
    panel.style.height = "";
    handle.setAttribute("aria-expanded", String(state === "full"));
    panel.dataset.sheet = state;
  };
  setState("half");
  let drag = null;
  handle.addEventListener("pointerdown", (ev) => {
    drag = { y: ev.clientY, height: panel.getBoundingClientRect().height, moved: false };
    handle.setPointerCapture(ev.pointerId);
  });
  handle.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const dy = drag.y - ev.clientY;
    if (Math.abs(dy) > 6) drag.moved = true;
    if (drag.moved) panel.style.height = `${Math.max(56, Math.min(window.innerHeight * 0.88, drag.height + dy))}px`;
  });
  const release = () => {
    if (!drag) return;
    const moved = drag.moved;
    drag = null;
    if (!moved) return;
    const share = panel.getBoundingClientRect().height / window.innerHeight;
    setState(share < 0.25 ? "peek" : share < 0.62 ? "half" : "full");
  };
  handle.addEventListener("pointerup", release);
  handle.addEventListener("pointercancel", release);
  handle.addEventListener("click", () => {
    if (handle.dataset.dragged === "true") return;
    setState(state === "half" ? "full" : "half");
  });
  // a drag ends with a click event too: only a tap toggles
  handle.addEventListener("pointerdown", () => (handle.dataset.dragged = "false"));
  handle.addEventListener("pointermove", () => drag && drag.moved && (handle.dataset.dragged = "true"));
  return { setState, get state() { return state; } };
}

/** Bring `element` into view inside its scrolling panel (the sheet on a phone). */
export function reveal(element, block = "start") {
  if (element) element.scrollIntoView({ block, behavior: "smooth" });
}

/** Show a message in the page's status area; kind is info, ok, warn or error. */
export function notify(text, kind = "info", target = "status") {
  const box = document.getElementById(target);
  if (!box) return;
  box.textContent = text;
  box.className = `status ${kind}`;
  box.hidden = !text;
}

/** Escape text for innerHTML. */
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** Whole minutes for display (at least 1 for anything above zero). */
export function minutes(seconds) {
  return Math.max(seconds > 0 ? 1 : 0, Math.round(seconds / 60));
}

/** Metres or kilometres with a unit. */
export function distance(metres) {
  return metres >= 1000 ? `${(metres / 1000).toFixed(1)} ${t("unit.km")}` : `${Math.round(metres)} ${t("unit.m")}`;
}

/** "YYYY-MM-DD HH:mm" of an ISO 8601 instant, in the browser's time zone ("" for none). */
export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
      .formatToParts(date).map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

/** Call `fn` once `ms` after the last call. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

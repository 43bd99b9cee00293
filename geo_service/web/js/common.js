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
    "lang.switch": "English",
    "token.label": "令牌",
    "token.placeholder": "粘贴 Bearer 令牌（写操作需要）",
    "token.none": "未登录：只能查看",
    "token.role": "角色：{role}（{name}）",
    "token.bad": "令牌无效或已撤销",
    "token.show": "显示",
    "token.hide": "隐藏",
    "demo.note": "演示数据：赫尔辛基 OpenStreetMap（© OpenStreetMap contributors, ODbL）",
    "err.network": "无法连接服务：{detail}",
    "err.unavailable": "该功能在本服务器上尚未提供（{path} 返回 404）",
    "err.http": "请求失败（{status}）：{detail}",
    "err.auth": "需要有效令牌（{status}）：{detail}",
    "level.district": "区",
    "level.street": "街道",
    "level.community": "社区",
    "level.grid": "网格",
    "unit.min": "分钟",
    "unit.m": "米",
    "unit.km2": "平方公里",
    "close": "关闭",
  },
  en: {
    "app.title": "Grid management map",
    "nav.home": "Home",
    "nav.planner": "Grid planner",
    "nav.stations": "Rest stations",
    "nav.dispatch": "Dispatch",
    "nav.circles": "Life circles",
    "lang.switch": "中文",
    "token.label": "Token",
    "token.placeholder": "paste a Bearer token (needed for writes)",
    "token.none": "no token: read only",
    "token.role": "role: {role} ({name})",
    "token.bad": "token unknown or revoked",
    "token.show": "show",
    "token.hide": "hide",
    "demo.note": "Demo data: Helsinki from OpenStreetMap (© OpenStreetMap contributors, ODbL)",
    "err.network": "cannot reach the service: {detail}",
    "err.unavailable": "not available on this server yet ({path} answered 404)",
    "err.http": "request failed ({status}): {detail}",
    "err.auth": "a valid token is needed ({status}): {detail}",
    "level.district": "district",
    "level.street": "street",
    "level.community": "community",
    "level.grid": "grid",
    "unit.min": "min",
    "unit.m": "m",
    "unit.km2": "km²",
    "close": "close",
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

export function getToken() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value.trim());
  else localStorage.removeItem(TOKEN_KEY);
}

// ---------------------------------------------------------------- API

/** Text of an error body: FastAPI's {"detail": ...} (a string, a list of problems, or validation errors). */
export function detailText(data) {
  if (data == null) return "";
  const detail = typeof data === "object" && "detail" in data ? data.detail : data;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => d.message || d.msg || JSON.stringify(d)).join("; ");
  return JSON.stringify(detail);
}

/**
 * Call the service. Resolves to {ok, status, data, etag, missing} and never throws for an HTTP status:
 * pages decide what 404 (missing endpoint), 412 (stale version) or 422 (problems) mean for them.
 * `missing` is true when the route itself does not exist on this server (404 with FastAPI's "Not Found").
 */
export async function api(path, { method = "GET", body, headers = {}, auth = false, raw = false } = {}) {
  // messages in error bodies (grid problems, validation) come in the page's language, not the browser's
  const language = lang === "zh" ? "zh-CN" : "en";
  const init = { method, headers: { Accept: "application/json", "Accept-Language": language, ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const token = getToken();
  if (auth && token) init.headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, init);
  } catch (exc) {
    return { ok: false, status: 0, data: { detail: String(exc) }, etag: null, missing: false, network: true };
  }
  let data = null;
  if (response.status !== 204) {
    const text = await response.text();
    try {
      data = raw ? text : text ? JSON.parse(text) : null;
    } catch {
      data = { detail: text };
    }
  }
  const missing = response.status === 404 && data && data.detail === "Not Found";
  return { ok: response.ok, status: response.status, data, etag: response.headers.get("ETag"), missing };
}

/** A user-facing sentence for a failed call. */
export function failure(result, path = "") {
  if (result.network) return t("err.network", { detail: detailText(result.data) });
  if (result.missing) return t("err.unavailable", { path: path.split("?")[0] });
  if (result.status === 401 || result.status === 403) {
    return t("err.auth", { status: result.status, detail: detailText(result.data) });
  }
  return t("err.http", { status: result.status, detail: detailText(result.data) });
}

// ---------------------------------------------------------------- page chrome

const PAGES = ["planner", "stations", "dispatch", "circles"];

/**
 * The header: title, links to the other pages, the language switch and (for pages that write) the token
 * field. `page` is the current page id.
 */
export function renderHeader(page, { token = false } = {}) {
  const header = document.getElementById("top");
  const links = PAGES.map(
    (id) => `<a href="/app/${id}" data-i18n="nav.${id}" class="${id === page ? "current" : ""}"></a>`,
  ).join("");
  header.innerHTML = `
    <a class="brand" href="/app" data-i18n="app.title"></a>
    <nav>${links}</nav>
    <span class="spacer"></span>
    ${token ? `<form class="token" id="token-form"><label for="token" data-i18n="token.label"></label>
      <input id="token" type="password" autocomplete="off" spellcheck="false" data-i18n-placeholder="token.placeholder">
      <span id="token-status" class="token-status"></span></form>` : ""}
    <button id="lang" type="button" class="lang" data-i18n="lang.switch"></button>`;
  header.querySelector("#lang").addEventListener("click", () => setLang(lang === "zh" ? "en" : "zh"));
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
  whoami = null;
  if (!getToken()) {
    status.textContent = t("token.none");
    status.className = "token-status";
    return;
  }
  const result = await api("/api/auth/whoami", { auth: true });
  if (result.ok) {
    whoami = result.data;
    status.textContent = t("token.role", { role: result.data.role, name: result.data.name || "" });
    status.className = "token-status ok";
  } else {
    status.textContent = t("token.bad");
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
  onLanguage(checkToken);
  checkToken();
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
  return metres >= 1000 ? `${(metres / 1000).toFixed(1)} km` : `${Math.round(metres)} ${t("unit.m")}`;
}

/** Call `fn` once `ms` after the last call. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// What the dispatch and worker pages share about the 12345 loop: photo uploads (multipart, with the token),
// photos shown from the API (fetched with the token, drawn from blob: URLs under the strict policy), and the
// words for callbacks and satisfaction.

import { acceptLanguage, addStrings, getToken, t } from "./common.js";

addStrings({
  zh: {
    "sat.satisfied": "满意", "sat.basically_satisfied": "基本满意", "sat.unsatisfied": "不满意",
    "photo.none": "没有照片",
    "photo.alt": "事件 #{id} 的照片",
    "photo.stage.report": "上报", "photo.stage.resolution": "处置后", "photo.stage.inspection": "巡查",
  },
  en: {
    "sat.satisfied": "satisfied", "sat.basically_satisfied": "basically satisfied", "sat.unsatisfied": "unsatisfied",
    "photo.none": "no photos",
    "photo.alt": "photo of incident #{id}",
    "photo.stage.report": "report", "photo.stage.resolution": "after", "photo.stage.inspection": "inspection",
  },
});

const UPLOAD_TIMEOUT_MS = 120_000;

/**
 * POST a multipart form (a photo and its fields) with the token. Resolves like `api()`:
 * {ok, status, data, network}; never throws for an HTTP status or a lost network.
 */
export async function postForm(path, form) {
  const headers = { Accept: "application/json", "Accept-Language": acceptLanguage() };
  if (getToken()) headers.Authorization = `Bearer ${getToken()}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), UPLOAD_TIMEOUT_MS);
  try {
    const response = await fetch(path, { method: "POST", body: form, headers, signal: controller.signal });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    return { ok: response.ok, status: response.status, data, missing: false };
  } catch {
    return { ok: false, status: 0, data: null, network: true, missing: false };
  } finally {
    clearTimeout(timer);
  }
}

/** Upload one photo of an incident (`stage`: report or resolution). */
export function uploadPhoto(incidentId, blob, stage = "report", name = "photo.jpg") {
  const form = new FormData();
  form.append("file", blob, name);
  form.append("stage", stage);
  return postForm(`/api/incidents/${incidentId}/media`, form);
}

const objectUrls = new Map();

/** A blob: URL for a photo the API serves behind the token (cached for the page's life). */
export async function photoUrl(url) {
  if (objectUrls.has(url)) return objectUrls.get(url);
  const response = await fetch(url, { headers: { Authorization: `Bearer ${getToken()}` } });
  if (!response.ok) return null;
  const blobUrl = URL.createObjectURL(await response.blob());
  objectUrls.set(url, blobUrl);
  return blobUrl;
}

/**
 * Fill `container` with the thumbnails of incident `id` (each a link-like button opening the full photo in
 * `viewer`, when given). Resolves to the number of photos shown.
 */
export async function showPhotos(container, id, media) {
  container.innerHTML = "";
  if (!media.length) {
    container.innerHTML = `<span class="meta">${t("photo.none")}</span>`;
    return 0;
  }
  for (const photo of media) {
    const src = await photoUrl(photo.thumbnail_url);
    if (!src) continue;
    const figure = document.createElement("figure");
    figure.className = "photo";
    figure.dataset.mediaId = photo.id;
    const img = document.createElement("img");
    img.src = src;
    img.alt = t("photo.alt", { id });
    img.width = 96;
    img.height = 96;
    const caption = document.createElement("figcaption");
    caption.textContent = t(`photo.stage.${photo.stage}`);
    figure.append(img, caption);
    container.append(figure);
  }
  return media.length;
}

/** The caller's satisfaction in words. */
export function satisfactionLabel(value) {
  return value ? t(`sat.${value}`) : "";
}

/** A client-generated id for a queued report: the same report sent twice is filed once. */
export function newClientId() {
  if (window.crypto && crypto.randomUUID) return `phone-${crypto.randomUUID()}`;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `phone-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

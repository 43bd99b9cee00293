// "Navigate with AMap / Baidu Maps" links: the phone's map app (or its web page) takes over the walk.
// AMap wants GCJ-02 and Baidu BD-09 coordinates; the API speaks WGS-84, so positions are converted here.

import { wgs84ToBd09, wgs84ToGcj02 } from "./gcj02.js";

const AMAP = "https://uri.amap.com/navigation";
const BAIDU = "https://api.map.baidu.com/direction";
const SOURCE = "geo-service";
const fixed = (v) => v.toFixed(6);

/** AMap walking navigation from `from` to `to` (WGS-84 [lon, lat]); `from` may be null (the app locates). */
export function amapWalkUrl(to, name, from = null, fromName = "") {
  const [tl, tb] = wgs84ToGcj02(to[0], to[1]);
  const params = new URLSearchParams({ to: `${fixed(tl)},${fixed(tb)},${name}`, mode: "walk", src: SOURCE, coordinate: "gaode", callnative: "1" });
  if (from) {
    const [fl, fb] = wgs84ToGcj02(from[0], from[1]);
    params.set("from", `${fixed(fl)},${fixed(fb)},${fromName}`);
  }
  return `${AMAP}?${params}`;
}

/** Baidu Maps walking directions from `from` to `to` (WGS-84 [lon, lat]), coordinates in BD-09. */
export function baiduWalkUrl(to, name, from, fromName = "") {
  const [tl, tb] = wgs84ToBd09(to[0], to[1]);
  const [fl, fb] = wgs84ToBd09(from[0], from[1]);
  const params = new URLSearchParams({
    origin: `latlng:${fixed(fb)},${fixed(fl)}|name:${fromName}`,
    destination: `latlng:${fixed(tb)},${fixed(tl)}|name:${name}`,
    mode: "walking", coord_type: "bd09ll", output: "html", src: SOURCE,
  });
  return `${BAIDU}?${params}`;
}

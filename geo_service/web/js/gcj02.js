// WGS-84 ⇄ GCJ-02 (AMap, Tencent) and → BD-09 (Baidu) in the browser: the same published forward formula as the server
// (geo_service/coords.py) and the same fixed-point inverse, so a click converted back lands within 1e-9°
// of the point the service means. Longitude first, degrees, everywhere.

const A = 6378245.0; // Krasovsky 1940 semi-major axis (m), as the GCJ-02 offset formula uses it
const EE = 0.00669342162296594323;
// Outside this box AMap/Tencent apply no offset: GCJ-02 = WGS-84 there.
const BOX = [72.004, 0.8293, 137.8347, 55.8271];
const TOLERANCE_DEG = 1e-11;
const MAX_ITERATIONS = 30;

function inBox(lon, lat) {
  return lon >= BOX[0] && lon <= BOX[2] && lat >= BOX[1] && lat <= BOX[3];
}

/** GCJ-02 minus WGS-84 in degrees at a WGS-84 position ([0, 0] outside the box). */
function offset(lon, lat) {
  if (!inBox(lon, lat)) return [0, 0];
  const x = lon - 105.0;
  const y = lat - 35.0;
  const sqrtAbsX = Math.sqrt(Math.abs(x));
  const pi = Math.PI;
  const dlatM =
    -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrtAbsX +
    ((20.0 * Math.sin(6.0 * x * pi) + 20.0 * Math.sin(2.0 * x * pi)) * 2.0) / 3.0 +
    ((20.0 * Math.sin(y * pi) + 40.0 * Math.sin((y / 3.0) * pi)) * 2.0) / 3.0 +
    ((160.0 * Math.sin((y / 12.0) * pi) + 320.0 * Math.sin((y * pi) / 30.0)) * 2.0) / 3.0;
  const dlonM =
    300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrtAbsX +
    ((20.0 * Math.sin(6.0 * x * pi) + 20.0 * Math.sin(2.0 * x * pi)) * 2.0) / 3.0 +
    ((20.0 * Math.sin(x * pi) + 40.0 * Math.sin((x / 3.0) * pi)) * 2.0) / 3.0 +
    ((150.0 * Math.sin((x / 12.0) * pi) + 300.0 * Math.sin((x / 30.0) * pi)) * 2.0) / 3.0;
  const radLat = (lat * pi) / 180.0;
  const magic = 1.0 - EE * Math.sin(radLat) ** 2;
  const sqrtMagic = Math.sqrt(magic);
  const dlat = (dlatM * 180.0) / (((A * (1.0 - EE)) / (magic * sqrtMagic)) * pi);
  const dlon = (dlonM * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * pi);
  return [dlon, dlat];
}

/** WGS-84 → GCJ-02, [lon, lat] in degrees. */
export function wgs84ToGcj02(lon, lat) {
  const [dlon, dlat] = offset(lon, lat);
  return [lon + dlon, lat + dlat];
}

/** GCJ-02 → WGS-84 by fixed-point iteration on the forward formula (round trip < 1e-9°). */
export function gcj02ToWgs84(lon, lat) {
  let x = lon;
  let y = lat;
  for (let i = 0; i < MAX_ITERATIONS; i += 1) {
    const [fx, fy] = wgs84ToGcj02(x, y);
    const ex = fx - lon;
    const ey = fy - lat;
    x -= ex;
    y -= ey;
    if (Math.max(Math.abs(ex), Math.abs(ey)) < TOLERANCE_DEG) break;
  }
  return [x, y];
}

const BD_X_PI = (Math.PI * 3000.0) / 180.0;
const BD_DLON = 0.0065;
const BD_DLAT = 0.006;

/** GCJ-02 → BD-09, [lon, lat] in degrees (Baidu's published formula, as geo_service.coords). */
export function gcj02ToBd09(lon, lat) {
  const z = Math.sqrt(lon * lon + lat * lat) + 0.00002 * Math.sin(lat * BD_X_PI);
  const theta = Math.atan2(lat, lon) + 0.000003 * Math.cos(lon * BD_X_PI);
  return [z * Math.cos(theta) + BD_DLON, z * Math.sin(theta) + BD_DLAT];
}

/** WGS-84 → BD-09 (through GCJ-02), [lon, lat] in degrees. */
export function wgs84ToBd09(lon, lat) {
  return gcj02ToBd09(...wgs84ToGcj02(lon, lat));
}

/** A copy of a GeoJSON geometry (or Feature / FeatureCollection) with every position mapped by `fn(lon, lat)`. */
export function mapPositions(geojson, fn) {
  if (geojson == null) return geojson;
  const coords = (c) => (typeof c[0] === "number" ? [...fn(c[0], c[1]), ...c.slice(2)] : c.map(coords));
  switch (geojson.type) {
    case "FeatureCollection":
      return { ...geojson, features: geojson.features.map((f) => mapPositions(f, fn)) };
    case "Feature":
      return { ...geojson, geometry: mapPositions(geojson.geometry, fn) };
    case "GeometryCollection":
      return { ...geojson, geometries: geojson.geometries.map((g) => mapPositions(g, fn)) };
    default:
      return { ...geojson, coordinates: coords(geojson.coordinates) };
  }
}

/**
 * The coordinate frame of a map: `toMap` takes WGS-84 (what the API speaks) to what the basemap is drawn in,
 * `fromMap` takes a map position (a click, a drawn vertex) back to WGS-84. Identity unless `crs` is gcj02.
 */
export function frameFor(crs) {
  const shifted = crs === "gcj02";
  const same = (lon, lat) => [lon, lat];
  const toMap = shifted ? wgs84ToGcj02 : same;
  const fromMap = shifted ? gcj02ToWgs84 : same;
  return {
    crs: shifted ? "gcj02" : "wgs84",
    toMap,
    fromMap,
    toMapGeoJSON: (g) => (shifted ? mapPositions(g, toMap) : g),
    fromMapGeoJSON: (g) => (shifted ? mapPositions(g, fromMap) : g),
  };
}

// Polygon editing helpers for the planner, on plain GeoJSON coordinates ([lon, lat], any planar frame).
// The split keeps the crossing points and the cut line's vertices exactly, so both pieces share their new
// edge vertex for vertex (the server's overlap/gap checks then see no sliver between them).

const EPS = 1e-12;

/** Where segments a→b and c→d cross: {t (along a→b), u (along c→d), point} or null (parallel or apart). */
function crossing(a, b, c, d) {
  const rx = b[0] - a[0];
  const ry = b[1] - a[1];
  const sx = d[0] - c[0];
  const sy = d[1] - c[1];
  const denom = rx * sy - ry * sx;
  if (Math.abs(denom) < EPS * EPS) return null;
  const qx = c[0] - a[0];
  const qy = c[1] - a[1];
  const t = (qx * sy - qy * sx) / denom;
  const u = (qx * ry - qy * rx) / denom;
  if (t < -EPS || t > 1 + EPS || u < -EPS || u > 1 + EPS) return null;
  return { t: Math.min(1, Math.max(0, t)), u: Math.min(1, Math.max(0, u)), point: [a[0] + t * rx, a[1] + t * ry] };
}

const same = (p, q) => Math.abs(p[0] - q[0]) < 1e-12 && Math.abs(p[1] - q[1]) < 1e-12;

function open(ring) {
  return same(ring[0], ring[ring.length - 1]) ? ring.slice(0, -1) : ring.slice();
}

function pointInRing(point, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > point[1] !== yj > point[1] && point[0] < ((xj - xi) * (point[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Vertices of the open ring strictly after ring position `from` up to and including position `to` (wrapping). */
function ringPath(ring, from, to) {
  const n = ring.length;
  const out = [];
  let k = Math.floor(from.pos) + 1;
  const last = from.pos < to.pos ? Math.floor(to.pos) : Math.floor(to.pos) + n;
  for (; k <= last; k += 1) out.push(ring[k % n]);
  return out;
}

function dedupe(points) {
  const out = [];
  for (const p of points) if (!out.length || !same(out[out.length - 1], p)) out.push(p);
  if (out.length > 1 && same(out[0], out[out.length - 1])) out.pop();
  return out;
}

export class SplitError extends Error {
  constructor(reason, count) {
    super(reason);
    this.reason = reason; // "crossings" | "hole"
    this.count = count;
  }
}

/**
 * Split a Polygon's coordinates (outer ring + holes) by a LineString's coordinates that crosses the outer ring
 * exactly twice. Returns [polygonA, polygonB] (coordinates arrays, rings closed). Holes go to the piece that
 * holds them. Throws SplitError when the line does not cross exactly twice or cuts through a hole.
 */
export function splitPolygon(polygon, line) {
  const ring = open(polygon[0]);
  const holes = polygon.slice(1);
  const hits = [];
  for (let j = 0; j < line.length - 1; j += 1) {
    for (let i = 0; i < ring.length; i += 1) {
      const hit = crossing(ring[i], ring[(i + 1) % ring.length], line[j], line[j + 1]);
      if (hit) hits.push({ pos: i + hit.t, along: j + hit.u, seg: j, point: hit.point });
    }
  }
  hits.sort((a, b) => a.along - b.along);
  const unique = [];
  for (const h of hits) if (!unique.some((u) => same(u.point, h.point))) unique.push(h);
  if (unique.length !== 2) throw new SplitError("crossings", unique.length);
  const [first, second] = unique;
  for (const hole of holes) {
    for (let j = 0; j < line.length - 1; j += 1) {
      for (let i = 0; i < hole.length - 1; i += 1) {
        if (crossing(hole[i], hole[i + 1], line[j], line[j + 1])) throw new SplitError("hole", 2);
      }
    }
  }
  // the cut: first crossing, the line's own vertices in between, second crossing
  const cut = [first.point, ...line.slice(first.seg + 1, second.seg + 1), second.point];
  const a = dedupe([...cut, ...ringPath(ring, second, first)]);
  const b = dedupe([...cut.slice().reverse(), ...ringPath(ring, first, second)]);
  const close = (r) => [...r, r[0]];
  const pieces = [[close(a)], [close(b)]];
  for (const hole of holes) {
    const target = pointInRing(hole[0], a) ? pieces[0] : pieces[1];
    target.push(hole);
  }
  return pieces;
}

/**
 * Split a GeoJSON Polygon or MultiPolygon geometry by a line. The part the line crosses is split; other parts
 * of a MultiPolygon stay with the first piece. Returns [geometryA, geometryB] (MultiPolygon when needed).
 */
export function splitGeometry(geometry, line) {
  const parts = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  let split = null;
  let index = -1;
  let lastError = null;
  for (let k = 0; k < parts.length && !split; k += 1) {
    try {
      split = splitPolygon(parts[k], line);
      index = k;
    } catch (exc) {
      if (!(exc instanceof SplitError)) throw exc;
      if (!lastError || exc.count > lastError.count) lastError = exc;
    }
  }
  if (!split) throw lastError || new SplitError("crossings", 0);
  const others = parts.filter((_, k) => k !== index);
  const asGeometry = (polys) => (polys.length === 1 ? { type: "Polygon", coordinates: polys[0] } : { type: "MultiPolygon", coordinates: polys });
  return [asGeometry([split[0], ...others]), asGeometry([split[1]])];
}

/** The number of separate polygons in a Polygon/MultiPolygon geometry. */
export function partCount(geometry) {
  if (!geometry) return 0;
  return geometry.type === "Polygon" ? 1 : geometry.coordinates.length;
}

const WGS84_A = 6378137.0;
const WGS84_E2 = 0.00669437999014;

/** [metres per degree of longitude, per degree of latitude] at `lat` on the WGS-84 ellipsoid. */
export function metresPerDegree(lat) {
  const phi = (lat * Math.PI) / 180;
  const w = Math.sqrt(1 - WGS84_E2 * Math.sin(phi) ** 2);
  const rad = Math.PI / 180;
  return [rad * (WGS84_A / w) * Math.cos(phi), rad * ((WGS84_A * (1 - WGS84_E2)) / w ** 3)];
}

function segmentDistance(p, a, b) {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  const t = len2 ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2)) : 0;
  return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
}

/**
 * Metres from a WGS-84 point [lon, lat] to a Polygon/MultiPolygon geometry: 0 inside (holes excluded),
 * else to the nearest edge. Planar around the point (ample for the tens of metres a boundary check needs).
 */
export function distanceToGeometryM(point, geometry) {
  const [kx, ky] = metresPerDegree(point[1]);
  const local = ([lon, lat]) => [(lon - point[0]) * kx, (lat - point[1]) * ky];
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  let best = Infinity;
  for (const polygon of polygons) {
    const rings = polygon.map((ring) => ring.map(local));
    if (pointInRing([0, 0], rings[0]) && !rings.slice(1).some((hole) => pointInRing([0, 0], hole))) return 0;
    for (const ring of rings) {
      for (let i = 0; i < ring.length - 1; i += 1) best = Math.min(best, segmentDistance([0, 0], ring[i], ring[i + 1]));
    }
  }
  return best;
}

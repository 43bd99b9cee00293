// The map every page uses: Leaflet (drawing, editing, page-drawn GeoJSON) over a MapLibre GL layer that
// renders the service's own style (/tiles/style.json: our vector basemap and overlays, nothing from outside).
// Positions handed to and taken from this module are WGS-84 [lon, lat]; over an AMap basemap (GCJ-02) the
// frame shifts what the page draws and converts clicks back (see gcj02.js).

import { frameFor } from "./gcj02.js";
import { acceptLanguage, lang, notify, onLanguage, t } from "./common.js";

/**
 * Build the map in `container`.
 * `overlays`: ids of the style's overlays to show at start (others are hidden; the layer control toggles them);
 * `zoomOffset`: zoom in (or out) from the data's bounds; `layerControl`: show the overlay check boxes.
 * Resolves to {map, gl, style, frame, toLatLng, toLonLat, geoJSON, refreshSource, setOverlay, whenStyled}.
 */
export async function createMap(container, { overlays = null, zoomOffset = 0, layerControl = true } = {}) {
  const params = new URLSearchParams(location.search);
  const basemap = params.get("basemap");
  const styleUrl = `/tiles/style.json${basemap ? `?basemap=${encodeURIComponent(basemap)}` : ""}`;
  let style;
  try {
    const response = await fetch(styleUrl, { headers: { "Accept-Language": acceptLanguage() } });
    if (!response.ok) throw new Error(String(response.status));
    style = await response.json();
  } catch (exc) {
    notify(t("err.map"), "error");
    throw exc;
  }
  const meta = style.metadata || {};
  const frame = frameFor(meta["geo-service:crs"]);
  const catalogue = meta["geo-service:overlays"] || [];
  const visible = new Set(overlays ?? catalogue.map((o) => o.id));
  const hiddenLayers = new Set(
    catalogue.filter((o) => !visible.has(o.id)).flatMap((o) => o.style_layers),
  );
  for (const layer of style.layers) {
    if (hiddenLayers.has(layer.id)) layer.layout = { ...(layer.layout || {}), visibility: "none" };
  }

  // A user whose system asks for less motion (prefers-reduced-motion) gets jumps instead of animated pans and
  // zooms, and labels that appear without fading in.
  const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const map = L.map(container, {
    maxZoom: 20,
    minZoom: 4,
    zoomSnap: 0.25,
    zoomDelta: 0.5,
    zoomControl: false,
    zoomAnimation: !still,
    fadeAnimation: !still,
    markerZoomAnimation: !still,
    inertia: !still,
  });
  if (still) {
    // setView is where panTo, fitBounds and setZoom end: none of them animates then
    const setView = map.setView;
    map.setView = (center, zoom, options) => setView.call(map, center, zoom, { ...options, animate: false });
  }
  // Leaflet's zoom buttons say "Zoom in"/"Zoom out": in the page's language instead
  const zoom = L.control.zoom().addTo(map);
  const zoomTitles = () => {
    for (const [selector, key] of [[".leaflet-control-zoom-in", "map.zoomin"], [".leaflet-control-zoom-out", "map.zoomout"]]) {
      const button = zoom.getContainer().querySelector(selector);
      button.title = t(key);
      button.setAttribute("aria-label", t(key));
    }
  };
  zoomTitles();
  onLanguage(zoomTitles);
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("© OpenStreetMap contributors");
  const gl = L.maplibreGL({ style, interactive: false, ...(still ? { fadeDuration: 0 } : {}) }).addTo(map);
  // the map follows its box (a phone's bottom sheet grows and shrinks it), not just the window
  if (window.ResizeObserver) new ResizeObserver(() => map.invalidateSize({ pan: false })).observe(map.getContainer());

  const toLatLng = ([lon, lat]) => {
    const [x, y] = frame.toMap(lon, lat);
    return L.latLng(y, x);
  };
  const toLonLat = (latlng) => frame.fromMap(latlng.lng, latlng.lat);

  const bounds = meta["geo-service:bounds"];
  // #map=zoom/lat/lon (the OpenStreetMap convention, WGS-84) opens a view and follows it: links share a view
  const asked = /^#map=([\d.]+)\/(-?[\d.]+)\/(-?[\d.]+)$/.exec(location.hash);
  if (asked) {
    map.setView(toLatLng([Number(asked[3]), Number(asked[2])]), Number(asked[1]));
  } else if (bounds) {
    map.fitBounds(L.latLngBounds(toLatLng([bounds[0], bounds[1]]), toLatLng([bounds[2], bounds[3]])));
    if (zoomOffset) map.setZoom(map.getZoom() + zoomOffset);
  } else {
    map.setView(toLatLng(style.center || [0, 0]), (style.zoom ?? 2) + 1);
  }

  map.on("moveend", () => {
    const [lon, lat] = toLonLat(map.getCenter());
    history.replaceState(null, "", `#map=${map.getZoom()}/${lat.toFixed(6)}/${lon.toFixed(6)}`);
  });

  const glMap = () => gl.getMaplibreMap();
  /** Resolves once the GL style is loaded (sources can be changed from then on). */
  const whenStyled = () =>
    new Promise((resolve) => {
      const m = glMap();
      if (m && m.isStyleLoaded()) resolve(m);
      else m.once("load", () => resolve(m));
    });

  /** Show or hide one of the style's overlays. */
  function setOverlay(id, show) {
    const entry = catalogue.find((o) => o.id === id);
    if (!entry) return;
    const apply = (m) => {
      for (const layerId of entry.style_layers) {
        if (m.getLayer(layerId)) m.setLayoutProperty(layerId, "visibility", show ? "visible" : "none");
      }
    };
    whenStyled().then(apply);
    if (show) visible.add(id);
    else visible.delete(id);
  }

  /** Fetch the source's TileJSON again: its tile URL carries the new data revision, so edits show now. */
  async function refreshSource(id) {
    const m = await whenStyled();
    const source = m.getSource(id);
    const url = style.sources[id] && style.sources[id].url;
    if (!source || !url) return;
    const tilejson = await (await fetch(url, { cache: "no-cache" })).json();
    source.setTiles(tilejson.tiles);
  }

  /** A Leaflet GeoJSON layer from WGS-84 GeoJSON, drawn in the map's frame. */
  const geoJSON = (geojson, options) => L.geoJSON(frame.toMapGeoJSON(geojson), options);

  if (layerControl && catalogue.length) addLayerControl(map, catalogue, visible, setOverlay);
  return { map, gl, style, frame, toLatLng, toLonLat, geoJSON, refreshSource, setOverlay, whenStyled };
}

/** A small control listing the style's overlays (title in the page language) with check boxes; a button folds
 * it away (folded from the start on a phone, where it would cover the map). */
function addLayerControl(map, catalogue, visible, setOverlay) {
  const Control = L.Control.extend({
    options: { position: "topright" },
    onAdd() {
      const box = L.DomUtil.create("div", "leaflet-bar layer-switch");
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      const toggle = L.DomUtil.create("button", "layer-toggle", box);
      toggle.type = "button";
      const list = L.DomUtil.create("div", "layer-list", box);
      const folded = window.matchMedia("(max-width: 760px)").matches;
      list.hidden = folded;
      toggle.setAttribute("aria-expanded", String(!folded));
      toggle.addEventListener("click", () => {
        list.hidden = !list.hidden;
        toggle.setAttribute("aria-expanded", String(!list.hidden));
      });
      const render = () => {
        toggle.innerHTML = `<i class="fa-solid fa-layer-group"></i> <span>${lang === "zh" ? "图层" : "Layers"}</span>`;
        list.innerHTML = "";
        for (const entry of catalogue) {
          const label = L.DomUtil.create("label", "", list);
          const input = L.DomUtil.create("input", "", label);
          input.type = "checkbox";
          input.checked = visible.has(entry.id);
          input.dataset.overlay = entry.id;
          input.addEventListener("change", () => setOverlay(entry.id, input.checked));
          label.append(` ${lang === "zh" ? entry.title_zh || entry.title : entry.title}`);
        }
      };
      render();
      onLanguage(render);
      return box;
    },
  });
  new Control().addTo(map);
}

// The map of an OGC API HTML page. The features come in the page as a JSON data block, not as an inline script
// (the Content-Security-Policy allows scripts from files only).
const data = document.getElementById("features");
if (window.L && data) {
  const map = L.map("map");
  const layer = L.geoJSON(JSON.parse(data.textContent), {
    style: { weight: 1.5 },
    pointToLayer: (feature, latlng) => L.circleMarker(latlng, { radius: 5 }),
  })
    .bindTooltip((l) => String(l.feature.id))
    .addTo(map);
  const bounds = layer.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds);
  else map.setView([0, 0], 1);
}

// /docs: Swagger UI from the npm package under /vendor (FastAPI's default page loads it from a CDN and stays
// blank offline). A file, not an inline script, so the page runs under script-src 'self'.
/* global SwaggerUIBundle */
(() => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null, // the public validator badge would call another host
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();

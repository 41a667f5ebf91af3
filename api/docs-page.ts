/**
 * The API reference page (`GET /docs`): Swagger UI over `/v1/openapi.json`, every file served by
 * the relay itself (no CDN: a relay on a closed network still shows it, and the page's CSP
 * allows nothing else). The host gives the Swagger UI files (`ApiDeps.docs`); this module stays
 * web-standard and only says what the page is.
 */

/** The files of swagger-ui-dist the page loads. */
export const DOCS_ASSET_FILES = ["swagger-ui-bundle.js", "swagger-ui.css"] as const;
export type DocsAssetFile = (typeof DOCS_ASSET_FILES)[number];

/** Loads one of Swagger UI's files (Node: from the swagger-ui-dist package). */
export type DocsAssets = (file: DocsAssetFile) => Promise<Uint8Array | string>;

/** Swagger UI allows inline styles of its own; everything else comes from this origin. */
export const DOCS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'";

/**
 * Relative URLs: the page works wherever the relay is mounted (`docs/assets/…` and
 * `v1/openapi.json` resolve against `/docs`).
 */
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parley API reference</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
<main id="reference"></main>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/init.js"></script>
</body>
</html>
`;

/**
 * Starts Swagger UI. An external script (not inline) so the CSP needs no 'unsafe-inline' for
 * scripts; `validatorUrl: null` stops Swagger UI from sending the document to its public
 * validator.
 */
export const DOCS_INIT = `window.ui = SwaggerUIBundle({
  url: new URL("v1/openapi.json", document.baseURI).href,
  dom_id: "#reference",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
});
`;

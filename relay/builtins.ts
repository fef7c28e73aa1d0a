// Node builtins whose ESM import costs memory the relay does not use. `import … from "node:http"` builds the module's
// ESM namespace by reading every export, lazy getters included, which loads undici, http2, tls and worker_threads:
// measured on Node 22, +10 MiB RSS for `import "node:http"` against +1.4 MiB for require("node:http"). TLS (node:https)
// loads only when the API URL is https.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export const http = require("node:http") as typeof import("node:http");
export const parseArgs = (require("node:util") as typeof import("node:util")).parseArgs;

let https: typeof import("node:https") | null = null;
// http.request or https.request for a URL.
export function requestFor(url: URL): typeof http.request {
  if (url.protocol !== "https:") return http.request;
  https ??= require("node:https") as typeof import("node:https");
  return https.request;
}

// Response helpers of the machine-facing routes.
import { ApiError, toApiError } from "../errors.ts";
import { CmdlineError, renderDiscoverScript, renderErrorScript } from "../render/ipxe.ts";
import { TemplateError } from "../render/template.ts";

export const TEXT = "text/plain; charset=utf-8";

export function text(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": TEXT, "cache-control": "no-store", ...headers } });
}

// Template and command-line problems are the operator's data, not a crash: a 500 render_failed with the reason; a
// profile that cannot boot (no image, no build for the arch, missing) is a 409 not_bootable.
// `secrets`: the values the render resolved. Some checks quote the rendered text they refuse (a preseed line's owner,
// a YAML path); such a message goes to the machine and into the `render-failed` event, which read tokens see, so each
// value, and each longer piece of one, is masked.
export function renderError(err: unknown, what: string, secrets: readonly string[] = []): ApiError | null {
  if (err instanceof ApiError && (err.code === "render_failed" || err.code === "not_bootable")) return err;
  if (err instanceof TemplateError || err instanceof CmdlineError) {
    const message = maskSecrets(err.message, secrets);
    return new ApiError("render_failed", `could not render ${what}: ${message}`, { what, offset: err instanceof TemplateError ? err.offset : null });
  }
  return null;
}

export function maskSecrets(message: string, secrets: readonly string[]): string {
  const pieces = new Set<string>();
  for (const value of secrets) {
    if (value.length >= 3) pieces.add(value);
    for (const piece of value.split(/[\s"'`:=,;]+/)) if (piece.length >= 4) pieces.add(piece);
  }
  let out = message;
  for (const piece of [...pieces].sort((a, b) => b.length - a.length)) out = out.split(piece).join("<secret>");
  return out;
}

// iPXE is the caller of /boot/:site/ipxe: refusals keep their status but carry a script that says why and exits.
export function ipxeErrorResponse(err: unknown): Response {
  const apiError = toApiError(err);
  if (apiError.code === "internal") console.error("chain failed", err instanceof Error ? err.stack : String(err));
  return text(renderErrorScript(apiError.code, apiError.message), apiError.status, { "edgeboot-error": apiError.code });
}

// A transient failure (D1 unreachable): 503 with Retry-After and a script that waits and chains the same request
// again. iPXE itself does not run the body of a non-2xx answer; the relay answers such a status with its own
// retrying script (relay/boot), and a direct HTTPS chain falls back to the relay.
export function ipxeRetryResponse(retrySeconds: number, rechainUrl: string): Response {
  const body = renderDiscoverScript("edgeboot unavailable", `unavailable: the boot API cannot reach its database; retrying in ${retrySeconds} s`, retrySeconds, rechainUrl);
  return text(body, 503, { "edgeboot-error": "unavailable", "retry-after": String(retrySeconds) });
}

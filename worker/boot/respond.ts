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
export function renderError(err: unknown, what: string): ApiError | null {
  if (err instanceof ApiError && (err.code === "render_failed" || err.code === "not_bootable")) return err;
  if (err instanceof TemplateError || err instanceof CmdlineError) {
    return new ApiError("render_failed", `could not render ${what}: ${err.message}`, { what, offset: err instanceof TemplateError ? err.offset : null });
  }
  return null;
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

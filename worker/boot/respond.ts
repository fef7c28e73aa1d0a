// Response helpers of the machine-facing routes.
import { ApiError, toApiError } from "../errors.ts";
import { CmdlineError, renderErrorScript } from "../render/ipxe.ts";
import { TemplateError } from "../render/template.ts";

export const TEXT = "text/plain; charset=utf-8";

export function text(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { "content-type": TEXT, "cache-control": "no-store", ...headers } });
}

// Template and command-line problems are the operator's data, not a crash: a 500 render_failed with the reason.
export function renderError(err: unknown, what: string): ApiError | null {
  if (err instanceof ApiError && err.code === "render_failed") return err;
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

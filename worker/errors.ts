import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { HTTPException } from "hono/http-exception";
import { ZodError } from "zod";

// One error type for the whole API; `onError` is the only place that turns it into the JSON shape.
export type ErrorCode =
  | "bad_request"
  | "invalid_input"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "precondition_failed"
  | "precondition_required"
  | "too_large"
  | "unsupported_media_type"
  | "range_not_satisfiable"
  | "hash_mismatch"
  | "render_failed"
  | "not_bootable"
  | "session_superseded"
  | "session_expired"
  | "boot_done"
  | "secret_window_closed"
  | "secret_refetch"
  | "delivery_bound"
  | "internal"
  | "bad_gateway"
  | "unavailable";

const codeToStatus: Record<ErrorCode, ContentfulStatusCode> = {
  bad_request: 400,
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  precondition_failed: 409,
  precondition_required: 428,
  too_large: 413,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  hash_mismatch: 400,
  render_failed: 500,
  // The host's data names something that cannot boot (a profile without image, no build for the arch).
  not_bootable: 409,
  // Host tokens and boot sessions (worker/boot/README.md, "Threat model"): a token that was good and no longer is.
  session_superseded: 410,
  session_expired: 410,
  boot_done: 410,
  secret_window_closed: 410,
  secret_refetch: 410,
  delivery_bound: 403,
  internal: 500,
  bad_gateway: 502,
  // A transient backend failure (D1): retry.
  unavailable: 503,
};

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
  get status(): ContentfulStatusCode {
    return codeToStatus[this.code];
  }
}

export const notFound = (what: string, details?: unknown) => new ApiError("not_found", `${what} not found`, details);

export function errorBody(err: ApiError) {
  return { error: { code: err.code, message: err.message, details: err.details ?? null } };
}

export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) {
    const byStatus: Partial<Record<number, ErrorCode>> = { 400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 413: "too_large", 415: "unsupported_media_type" };
    return new ApiError(byStatus[err.status] ?? "internal", err.message || "request refused");
  }
  if (err instanceof ZodError) return new ApiError("invalid_input", "request failed validation", err.issues);
  if (err instanceof Error && /UNIQUE constraint failed/i.test(err.message)) {
    return new ApiError("conflict", "a record with these unique fields already exists", { cause: err.message.replace(/^.*UNIQUE constraint failed: /i, "") });
  }
  return new ApiError("internal", "internal error");
}

export function handleError(err: unknown, c: Context) {
  const apiError = toApiError(err);
  if (apiError.code === "internal") console.error("unhandled error", err instanceof Error ? err.stack : String(err));
  return c.json(errorBody(apiError), apiError.status);
}

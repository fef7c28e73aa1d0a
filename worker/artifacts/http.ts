import type { Context } from "hono";
import { validator } from "hono/validator";
import type { z } from "zod";
import { ApiError } from "../errors.ts";

// zod at the edge: a failed parse throws ZodError, which handleError renders as invalid_input.
export const zv = <T extends "param" | "query" | "json" | "header", S extends z.ZodType>(target: T, schema: S) =>
  validator(target, (value) => schema.parse(value) as z.output<S>);

// Streaming uploads need the length up front: R2 only accepts streams of known length.
export function requireContentLength(c: Context, max: number): number {
  const raw = c.req.header("content-length");
  if (raw === undefined || !/^\d+$/.test(raw)) {
    throw new ApiError("bad_request", "Content-Length is required for uploads (chunked bodies cannot be streamed into R2); use curl -T <file>");
  }
  const size = Number(raw);
  if (size > max) throw new ApiError("too_large", `body is larger than ${max} bytes; use a multipart upload`, { size, max });
  return size;
}

export const bodyStream = (c: Context): ReadableStream<Uint8Array> =>
  c.req.raw.body ?? new Response(new Uint8Array(0)).body!;

// Stored with the artifact and served back; form encodings are what curl -d sends by default, not a real type.
export function uploadContentType(c: Context): string {
  const raw = c.req.header("content-type")?.split(";")[0]?.trim().toLowerCase() ?? "";
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(raw) || raw === "application/x-www-form-urlencoded") return "application/octet-stream";
  return raw;
}

import { OpenAPIHono, type z } from "@hono/zod-openapi";
import type { AppEnv } from "../context.ts";
import { ErrorBody } from "./schemas.ts";

// Every admin sub-app: a failed zod parse throws, and handleError renders it as 400 invalid_input with the issues.
export const adminRouter = () =>
  new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw result.error;
    },
  });

export const jsonContent = <S extends z.ZodType>(schema: S, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

export const jsonBody = <S extends z.ZodType>(schema: S) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

export const errorResponse = (description: string) => jsonContent(ErrorBody, description);

// The error answers every admin route can give; route definitions add their success responses.
export const errors = {
  400: errorResponse("Invalid input (code invalid_input, zod issues in details) or malformed request"),
  401: errorResponse("Missing, unknown, revoked or expired token"),
  403: errorResponse("The token's scopes do not allow this"),
  404: errorResponse("Not found"),
  409: errorResponse("Conflict: duplicate, still referenced, or stale If-Match (code precondition_failed)"),
  413: errorResponse("Body larger than 1 MiB"),
} as const;

// What any route can answer before its handler runs: validation, the bearer middleware and scope checks.
export const commonErrors = { 400: errors[400], 401: errors[401], 403: errors[403] } as const;

export const noContent = { 204: { description: "Done" } } as const;

export const security = [{ bearer: [] }];

// Where routes of the plain-Hono /v1 sub-apps are described (openapiArtifacts.ts, openapiSiteTools.ts).
export type Registry = OpenAPIHono["openAPIRegistry"];

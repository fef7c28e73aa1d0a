// The per-host tools of /v1/sites/{site} (wake, boot dry runs) and the boot timeline are plain Hono sub-apps; they
// are described here in the admin document's registry with the zod schemas their handlers validate with, so routing
// and behaviour stay theirs. Response schemas are new: the handlers build their JSON inline.
import { z } from "@hono/zod-openapi";
import { NOCLOUD_FILES } from "../boot/nocloud.ts";
import { sites } from "../db/schema.ts";
import { EventsParam, EventsQuery } from "./events.ts";
import { BootSessionView, SessionsParam, SessionsQuery } from "./bootSessions.ts";
import { HOST_STATES, Intent } from "./hostFields.ts";
import { commonErrors, errorResponse, jsonContent, type Registry, security } from "./openapi.ts";
import { DryRunQuery, Params as HostParams, RenderFileParams, RenderParams } from "./render.ts";
import { RuleExplanation } from "./rules.ts";
import { ErrorBody, Timestamp } from "./schemas.ts";
import { WakeParam } from "./wake.ts";

const WakeResult = z
  .object({
    command: z.object({ id: z.string(), kind: z.literal("wake"), payload: z.object({ mac: z.string(), hostname: z.string().nullable() }), createdAt: Timestamp, expiresAt: Timestamp }),
    relayHealthy: z.boolean().openapi({ description: "Whether a relay of the site synced recently, so the packet goes out soon" }),
  })
  .openapi("WakeQueued");

const Named = z.object({ id: z.string(), name: z.string() });
const ExplainBoot = z
  .object({
    profile: Named,
    image: Named.extend({ version: z.string(), arch: z.string() }),
    artifacts: z.object({ kernel: z.string(), initrd: z.array(z.string()), seed: z.string() }).nullable(),
    cmdline: z.string().nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable().openapi({ description: "Why the kernel command line could not be rendered" }),
  })
  .openapi("ExplainBoot");
const Explain = z
  .object({
    site: z.object({ slug: z.string(), bootAuth: z.enum(sites.bootAuth.enumValues), unknownHostPolicy: z.enum(sites.unknownHostPolicy.enumValues), defaultProfileId: z.string().nullable() }),
    host: z.object({
      id: z.string(),
      hostname: z.string().nullable(),
      mac: z.string().nullable(),
      uuid: z.string().nullable(),
      serial: z.string().nullable(),
      arch: z.string().nullable(),
      state: z.enum(HOST_STATES),
      profileId: z.string().nullable(),
    }),
    archCandidates: z.array(z.string()),
    decision: z.object({
      kind: z.enum(["boot", "local", "discover", "deny"]),
      why: z.string(),
      source: z.enum(["intent", "host", "rule", "site-default"]).nullable(),
      intent: Intent.nullable(),
      rule: z.string().nullable().openapi({ description: "The assignment rule that chose the profile (source rule)" }),
    }),
    rules: RuleExplanation,
    artifactsVia: z.enum(["relay-cache", "worker"]),
    boot: ExplainBoot.nullable(),
    menu: z
      .object({
        profile: Named,
        title: z.string(),
        timeoutMs: z.number().int(),
        defaultIndex: z.number().int(),
        items: z.array(z.object({ key: z.string().nullable(), label: z.string(), target: z.union([z.literal("local"), ExplainBoot]) })),
      })
      .nullable(),
    error: ErrorBody.shape.error.nullable().openapi({ description: "Why no profile could be resolved (what /boot would answer)" }),
  })
  .openapi("Explain");

const BootEvent = z
  .object({
    id: z.number().int(),
    at: Timestamp,
    hostId: z.string().nullable(),
    mac: z.string().nullable(),
    source: z.string(),
    phase: z.string(),
    bootSession: z.string().nullable(),
    detail: z.record(z.string(), z.unknown()),
  })
  .openapi("BootEvent");

export function documentSiteToolRoutes(registry: Registry) {
  const noSiteOrHost = errorResponse("Unknown site or host");
  registry.registerPath({
    method: "post",
    path: "/sites/{site}/hosts/{host}/wake",
    tags: ["hosts"],
    security,
    summary: "Queue a wake-on-LAN: the site's relay sends the magic packet at its next sync",
    request: { params: WakeParam },
    responses: { 202: jsonContent(WakeResult, "Queued, not yet sent"), ...commonErrors, 404: noSiteOrHost, 409: errorResponse("The host has no MAC address, or the site has no relay") },
  });
  // Dry runs of the boot path: nothing is written; host tokens and secret values are placeholders.
  registry.registerPath({
    method: "get",
    path: "/sites/{site}/hosts/{host}/render/{what}",
    tags: ["hosts"],
    security,
    summary: "Render what the machine would get from /boot: the iPXE script or a NoCloud file (dry run)",
    request: { params: RenderParams, query: DryRunQuery },
    responses: {
      200: { description: `iPXE script or NoCloud document (${NOCLOUD_FILES.join(", ")})`, content: { "text/plain": { schema: z.string() } } },
      ...commonErrors,
      404: noSiteOrHost,
      409: errorResponse("No boot plan resolves: a profile without image, no image build for the arch, a missing profile (code not_bootable)"),
      500: errorResponse("A template or command line could not be rendered (code render_failed)"),
    },
  });
  registry.registerPath({
    method: "get",
    path: "/sites/{site}/hosts/{host}/render/files/{name}",
    tags: ["hosts"],
    security,
    summary: "Render a per-host config file (the profile's, else the site's) as the machine would get it (dry run; secrets masked)",
    request: { params: RenderFileParams, query: DryRunQuery },
    responses: {
      200: { description: "The file, with the content type of its kind", content: { "application/json": { schema: z.string() }, "application/yaml": { schema: z.string() }, "text/plain": { schema: z.string() } } },
      ...commonErrors,
      404: noSiteOrHost,
      409: errorResponse("No boot plan resolves (code not_bootable)"),
      500: errorResponse("The file could not be rendered (code render_failed)"),
    },
  });
  registry.registerPath({
    method: "get",
    path: "/sites/{site}/hosts/{host}/explain",
    tags: ["hosts"],
    security,
    summary: "Which host record, profile, image and intent /boot would use, and why (dry run)",
    request: { params: HostParams, query: DryRunQuery },
    responses: { 200: jsonContent(Explain, "The boot decision"), ...commonErrors, 404: noSiteOrHost },
  });
  registry.registerPath({
    method: "get",
    path: "/sites/{site}/events",
    tags: ["events"],
    security,
    summary: "The site's boot timeline, newest first",
    request: { params: EventsParam, query: EventsQuery },
    responses: { 200: jsonContent(z.object({ items: z.array(BootEvent), nextCursor: z.string().nullable() }), "Events"), ...commonErrors, 404: noSiteOrHost },
  });
  registry.registerPath({
    method: "get",
    path: "/sites/{site}/sessions",
    tags: ["events"],
    security,
    summary: "The site's boot sessions, newest first: client address, relay, delivery policy, state, secret-bearing files served",
    request: { params: SessionsParam, query: SessionsQuery },
    responses: { 200: jsonContent(z.object({ items: z.array(BootSessionView), nextCursor: z.string().nullable() }), "Boot sessions"), ...commonErrors, 404: noSiteOrHost },
  });
}

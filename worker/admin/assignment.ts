// GET /v1/sites/:site/assignment?mac=&uuid=&serial=&arch=&label=k=v: which rule a machine with this identity would
// get, and why each other rule would not — to try rules before the machines exist. The machine is taken as given (no
// host record is looked up): leave out labels for an unknown machine, give a host's labels to try a recorded one.
import { createRoute, z } from "@hono/zod-openapi";
import { requireSiteAccess } from "../auth/bearer.ts";
import { explainAssignment } from "../assign/explain.ts";
import { assign } from "../assign/pick.ts";
import { findSite } from "../db/queries/catalogue.ts";
import { siteRules } from "../db/queries/rules.ts";
import { adminRouter, errors, jsonContent, security } from "./openapi.ts";
import { RuleExplanation } from "./rules.ts";
import { Arch, Mac, Serial, Slug, Uuid } from "./schemas.ts";

const Label = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}=.{0,256}$/, "labels are key=value")
  .transform((f) => [f.slice(0, f.indexOf("=")), f.slice(f.indexOf("=") + 1)] as const);

const MachineQuery = z.object({
  mac: Mac.optional(),
  uuid: Uuid.optional(),
  serial: Serial.optional(),
  arch: Arch.optional(),
  // Repeat ?label=k=v for several.
  label: z.union([Label.transform((l) => [l]), z.array(Label).max(64)]).optional(),
});

const Machine = z.object({ labels: z.record(z.string(), z.string()), arch: z.string().nullable(), mac: z.string().nullable(), uuid: z.string().nullable(), serial: z.string().nullable() });

export const assignmentAdmin = adminRouter().openapi(
  createRoute({
    method: "get",
    path: "/sites/{site}/assignment",
    tags: ["rules"],
    security,
    summary: "Which assignment rule a machine with this identity would get (MAC, UUID, serial, arch, ?label=k=v), and why not the others",
    request: { params: z.object({ site: Slug }), query: MachineQuery },
    responses: { 200: jsonContent(z.object({ machine: Machine, rules: RuleExplanation }).openapi("Assignment"), "The rules' verdicts"), ...errors },
  }),
  async (c) => {
    const { site: slug } = c.req.valid("param");
    requireSiteAccess(c, slug, "read");
    const q = c.req.valid("query");
    const db = c.get("db");
    const site = await findSite(db, slug);
    const machine = { labels: Object.fromEntries(q.label ?? []), arch: q.arch ?? null, mac: q.mac ?? null, uuid: q.uuid ?? null, serial: q.serial ?? null };
    const a = assign(await siteRules(db, site.id), machine);
    return c.json({ machine, rules: explainAssignment(a, a.winner ? "rules" : "policy") }, 200);
  },
);

// Applies a plan in its order. Secret values are read first (all of them, so a missing one stops the run before any
// write); updates and deletes send the plan's ETag as If-Match, and a 409 says what changed since the plan was made.
import { readFile } from "node:fs/promises";
import pc from "picocolors";
import type { Api } from "../api.ts";
import type { Env } from "../config.ts";
import { CliError } from "../errors.ts";
import { uploadArtifact } from "../upload/command.ts";
import { artifactApi } from "../upload/api.ts";
import { driftBetween } from "./compare.ts";
import type { Change, Plan } from "./plan.ts";

export async function resolveSecrets(plan: Plan, env: Env): Promise<Map<Change, string>> {
  const values = new Map<Change, string>();
  const missing: string[] = [];
  for (const c of plan.changes) {
    if (c.op !== "secret") continue;
    if (c.ref.fromEnv) {
      const v = env[c.ref.fromEnv];
      if (v === undefined || v === "") missing.push(`${plan.file}:${c.ref.line}: ${c.ref.field}: environment variable ${c.ref.fromEnv} (secret ${c.key}) is not set`);
      else values.set(c, v);
    } else if (c.ref.fromFile) {
      try {
        const v = (await readFile(c.ref.fromFile, "utf8")).replace(/\r?\n$/, "");
        if (v === "") missing.push(`${plan.file}:${c.ref.line}: ${c.ref.field}: ${c.ref.fromFile} (secret ${c.key}) is empty`);
        else values.set(c, v);
      } catch {
        missing.push(`${plan.file}:${c.ref.line}: ${c.ref.field}: cannot read ${c.ref.fromFile} (secret ${c.key})`);
      }
    }
  }
  if (missing.length) throw new CliError("missing_secret", `secret values are missing; nothing was changed:\n  ${missing.join("\n  ")}`, null, 0, 1);
  return values;
}

export async function applyPlan(api: Api, target: { api: string; token: string }, plan: Plan, env: Env, log = (l: string) => void process.stderr.write(`${l}\n`)): Promise<number> {
  const secrets = await resolveSecrets(plan, env);
  const uploads = artifactApi({ apiUrl: target.api, token: target.token });
  let done = 0;
  let shown = 0;
  // The second half of a create (a new profile's menu, a new site's vendor-data) is guarded by the create's ETag.
  const written = new Map<string, string>();
  for (const c of plan.changes) {
    try {
      if (c.op === "upload") await uploadArtifact(uploads, c.file, { env, log: () => {} });
      else if (c.op === "secret") await api.request("PUT", c.path, { body: { value: secrets.get(c) } });
      else if (c.op === "delete") await api.request("DELETE", c.path, { ifMatch: c.etag });
      else {
        const ifMatch = c.op === "update" ? (c.followUp ? (written.get(`${c.kind}:${c.key}`) ?? null) : c.etag) : null;
        const r = await api.request(c.method, c.path, { body: c.body, ifMatch });
        if (r.etag) written.set(`${c.kind}:${c.key}`, r.etag);
      }
    } catch (err) {
      throw await explainFailure(api, plan.file, c, err, done);
    }
    done++;
    if (c.op === "update" && c.followUp) continue;
    shown++;
    const verb = { upload: "uploaded", create: "created", update: "updated", delete: "deleted", secret: "wrote" }[c.op];
    log(`${pc.green("✓")} ${verb} ${c.kind === "artifact" ? "" : `${c.kind} `}${c.key}`);
  }
  return shown;
}

// A stale ETag: re-read the resource and show what changed since the plan was made.
async function explainFailure(api: Api, file: string, c: Change, err: unknown, done: number): Promise<unknown> {
  if (!(err instanceof CliError)) return err;
  const applied = done ? ` (${done} earlier change(s) were applied)` : "";
  if (err.code === "precondition_failed" && (c.op === "update" || c.op === "delete") && c.before) {
    let changes: string[];
    try {
      const now = (await api.get(c.path)).body as Record<string, unknown>;
      changes = driftBetween(c.before, now).map((f) => `${f.field}: ${JSON.stringify(f.from)} → ${JSON.stringify(f.to)}`);
    } catch (e) {
      changes = e instanceof CliError && e.status === 404 ? ["it was deleted"] : [`(could not re-read it: ${(e as Error).message})`];
    }
    return new CliError(
      "precondition_failed",
      `${c.kind} ${c.key} changed since the plan was made, so it was not ${c.op === "delete" ? "deleted" : "updated"}${applied}:\n  ${changes.join("\n  ") || "(revision only)"}\nRun \`edgeboot diff\` again and re-apply.`,
      null,
      err.status,
    );
  }
  // An API refusal names the entry of the site file it came from (file:line: field), down to the field the API
  // names in its details when the entry sets it.
  let at = "";
  if ((c.op === "create" || c.op === "update") && c.at) {
    const f = (err.details as { field?: unknown } | null)?.field;
    const line = typeof f === "string" ? c.at.lines?.[f] : undefined;
    at = line ? `${file}:${line}: ${c.at.field}.${f}: ` : `${file}:${c.at.line}: ${c.at.field}: `;
  }
  return new CliError(err.code, `${at}${c.op} ${c.kind} ${c.key}: ${err.message}${applied}`, err.details, err.status, err.exitCode);
}

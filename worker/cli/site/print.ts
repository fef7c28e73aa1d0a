// A plan as text, like `terraform plan`: + create, ~ update (field: old → new), - delete, ↑ upload, * secret write.
import pc from "picocolors";
import type { FieldChange } from "./compare.ts";
import type { Change, Plan } from "./plan.ts";

const show = (v: unknown): string => {
  if (v === null || v === undefined) return "null";
  const s = typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v);
  return s.length > 100 ? `${s.slice(0, 97)}…` : s;
};
const fieldLines = (fields: FieldChange[], create: boolean) =>
  fields.map((f) => (create ? `      ${f.field}: ${show(f.to)}` : `      ${f.field}: ${show(f.from)} ${pc.dim("→")} ${show(f.to)}`));

export function describeChange(c: Change): string[] {
  if (c.op === "update" && c.followUp) return [];
  switch (c.op) {
    case "upload":
      return [pc.cyan(`  ↑ upload ${c.key} (sha256 ${c.sha256.slice(0, 12)}…, ${(c.size / 1024 ** 2).toFixed(1)} MiB)`)];
    case "create":
      return [pc.green(`  + ${c.kind} ${c.key}`), ...fieldLines(c.fields, true).map(pc.green)];
    case "update":
      return [pc.yellow(`  ~ ${c.kind} ${c.key}`), ...fieldLines(c.fields.length ? c.fields : Object.entries(c.body).map(([field, to]) => ({ field, from: null, to })), c.fields.length === 0)];
    case "delete":
      return [pc.red(`  - ${c.kind} ${c.key}`)];
    case "secret":
      return [pc.magenta(`  * secret ${c.key} ${c.exists ? "rewritten" : "set"} from ${c.ref.fromEnv ? `env ${c.ref.fromEnv}` : `file ${c.ref.fromFile}`}`)];
  }
}

export function summary(plan: Plan): string {
  const n = (op: Change["op"]) => plan.changes.filter((c) => c.op === op && !(c.op === "update" && c.followUp)).length;
  if (plan.changes.length === 0) return pc.green(`No changes: site ${plan.site} matches ${plan.file}.`);
  const parts = [`${n("create")} to create`, `${n("update")} to update`, `${n("delete")} to delete`];
  if (n("upload")) parts.push(`${n("upload")} to upload`);
  if (n("secret")) parts.push(`${n("secret")} secret(s) to write`);
  return `Plan: ${parts.join(", ")}.`;
}

export function printPlan(plan: Plan, out: NodeJS.WritableStream = process.stdout): void {
  for (const c of plan.changes) {
    const lines = describeChange(c);
    if (lines.length) out.write(`${lines.join("\n")}\n`);
  }
  if (plan.changes.length) out.write("\n");
  out.write(`${summary(plan)}\n`);
}

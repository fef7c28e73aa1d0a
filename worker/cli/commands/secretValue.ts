import { readFile } from "node:fs/promises";
import { text } from "node:stream/consumers";
import type { Env } from "../config.ts";
import { usage } from "../errors.ts";

// A secret value never comes from a flag (flags show in `ps` and shell history).
export async function readSecretValue(o: { fromEnv?: string; fromFile?: string }, env: Env): Promise<string> {
  if (o.fromEnv && o.fromFile) throw usage("give --from-env or --from-file, not both");
  let value: string;
  if (o.fromEnv) {
    const v = env[o.fromEnv];
    if (v === undefined || v === "") throw usage(`environment variable ${o.fromEnv} is not set`);
    value = v;
  } else if (o.fromFile) {
    const text = await readFile(o.fromFile, "utf8").catch((err: NodeJS.ErrnoException) => {
      throw usage(`--from-file ${o.fromFile}: cannot read it (${err.code ?? err.message})`);
    });
    value = text.replace(/\r?\n$/, "");
  } else {
    if (process.stdin.isTTY) throw usage("give --from-env VAR or --from-file PATH, or pipe the value on stdin");
    value = (await text(process.stdin)).replace(/\r?\n$/, "");
  }
  if (value === "") throw usage("the secret value is empty");
  return value;
}

// `npm run bench`: runs every test/bench/*.bench.mjs in turn and prints one table.
// A bench prints result rows as JSON lines {"what","ours","peer","peerName","unit","ratio"[, "better"]} on stdout;
// anything else it prints goes to stderr as progress.
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const only = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((f) => f.endsWith(".bench.mjs"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

function runBench(file) {
  return new Promise((resolve) => {
    const rows = [];
    const child = spawn(process.execPath, [`${here}/${file}`], { stdio: ["ignore", "pipe", "inherit"] });
    let buffered = "";
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const row = JSON.parse(line);
          if (row && typeof row.what === "string") {
            rows.push(row);
            continue;
          }
        } catch {}
        process.stderr.write(`[${file}] ${line}\n`);
      }
    });
    child.on("close", (code) => resolve({ file, code, rows })); // after stdout is drained, unlike "exit"
  });
}

const fmt = (v) => (typeof v === "number" ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)) : String(v ?? "-"));
const results = [];
for (const file of benches) {
  process.stderr.write(`running ${file}\n`);
  results.push(await runBench(file));
}

const table = [["bench", "what", "ours", "peer", "peer name", "unit", "ratio"]];
for (const { file, code, rows } of results) {
  if (code !== 0) table.push([file, `FAILED (exit ${code})`, "", "", "", "", ""]);
  for (const r of rows) table.push([file.replace(".bench.mjs", ""), r.what, fmt(r.ours), fmt(r.peer), r.peerName ?? "", r.unit ?? "", fmt(r.ratio)]);
}
const widths = table[0].map((_, i) => Math.max(...table.map((row) => String(row[i]).length)));
for (const [i, row] of table.entries()) {
  console.log(row.map((cell, j) => String(cell).padEnd(widths[j])).join("  "));
  if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
}
process.exit(results.some((r) => r.code !== 0) ? 1 : 0);

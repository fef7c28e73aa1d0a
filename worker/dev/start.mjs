// `npm start`: local D1/R2 under .wrangler/state, migrations applied, wrangler dev, demo data, root token printed.
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ensureDevVars } from "./devVars.mjs";
import { seedDemo } from "./seedDemo.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const port = Number(process.env.PORT ?? 8787);
const host = process.env.HOST ?? "127.0.0.1";
const baseUrl = `http://${host}:${port}`;

const [major] = process.versions.node.split(".").map(Number);
if (major < 22) {
  console.error(`edgeboot needs Node >= 22 (this is ${process.version}); run it through \`npm start\`, which uses the node from devDependencies.`);
  process.exit(1);
}

const vars = await ensureDevVars(`${root}/.dev.vars`);

const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local"], { cwd: root, stdio: "inherit", env: { ...process.env, CI: "1" } });
if (migrate.status !== 0) {
  console.error("applying D1 migrations failed");
  process.exit(migrate.status ?? 1);
}

// Own process group so the workerd children stop with wrangler.
const dev = spawn("wrangler", ["dev", "--ip", host, "--port", String(port), "--show-interactive-dev-session=false"], {
  cwd: root,
  stdio: "inherit",
  detached: true,
});
const stop = (signal) => {
  try {
    process.kill(-dev.pid, signal);
  } catch {}
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => { stop("SIGTERM"); process.exit(0); });
dev.on("exit", (code) => process.exit(code ?? 1));

const deadline = Date.now() + 120_000;
for (;;) {
  try {
    if ((await fetch(`${baseUrl}/healthz`)).ok) break;
  } catch {}
  if (Date.now() > deadline) {
    console.error("wrangler dev did not answer /healthz within 120 s");
    stop("SIGTERM");
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 500));
}

try {
  const created = await seedDemo(baseUrl, vars.ADMIN_TOKEN);
  if (created.length) console.log(`\nseeded: ${created.join(", ")}`);
} catch (err) {
  console.error(`\n${err.message}`);
}
console.log(`
edgeboot API is up at ${baseUrl}
  status page: ${baseUrl}/ui (log in with the token below)
  local admin token (from .dev.vars): ${vars.ADMIN_TOKEN}
  try:  curl -H "Authorization: Bearer ${vars.ADMIN_TOKEN}" ${baseUrl}/v1/sites
        curl "${baseUrl}/boot/demo/ipxe?mac=52:54:00:12:34:56&arch=x86_64&platform=efi"
  make demo-node-1 bootable: upload a kernel and initrd into an image and set it on profile demo-linux (README, "What npm start does"); sudo npm run demo boots a VM end to end on an API of its own
`);

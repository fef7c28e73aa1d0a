import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const root = fileURLToPath(new URL("..", import.meta.url));
const migrations = await readD1Migrations(`${root}/migrations`);

// Test-only secrets; real ones live in .dev.vars (local) or Worker secrets (deployed).
export const testBindings = {
  ADMIN_TOKEN: "test-root-token-0123456789abcdef",
  SIGNING_KEYS: JSON.stringify([
    {
      kty: "OKP",
      crv: "Ed25519",
      kid: "test-key-1",
      x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
      d: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    },
  ]),
  SECRETS_KEY: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
  TEST_MIGRATIONS: migrations,
};

export default defineConfig({
  test: {
    // Most relay and CLI test time is waiting on sockets, timers and child processes: overlap files beyond the
    // 2 cores (vitest's default here would be one file at a time).
    maxWorkers: 4,
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: `${root}/wrangler.toml` },
            miniflare: { bindings: testBindings },
          }),
        ],
        test: {
          name: "worker",
          root,
          include: ["test/worker/**/*.test.ts"],
          setupFiles: ["test/worker/setup.ts"],
          // One workerd for all files (a fresh one per file cost ~100 s); setup.ts empties storage per file.
          isolate: false,
        },
      },
      {
        test: {
          name: "relay",
          root,
          environment: "node",
          include: ["test/relay/**/*.test.ts"],
          testTimeout: 30_000,
        },
      },
      {
        // The edgeboot CLI as a child process against a real wrangler dev (test/cli/).
        test: {
          name: "cli",
          root,
          environment: "node",
          include: ["test/cli/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 240_000,
        },
      },
      {
        // Tests whose peers are Debian tools or packages (atftp, tftp-hpa, dnsmasq, cloud-init extracted with dpkg -x):
        // `npm run test:interop`, run by .ci/run after it installs them.
        test: {
          name: "interop",
          root,
          environment: "node",
          include: ["test/interop/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 10 * 60_000,
        },
      },
      {
        // The status page in Debian's headless chromium (puppeteer-core) against a real wrangler dev:
        // `npm run test:browser`.
        test: {
          name: "browser",
          root,
          environment: "node",
          include: ["test/browser/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 5 * 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "e2e",
          root,
          environment: "node",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 40 * 60_000,
          hookTimeout: 20 * 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

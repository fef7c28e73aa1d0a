// Fleet-scale seeds for the Workers runtime: a site with N hosts written by a few big multi-row INSERTs (a 10k-host
// site in well under a second), and a fresh schema per test.
import { applyD1Migrations, reset } from "cloudflare:test";
import { env } from "cloudflare:workers";

export async function resetDb() {
  await reset();
  await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
}

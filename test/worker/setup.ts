// Runs before each test file. Test files share one workerd and module cache (vitest isolate: false in
// test/vitest.config.ts: a workerd per file cost most of the suite's time), so each file starts from empty storage
// with the schema applied; files that need a fresh database per test call freshStoragePerTest() (boot/seed.ts).
import { applyD1Migrations, reset } from "cloudflare:test";
import { env } from "cloudflare:workers";

await reset();
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

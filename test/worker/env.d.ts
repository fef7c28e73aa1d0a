declare namespace Cloudflare {
  interface Env {
    DB: D1Database;
    ARTIFACTS: R2Bucket;
    ADMIN_TOKEN: string;
    SIGNING_KEYS: string;
    SECRETS_KEY: string;
    PUBLIC_URL: string;
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
  }
}

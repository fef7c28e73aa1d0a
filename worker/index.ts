import { createApp } from "./app.ts";
import { scheduledRetention } from "./retention.ts";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env as unknown as Record<string, unknown>, ctx),
  // The cron trigger (wrangler.toml): event retention per site.
  scheduled: (controller, env, ctx) => ctx.waitUntil(scheduledRetention(env.DB, controller.scheduledTime)),
} satisfies ExportedHandler<Cloudflare.Env>;

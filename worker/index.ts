import { createApp } from "./app.ts";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env as unknown as Record<string, unknown>, ctx),
} satisfies ExportedHandler<Cloudflare.Env>;

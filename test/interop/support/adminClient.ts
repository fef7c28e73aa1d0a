// The admin API of a real `wrangler dev`, called as an operator's curl would: JSON in and out, artifacts by PUT.
import { createHash } from "node:crypto";
import type { WranglerDev } from "../../helpers/wrangler.ts";

// wrangler dev rebuilds when files of the tree change and drops connections meanwhile: a few bounded retries.
export async function fetchRetry(url: string, init?: RequestInit): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, init);
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

export function adminClient(wrangler: () => WranglerDev) {
  // Throws with the status and body unless the call succeeded; returns the parsed JSON (or null).
  async function call(method: string, path: string, body?: unknown): Promise<any> {
    const w = wrangler();
    const res = await fetchRetry(`${w.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${w.adminToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  // Uploads bytes as an artifact (PUT /v1/artifacts/<sha256>) and returns the hash.
  async function artifact(bytes: Buffer): Promise<string> {
    const w = wrangler();
    const sha = createHash("sha256").update(bytes).digest("hex");
    const res = await fetchRetry(`${w.url}/v1/artifacts/${sha}`, { method: "PUT", headers: { authorization: `Bearer ${w.adminToken}`, "content-length": String(bytes.length) }, body: bytes });
    if (res.status >= 300) throw new Error(`artifact upload → ${res.status} ${await res.text()}`);
    return sha;
  }

  return { call, artifact };
}

import { describe, expect, it } from "vitest";
import { api, seedSite, uniq } from "../../helpers/admin.ts";

describe("admin requests: malformed, oversized, unsupported", () => {
  it("413 with the JSON error shape for a body over 1 MiB", async () => {
    const big = JSON.stringify({ slug: uniq("big"), name: "x", vendorData: "x".repeat(1024 * 1024 + 10) });
    const res = await api("POST", "/v1/sites", undefined, { raw: big, contentType: "application/json" });
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({ code: "too_large", details: { max: 1048576 } });
  });

  it("413 also when the body is streamed without a Content-Length", async () => {
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 20) return controller.close();
        sent++;
        controller.enqueue(chunk);
      },
    });
    const res = await api("PUT", "/v1/secrets/BIG", undefined, { raw: stream, contentType: "application/json" });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("too_large");
  });

  it("400 bad_request for malformed JSON", async () => {
    const res = await api("POST", "/v1/sites", undefined, { raw: "{not json", contentType: "application/json" });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("bad_request");
  });

  it("415 for a body that is not JSON", async () => {
    const res = await api("POST", "/v1/sites", undefined, { raw: "slug=a", contentType: "application/x-www-form-urlencoded" });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe("unsupported_media_type");
  });

  it("400 for a missing JSON body and for invalid query parameters", async () => {
    expect((await api("POST", "/v1/sites")).status).toBe(400);
    const limit = await api("GET", "/v1/sites?limit=501");
    expect(limit.status).toBe(400);
    expect(limit.body.error.details[0].path).toEqual(["limit"]);
    const cursor = await api("GET", "/v1/sites?cursor=garbage!");
    expect(cursor.status).toBe(400);
    expect(cursor.body.error.message).toMatch(/cursor/);
  });

  it("a cursor from a list with another sort key is refused", async () => {
    await seedSite(uniq("c1"));
    await seedSite(uniq("c2"));
    const page = await api("GET", "/v1/sites?limit=1");
    const res = await api("GET", `/v1/tokens?cursor=${page.body.nextCursor}`);
    expect(res.status).toBe(400);
  });
});

import { describe, expect, it } from "vitest";
import { api } from "../../helpers/admin.ts";

describe("/v1/openapi.json", () => {
  it("is an OpenAPI 3.1 document of the admin routes with bearer security", async () => {
    const res = await api("GET", "/v1/openapi.json", undefined, { token: null });
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    const paths = Object.keys(doc.paths);
    expect(paths).toEqual(
      expect.arrayContaining([
        "/sites",
        "/sites/{site}",
        "/sites/{site}/boot-key",
        "/sites/{site}/relays",
        "/sites/{site}/relays/{relay}",
        "/sites/{site}/hosts",
        "/sites/{site}/hosts/{host}",
        "/sites/{site}/hosts/import",
        "/profiles",
        "/profiles/{profile}",
        "/images",
        "/images/{image}",
        "/tokens",
        "/tokens/{id}",
        "/secrets",
        "/secrets/{name}",
        "/audit",
      ]),
    );
    expect(Object.keys(doc.paths["/sites/{site}/hosts/{host}"]).sort()).toEqual(["delete", "get", "patch"]);
    expect(doc.paths["/sites"].post.requestBody.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/SiteCreate" });
    expect(doc.paths["/sites"].post.responses["409"]).toBeDefined();
    expect(doc.components.schemas.Host.properties.mac).toBeDefined();
    expect(doc.servers).toEqual([{ url: "http://api.test/v1" }]);
  });
});

import { describe, expect, it } from "vitest";
import { artifactsAdmin } from "../../../worker/admin/artifacts.ts";
import { eventsAdmin } from "../../../worker/admin/events.ts";
import { manifestAdmin } from "../../../worker/admin/manifest.ts";
import { renderAdmin } from "../../../worker/admin/render.ts";
import { wakeAdmin } from "../../../worker/admin/wake.ts";
import { api } from "../../helpers/admin.ts";

const openapiDoc = async () => (await api("GET", "/v1/openapi.json", undefined, { token: null })).body;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (r: any) => r.content["application/json"].schema;
const paramNames = (op: any, where: string) => op.parameters.filter((p: any) => p.in === where).map((p: any) => p.name);

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
  // The plain-Hono sub-apps mounted on /v1 in app.ts are described through the registry (openapiArtifacts.ts,
  // openapiSiteTools.ts): each path must list exactly the methods its handlers serve.
  it("describes every route of the plain-Hono /v1 sub-apps", async () => {
    const doc = await openapiDoc();
    const methodsOf = (path: string) => Object.keys(doc.paths[path] ?? {}).sort();
    expect(methodsOf("/artifacts")).toEqual(["get"]);
    expect(methodsOf("/artifacts/gc")).toEqual(["post"]);
    expect(methodsOf("/artifacts/{sha256}")).toEqual(["delete", "get", "head", "put"]);
    expect(methodsOf("/artifacts/{sha256}/uploads")).toEqual(["post"]);
    expect(methodsOf("/artifacts/{sha256}/uploads/{uploadId}")).toEqual(["delete"]);
    expect(methodsOf("/artifacts/{sha256}/uploads/{uploadId}/parts/{partNumber}")).toEqual(["put"]);
    expect(methodsOf("/artifacts/{sha256}/uploads/{uploadId}/complete")).toEqual(["post"]);
    expect(methodsOf("/images/{image}/manifest")).toEqual(["get"]);
    expect(methodsOf("/sites/{site}/hosts/{host}/wake")).toEqual(["post"]);
    expect(methodsOf("/sites/{site}/hosts/{host}/render/{what}")).toEqual(["get"]);
    expect(methodsOf("/sites/{site}/hosts/{host}/explain")).toEqual(["get"]);
    expect(methodsOf("/sites/{site}/events")).toEqual(["get"]);

    // A route added to one of these sub-apps without a description fails here.
    for (const app of [artifactsAdmin, manifestAdmin, wakeAdmin, renderAdmin, eventsAdmin]) {
      expect(app.routes.length).toBeGreaterThan(0);
      for (const route of app.routes) {
        const path = route.path.replace(/:(\w+)/g, "{$1}");
        expect(doc.paths[path]?.[route.method.toLowerCase()], `${route.method} ${path}`).toBeDefined();
      }
    }
  });

  it("describes those routes with the schemas their handlers validate with", async () => {
    const { paths } = await openapiDoc();

    const put = paths["/artifacts/{sha256}"].put;
    expect(paramNames(put, "path")).toEqual(["sha256"]);
    expect(put.parameters.find((p: any) => p.name === "sha256").schema.pattern).toBe("^[0-9a-f]{64}$");
    expect(paramNames(put, "header")).toEqual(["content-length"]);
    expect(put.requestBody.content["application/octet-stream"].schema).toEqual({ type: "string", format: "binary" });
    expect(json(put.responses["201"]).properties.artifact).toEqual(ref("Artifact"));
    expect(Object.keys(put.responses).sort()).toEqual(["200", "201", "400", "401", "403", "409", "413"]);
    expect(json(put.responses["413"])).toEqual(ref("Error"));
    expect(paths["/artifacts/{sha256}/uploads/{uploadId}/parts/{partNumber}"].put.requestBody.content["application/octet-stream"]).toBeDefined();
    const complete = paths["/artifacts/{sha256}/uploads/{uploadId}/complete"].post;
    expect(json(complete.requestBody).required).toEqual(["parts"]);
    expect(json(complete.requestBody).properties.parts.items.required).toEqual(["partNumber", "etag"]);
    expect(paramNames(paths["/artifacts"].get, "query")).toEqual(["state", "limit", "cursor"]);
    expect(paramNames(paths["/artifacts/gc"].post, "query")).toEqual(["dryRun"]);

    const manifest = paths["/images/{image}/manifest"].get;
    expect(paramNames(manifest, "query")).toEqual(["arch"]);
    expect(json(manifest.responses["200"]).properties.manifest).toEqual(ref("Manifest"));
    expect(manifest.responses["200"].content["application/jose"]).toBeDefined();
    expect(json(manifest.responses["409"])).toEqual(ref("Error"));

    const wake = paths["/sites/{site}/hosts/{host}/wake"].post;
    expect(paramNames(wake, "path")).toEqual(["site", "host"]);
    expect(json(wake.responses["202"])).toEqual(ref("WakeQueued"));
    expect(json(wake.responses["409"])).toEqual(ref("Error"));

    const render = paths["/sites/{site}/hosts/{host}/render/{what}"].get;
    expect(render.parameters.find((p: any) => p.name === "what").schema.enum).toEqual(["ipxe", "meta-data", "user-data", "vendor-data", "network-config"]);
    expect(paramNames(render, "query")).toEqual(["arch", "platform"]);
    expect(render.responses["200"].content["text/plain"]).toBeDefined();
    expect(json(render.responses["500"])).toEqual(ref("Error"));
    expect(json(paths["/sites/{site}/hosts/{host}/explain"].get.responses["200"])).toEqual(ref("Explain"));

    const events = paths["/sites/{site}/events"].get;
    expect(paramNames(events, "query")).toEqual(["limit", "cursor", "host", "phase", "since"]);
    expect(json(events.responses["200"]).properties.items.items).toEqual(ref("BootEvent"));
    expect(json(events.responses["404"])).toEqual(ref("Error"));
  });
});

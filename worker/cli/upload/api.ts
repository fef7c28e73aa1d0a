import { createReadStream } from "node:fs";
import { readApiBody } from "../apiBody.ts";

// The admin API calls the uploader makes. Errors carry the API's code so the CLI can explain them.
export class UploadApiError extends Error {
  readonly status: number;
  readonly code: string | null;
  readonly details: unknown;
  constructor(status: number, code: string | null, message: string, details: unknown = null) {
    super(message);
    this.name = "UploadApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
  // Worth retrying: the network, the platform, or a throttle; never a refusal of the input.
  get transient(): boolean {
    return this.status === 0 || this.status >= 500 || this.status === 429 || this.status === 408;
  }
}

export type ArtifactApi = ReturnType<typeof artifactApi>;

export function artifactApi(opts: { apiUrl: string; token: string; fetch?: typeof fetch }) {
  const base = opts.apiUrl.replace(/\/+$/, "");
  const doFetch = opts.fetch ?? fetch;
  const auth = { authorization: `Bearer ${opts.token}` };

  async function call(method: string, path: string, init: { body?: unknown; raw?: { file: string; start: number; length: number; onBytes: (n: number) => void }; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...auth, ...init.headers };
    let body: BodyInit | null = null;
    if (init.raw) {
      headers["content-length"] = String(init.raw.length);
      headers["content-type"] ??= "application/octet-stream";
      body = fileRange(init.raw.file, init.raw.start, init.raw.length, init.raw.onBytes) as unknown as BodyInit;
    } else if (init.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(init.body);
    }
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, { method, headers, body, ...(init.raw ? { duplex: "half" } : {}) } as RequestInit);
    } catch (err) {
      throw new UploadApiError(0, null, `${method} ${path}: ${(err as Error).message}${(err as Error).cause ? ` (${String((err as Error & { cause: unknown }).cause)})` : ""}`);
    }
    if (method === "HEAD") return { status: res.status, json: null as unknown, headers: res.headers };
    const { text, json, error: e } = await readApiBody(res);
    if (!res.ok) {
      throw new UploadApiError(res.status, e?.code ?? null, `${method} ${path}: ${res.status} ${e?.message ?? text.slice(0, 200)}`, e?.details ?? null);
    }
    return { status: res.status, json, headers: res.headers };
  }

  return {
    apiUrl: base,
    async exists(sha256: string): Promise<boolean> {
      const res = await call("HEAD", `/v1/artifacts/${sha256}`);
      if (res.status === 200) return true;
      if (res.status === 404) return false;
      throw new UploadApiError(res.status, null, `HEAD /v1/artifacts/${sha256}: ${res.status}${res.status === 401 ? " (check the token)" : ""}`);
    },
    put: (sha256: string, file: string, size: number, onBytes: (n: number) => void, contentType?: string) =>
      call("PUT", `/v1/artifacts/${sha256}`, { raw: { file, start: 0, length: size, onBytes }, headers: contentType ? { "content-type": contentType } : {} }),
    createUpload: async (sha256: string, contentType?: string) =>
      (await call("POST", `/v1/artifacts/${sha256}/uploads`, { headers: contentType ? { "content-type": contentType } : {} })).json as { exists: boolean; uploadId?: string },
    putPart: async (sha256: string, uploadId: string, n: number, file: string, start: number, length: number, onBytes: (n: number) => void) =>
      (await call("PUT", `/v1/artifacts/${sha256}/uploads/${encodeURIComponent(uploadId)}/parts/${n}`, { raw: { file, start, length, onBytes } })).json as { partNumber: number; etag: string },
    complete: (sha256: string, uploadId: string, parts: { partNumber: number; etag: string }[]) =>
      call("POST", `/v1/artifacts/${sha256}/uploads/${encodeURIComponent(uploadId)}/complete`, { body: { parts } }),
    abort: (sha256: string, uploadId: string) => call("DELETE", `/v1/artifacts/${sha256}/uploads/${encodeURIComponent(uploadId)}`),
    getImage: async (name: string, arch: string) => {
      const res = await call("GET", `/v1/images/${encodeURIComponent(name)}?arch=${encodeURIComponent(arch)}`);
      return { image: res.json as { artifacts: Record<string, unknown> }, etag: res.headers.get("etag") };
    },
    patchImage: (name: string, arch: string, artifacts: Record<string, unknown>, etag: string | null) =>
      call("PATCH", `/v1/images/${encodeURIComponent(name)}?arch=${encodeURIComponent(arch)}`, { body: { artifacts }, headers: etag ? { "if-match": etag } : {} }),
    createImage: (name: string, arch: string, artifacts: Record<string, unknown>) => call("POST", "/v1/images", { body: { name, arch, artifacts } }),
  };
}

// A byte range of a file as a request body, counting bytes as they go out.
async function* fileRange(file: string, start: number, length: number, onBytes: (n: number) => void): AsyncGenerator<Uint8Array> {
  if (length === 0) return;
  for await (const chunk of createReadStream(file, { start, end: start + length - 1, highWaterMark: 1 << 20 })) {
    onBytes((chunk as Buffer).length);
    yield chunk as Buffer;
  }
}

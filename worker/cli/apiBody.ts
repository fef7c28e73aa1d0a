// An admin API answer read once: its text, its JSON when it is JSON, and the `{"error":{code,message,details}}` a
// refusal carries. Shared by the resource client (api.ts) and the uploader (upload/api.ts).
export type ApiErrorBody = { code?: string; message?: string; details?: unknown };

export async function readApiBody(res: Response): Promise<{ text: string; json: unknown; error: ApiErrorBody | undefined }> {
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  const error = res.ok ? undefined : (json as { error?: ApiErrorBody } | null)?.error;
  return { text, json, error };
}

// Field-by-field comparison of what a site file asks for with what the API has. Only fields the file sets are
// compared (an omitted field is left as it is), with key order ignored in objects.
export type FieldChange = { field: string; from: unknown; to: unknown };

export function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v as object)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v ?? null);
}

export const same = (a: unknown, b: unknown) => stable(a) === stable(b);

export function changedFields(desired: Record<string, unknown>, current: Record<string, unknown>): FieldChange[] {
  const out: FieldChange[] = [];
  for (const [field, to] of Object.entries(desired)) {
    if (to === undefined) continue;
    const from = current[field] ?? null;
    if (!same(to, from)) out.push({ field, from, to });
  }
  return out;
}

// What changed in a resource between two reads (for "409: changed since the plan was made").
export function driftBetween(before: Record<string, unknown>, now: Record<string, unknown>): FieldChange[] {
  const ignore = new Set(["revision", "updatedAt", "lastSeenAt", "lastIdentity", "lastUsedAt"]);
  const keys = new Set([...Object.keys(before), ...Object.keys(now)]);
  return [...keys].filter((k) => !ignore.has(k) && !same(before[k], now[k])).map((field) => ({ field, from: before[field] ?? null, to: now[field] ?? null }));
}

export const defined = <T extends Record<string, unknown>>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

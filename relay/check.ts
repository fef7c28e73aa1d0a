// A few composable shape checks for the JSON the relay reads (sync snapshot, manifests). zod did this before, but it
// cost the relay ~6 MiB RSS (measured on Node 22) for five small shapes; these return the value as typed or throw a
// CheckError naming the path of the first bad field.
export class CheckError extends Error {
  readonly path: ReadonlyArray<string | number>;
  constructor(path: ReadonlyArray<string | number>, message: string) {
    super(`${path.length ? path.join(".") : "value"}: ${message}`);
    this.name = "CheckError";
    this.path = path;
  }
}

export type Check<T> = (value: unknown, path?: Array<string | number>) => T;
export type Checked<C> = C extends Check<infer T> ? T : never;

const fail = (path: Array<string | number>, message: string): never => {
  throw new CheckError(path, message);
};

export const string =
  (pattern?: RegExp): Check<string> =>
  (v, path = []) =>
    typeof v !== "string" ? fail(path, "must be a string") : pattern && !pattern.test(v) ? fail(path, `must match ${pattern}`) : v;

export const boolean: Check<boolean> = (v, path = []) => (typeof v === "boolean" ? v : fail(path, "must be true or false"));

export const number =
  (opts: { int?: boolean; min?: number } = {}): Check<number> =>
  (v, path = []) => {
    if (typeof v !== "number" || !Number.isFinite(v)) return fail(path, "must be a number");
    if (opts.int && !Number.isInteger(v)) return fail(path, "must be a whole number");
    if (opts.min !== undefined && v < opts.min) return fail(path, `must be at least ${opts.min}`);
    return v;
  };

export const nullable =
  <T>(check: Check<T>): Check<T | null> =>
  (v, path = []) =>
    v === null ? null : check(v, path);

export const array =
  <T>(check: Check<T>): Check<T[]> =>
  (v, path = []) =>
    Array.isArray(v) ? v.map((item, i) => check(item, [...path, i])) : fail(path, "must be an array");

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export const record: Check<Record<string, unknown>> = (v, path = []) => (isObject(v) ? v : fail(path, "must be an object"));

// The listed fields checked; other fields kept as they are (a newer API may add some).
export const object =
  <S extends Record<string, Check<unknown>>>(shape: S): Check<{ [K in keyof S]: Checked<S[K]> } & Record<string, unknown>> =>
  (v, path = []) => {
    if (!isObject(v)) return fail(path, "must be an object");
    const out: Record<string, unknown> = { ...v };
    for (const [key, check] of Object.entries(shape)) out[key] = check(v[key], [...path, key]);
    return out as { [K in keyof S]: Checked<S[K]> } & Record<string, unknown>;
  };

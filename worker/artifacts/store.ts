import { z } from "zod";

// Artifacts are content-addressed: the R2 key is derived from the hash, so one set of bytes is one object.
export const Sha256 = z
  .string()
  .regex(/^[0-9a-f]{64}$/, "must be a lower-case hex SHA-256 (64 characters)");

export const artifactKey = (sha256: string) => `sha256/${sha256}`;

export const ARTIFACT_PREFIX = "sha256/";

export const etagFor = (sha256: string) => `"${sha256}"`;

export const IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable";

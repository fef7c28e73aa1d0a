// Real firmware DHCP packets captured by test/e2e/capture.mjs (see test/fixtures/captures/README.md).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const CAPTURES_DIR = fileURLToPath(new URL("../../fixtures/captures/", import.meta.url));
export const DHCP_FIXTURES = fileURLToPath(new URL("../../fixtures/dhcp/", import.meta.url));
export const TFTP_FIXTURES = fileURLToPath(new URL("../../fixtures/tftp/", import.meta.url));

export const captureNames = (): string[] =>
  existsSync(CAPTURES_DIR) ? readdirSync(CAPTURES_DIR).filter((f) => f.endsWith(".bin")).sort() : [];

export const capture = (name: string): Uint8Array => new Uint8Array(readFileSync(`${CAPTURES_DIR}${name}`));

// One error type for the CLI. The API's own errors keep its code, message and details; everything the CLI refuses
// before a request gets a code of its own. main.ts prints either as `error[code]: message`, never a stack trace.
// (No constructor parameter properties: Node runs this file by stripping types, which does not support them.)
export class CliError extends Error {
  readonly code: string;
  readonly details: unknown;
  readonly status: number;
  readonly exitCode: number;
  constructor(code: string, message: string, details: unknown = null, status = 0, exitCode = 1) {
    super(message);
    this.name = "CliError";
    this.code = code;
    this.details = details;
    this.status = status;
    this.exitCode = exitCode;
  }
}

export const usage = (message: string) => new CliError("usage", message, null, 0, 2);

// Errors with stable codes, so callers branch on `code`, not on messages.
export class LodestoneError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LodestoneError";
    this.code = code;
  }
}

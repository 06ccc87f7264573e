// Every error Ambit raises carries a stable code users can grep for (undici's UND_ERR_*, fastify's FST_ERR_*).

export class AmbitError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AmbitError";
    this.code = code;
  }
}

export function isAmbitError(e: unknown, code?: string): e is AmbitError {
  return e instanceof AmbitError && (code === undefined || e.code === code);
}

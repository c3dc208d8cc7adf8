/**
 * Errors with a stable `code` (for `--json` and scripts) and the exit code of
 * CLI.md. Library code throws these; the base command maps them to output.
 * Told apart by `name`/`code`, never by message text.
 */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  INTEGRITY: 4,
  NETWORK: 5,
  NOT_ALLOWED: 6,
} as const

export interface PolarErrorOptions {
  code?: string
  cause?: unknown
}

export class PolarError extends Error {
  override name = 'PolarError'
  readonly code: string
  readonly exit: number = EXIT.FAILURE

  constructor(message: string, options: PolarErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.code = options.code ?? 'FAILURE'
  }
}

/** Bad usage or bad input: a malformed CID or did, an unreadable file (exit 2). */
export class InputError extends PolarError {
  override name = 'InputError'
  override readonly exit = EXIT.USAGE
  constructor(message: string, options: PolarErrorOptions = {}) {
    super(message, {code: 'BAD_INPUT', ...options})
  }
}

/** No such object, block, peer or identity (exit 3). */
export class NotFoundError extends PolarError {
  override name = 'NotFoundError'
  override readonly exit = EXIT.NOT_FOUND
  constructor(message: string, options: PolarErrorOptions = {}) {
    super(message, {code: 'NOT_FOUND', ...options})
  }
}

/** Bytes or a signature do not verify (exit 4). */
export class IntegrityError extends PolarError {
  override name = 'IntegrityError'
  override readonly exit = EXIT.INTEGRITY
  constructor(message: string, options: PolarErrorOptions = {}) {
    super(message, {code: 'INTEGRITY', ...options})
  }
}

/** Network failure, unreachable, or fewer replicas than required (exit 5). */
export class NetworkError extends PolarError {
  override name = 'NetworkError'
  override readonly exit = EXIT.NETWORK
  constructor(message: string, options: PolarErrorOptions = {}) {
    super(message, {code: 'NETWORK', ...options})
  }
}

/** Not the owner, not trusted, rate-limited (exit 6). */
export class NotAllowedError extends PolarError {
  override name = 'NotAllowedError'
  override readonly exit = EXIT.NOT_ALLOWED
  constructor(message: string, options: PolarErrorOptions = {}) {
    super(message, {code: 'NOT_ALLOWED', ...options})
  }
}

/** Turns anything thrown into a PolarError, keeping known system errors readable. */
export function toPolarError(err: unknown): PolarError {
  if (err instanceof PolarError) return err
  const e = err as NodeJS.ErrnoException
  if (e?.code === 'ENOSPC' || e?.code === 'SQLITE_FULL') return new PolarError(`no space left on the device holding POLAR_HOME: ${e.message}`, {code: 'NO_SPACE', cause: e})
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return new PolarError(`permission denied: ${e.message}`, {code: 'PERMISSION', cause: e})
  return new PolarError(e?.message ?? String(err), {code: 'FAILURE', cause: err})
}

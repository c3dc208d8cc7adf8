import type {IncomingMessage, ServerResponse} from 'node:http'
import {InputError, IntegrityError, NetworkError, NotAllowedError, NotFoundError, PolarError} from '../errors.js'

/** JSON control bodies are small; anything bigger is refused before it is read. */
export const MAX_JSON_BODY = 256 * 1024

/** An error that maps to an HTTP status and a stable `code` (the same codes the CLI prints), with any headers its answer needs (a 405's Allow). */
export class HttpError extends Error {
  override name = 'HttpError'
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message)
  }
}

/** Status for a library error crossing the wire, and back (see errorFromResponse). */
export function statusOf(err: unknown): {status: number; code: string; message: string} {
  if (err instanceof HttpError) return {status: err.status, code: err.code, message: err.message}
  if (err instanceof PolarError) {
    if (err.code === 'NO_SPACE') return {status: 507, code: err.code, message: err.message}
    const status = {2: 400, 3: 404, 4: 502, 5: 504, 6: 403}[err.exit as 2 | 3 | 4 | 5 | 6] ?? 500
    return {status, code: err.code, message: err.message}
  }
  return {status: 500, code: 'INTERNAL', message: 'internal error'}
}

/**
 * Reads a request body of at most `limit` bytes. A declared Content-Length over
 * the limit is refused before a byte is read (413); a chunked body is counted
 * as it arrives and cut off at the limit. `inspect` sees each chunk as it
 * arrives and may refuse the body early by throwing.
 */
export function readBody(req: IncomingMessage, limit: number, inspect?: (chunk: Buffer) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = req.headers['content-length']
    if (declared !== undefined && Number(declared) > limit) {
      reject(new HttpError(413, 'TOO_LARGE', `body of ${declared} bytes is over the ${limit}-byte limit`))
      req.resume()
      return
    }
    const parts: Buffer[] = []
    let size = 0
    let done = false
    req.on('data', (chunk: Buffer) => {
      if (done) return
      size += chunk.length
      if (size > limit) {
        done = true
        reject(new HttpError(413, 'TOO_LARGE', `body is over the ${limit}-byte limit`))
        req.resume()
        return
      }
      if (inspect) {
        try {
          inspect(chunk)
        } catch (err) {
          done = true
          reject(err)
          req.resume()
          return
        }
      }
      parts.push(chunk)
    })
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(parts, size))
    })
    req.on('error', (err) => {
      if (!done) reject(new HttpError(400, 'BAD_REQUEST', `request body: ${err.message}`))
      done = true
    })
  })
}

/** Parses a JSON body and hands it to `check`, which throws (400) unless the shape is right. */
export async function readJson<T>(req: IncomingMessage, check: (value: any) => T, limit = MAX_JSON_BODY): Promise<{value: T; raw: Buffer}> {
  const raw = await readBody(req, limit)
  let value: unknown
  try {
    value = JSON.parse(raw.toString('utf8'))
  } catch {
    throw new HttpError(400, 'BAD_JSON', 'body is not valid JSON')
  }
  try {
    return {value: check(value), raw}
  } catch (err) {
    if (err instanceof HttpError) throw err
    throw new HttpError(400, 'BAD_REQUEST', (err as Error).message)
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers})
  res.end(text)
}

/**
 * Resolves once `res` has handed what it queued to the kernel ('drain'):
 * true, or false when the connection closed first. Resolves at once when
 * nothing waits for a drain. No time-out here: an answer nobody reads is cut
 * off by the node's slow-client sweep (src/lib/node/slow-clients.ts), which
 * closes the connection and so ends this wait.
 */
export function drained(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false)
  if (!res.writableNeedDrain) return Promise.resolve(true)
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain)
      res.off('close', onClose)
      resolve(ok)
    }
    const onDrain = () => done(true)
    const onClose = () => done(false)
    res.on('drain', onDrain)
    res.on('close', onClose)
  })
}

/**
 * Frames and blocks are handed to the socket in pieces this big: a write
 * counts as progress once the kernel has taken it whole, so a slow reader is
 * seen to move at every piece rather than at every 1–2 MiB block (the node's
 * slow-client sweep cuts off answers that do not move).
 */
export const WRITE_PIECE_BYTES = 256 * 1024

/** Writes `bytes` in WRITE_PIECE_BYTES pieces; `done` runs once the last piece is handed to the kernel (not on failure). */
export function writeInPieces(res: ServerResponse, bytes: Uint8Array, done?: () => void): void {
  for (let at = 0; at < bytes.length; at += WRITE_PIECE_BYTES) {
    const end = Math.min(bytes.length, at + WRITE_PIECE_BYTES)
    res.write(bytes.subarray(at, end), end === bytes.length && done ? (err?: Error | null) => { if (!err) done() } : undefined)
  }
}

export function sendError(res: ServerResponse, err: unknown): void {
  const {status, code, message} = statusOf(err)
  if (res.headersSent) {
    res.destroy()
    return
  }
  sendJson(res, status, {error: {code, message}})
}

export type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], url: URL) => Promise<void> | void

/** A route table: unknown paths are 404, known paths with the wrong method 405. */
export class Router {
  private readonly routes: Array<{method: string; pattern: RegExp; handler: Handler}> = []

  on(method: string, pattern: RegExp, handler: Handler): this {
    this.routes.push({method, pattern, handler})
    return this
  }

  /** Runs the matching route; returns false when no path matches (so callers can try others). */
  async dispatch(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    let pathMatched = false
    for (const r of this.routes) {
      const m = r.pattern.exec(url.pathname)
      if (!m) continue
      pathMatched = true
      if (r.method !== req.method && !(r.method === 'GET' && req.method === 'HEAD')) continue
      await r.handler(req, res, m.slice(1), url)
      return true
    }
    if (pathMatched) {
      const allow = this.routes.filter((r) => r.pattern.test(url.pathname)).map((r) => r.method).join(', ')
      req.resume()
      sendJson(res, 405, {error: {code: 'METHOD_NOT_ALLOWED', message: `${req.method} is not allowed on ${url.pathname}`}}, {allow})
      return true
    }
    return false
  }
}

/** Parses the request URL without trusting the Host header. */
export function requestUrl(req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? '/', 'http://polar.invalid')
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'malformed request URL')
  }
}

/** Turns an error body from a polar node back into the library error it stood for. */
export function errorFromResponse(status: number, body: any, where: string): PolarError {
  const code = body?.error?.code ?? `HTTP_${status}`
  const message = `${where}: ${body?.error?.message ?? `HTTP ${status}`}`
  if (status === 507) return new PolarError(message, {code})
  // 410: erased by its owner (ERASED), "not found" as for a local erase.
  if (status === 404 || status === 410) return new NotFoundError(message, {code})
  if (status === 403 || status === 429) return new NotAllowedError(message, {code})
  if (status === 400 || status === 413) return new InputError(message, {code})
  if (status === 502 && code === 'INTEGRITY') return new IntegrityError(message, {code})
  return new NetworkError(message, {code})
}


import type {Dispatcher, Pool} from 'undici'
import {IntegrityError, NetworkError, PolarError} from '../../errors.js'

/**
 * Reading a peer's answer under a size cap (issue 20: a peer must not make
 * this node hold memory on its behalf). A declared Content-Length over the
 * cap is refused before a byte is read; a body without one is counted as it
 * comes and cut off at the cap. With a declared length the body is copied
 * once into a buffer of that size instead of collected and concatenated.
 */

/** An answer as it came: status, body (all of it, within its cap) and headers. */
export interface Answer {
  status: number
  body: Buffer
  headers: Record<string, unknown>
}

/** Reads `res`'s body (undici's stream) into memory, at most `max` bytes; `alloc` gives the buffer for a declared length. */
export async function readAnswer(res: Dispatcher.ResponseData, where: string, max: number, alloc: (size: number) => Buffer = Buffer.allocUnsafe): Promise<Answer> {
  const declared = Number(res.headers['content-length'] ?? 0)
  if (declared > max) {
    res.body.destroy()
    throw new IntegrityError(`${where}: response of ${declared} bytes is over the ${max}-byte limit`)
  }
  const into = declared > 0 ? alloc(declared) : undefined
  const parts: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of res.body) {
      if (size + chunk.length > max || (into && size + chunk.length > into.length)) {
        res.body.destroy()
        throw new IntegrityError(`${where}: response is over the ${into ? `declared ${into.length}` : `${max}`}-byte limit`)
      }
      if (into) chunk.copy(into, size)
      else parts.push(chunk)
      size += chunk.length
    }
  } catch (err) {
    if (err instanceof PolarError) throw err
    throw new NetworkError(`${where}: ${(err as Error).message}`, {cause: err})
  }
  if (into && size !== into.length) throw new NetworkError(`${where}: response ended after ${size} of ${into.length} bytes`)
  return {status: res.statusCode, body: into ?? Buffer.concat(parts, size), headers: res.headers}
}

export interface DispatchInto {
  method: string
  path: string
  headers: Record<string, string>
  body?: Buffer
  /** The largest body taken; a 200's body of declared length goes into `alloc(length)`. */
  maxBytes: number
  alloc: (size: number) => Buffer
  signal: AbortSignal
  /** The caller's own signal: its abort is passed on as it is, not as a NetworkError. */
  callerSignal?: AbortSignal
  timeoutMs: number
}

/**
 * Like readAnswer, for bulk bodies: undici's dispatch hands each chunk of the
 * response straight to us and it is copied once into a buffer of the
 * declared length, with no body stream (whose buffering concatenates chunks,
 * a second copy of everything). Error bodies and bodies without a length are
 * collected as they come, up to `maxBytes`.
 */
export function dispatchInto(pool: Pool, where: string, r: DispatchInto): Promise<Answer> {
  const {signal} = r
  return new Promise((resolve, reject) => {
    let status = 0
    let headers: Record<string, unknown> = {}
    let into: Buffer | undefined
    const parts: Buffer[] = []
    let size = 0
    let settled = false
    let abortRequest: ((reason: Error) => void) | undefined
    // Aborted before undici started the request (queued for a connection): settle now; onRequestStart then aborts it.
    const onAbort = () => {
      const reason = signal.reason instanceof Error ? signal.reason : new Error('aborted')
      if (abortRequest) abortRequest(reason)
      else finish(reason)
    }
    const finish = (err: unknown, value?: Answer) => {
      if (settled) return
      settled = true
      signal.removeEventListener('abort', onAbort)
      if (err === undefined) resolve(value!)
      else if (r.callerSignal?.aborted || err instanceof PolarError) reject(err)
      else reject(new NetworkError(`${where}: ${(err as Error).message}`, {cause: err}))
    }
    const fail = (controller: {abort(reason: Error): void}, err: Error) => {
      finish(err)
      controller.abort(err)
    }
    signal.addEventListener('abort', onAbort, {once: true})
    pool.dispatch({method: r.method as 'POST', path: r.path, headers: r.headers, body: r.body, headersTimeout: r.timeoutMs, bodyTimeout: r.timeoutMs}, {
      onRequestStart(controller) {
        abortRequest = (reason) => controller.abort(reason)
        if (signal.aborted || settled) controller.abort(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
      },
      onResponseStart(controller, statusCode, resHeaders) {
        status = statusCode
        headers = resHeaders
        const declared = Number(resHeaders['content-length'] ?? 0)
        if (declared > r.maxBytes) return fail(controller, new IntegrityError(`${where}: response of ${declared} bytes is over the ${r.maxBytes}-byte limit`))
        if (declared > 0 && statusCode === 200) into = r.alloc(declared)
      },
      onResponseData(controller, chunk) {
        if (settled) return
        if (into) {
          if (size + chunk.length > into.length) return fail(controller, new IntegrityError(`${where}: response is over its declared ${into.length} bytes`))
          chunk.copy(into, size)
        } else {
          if (size + chunk.length > r.maxBytes) return fail(controller, new IntegrityError(`${where}: response is over the ${r.maxBytes}-byte limit`))
          parts.push(chunk)
        }
        size += chunk.length
      },
      onResponseEnd() {
        if (into && size !== into.length) return finish(new NetworkError(`${where}: response ended after ${size} of ${into.length} bytes`))
        finish(undefined, {status, headers, body: into ?? Buffer.concat(parts, size)})
      },
      onResponseError(_controller, err) {
        finish(err)
      },
    })
  })
}

/** An answer body as JSON, or undefined when it is not JSON. */
export function safeJson(body: Buffer): any {
  try {
    return JSON.parse(body.toString('utf8'))
  } catch {
    return undefined
  }
}

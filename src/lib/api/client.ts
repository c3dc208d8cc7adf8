import {httpUrl} from '../net/address.js'
import {request as httpRequest, type IncomingMessage} from 'node:http'
import {basename, resolve} from 'node:path'
import type {Writable} from 'node:stream'
import {InputError, NetworkError} from '../errors.js'
import {errorFromResponse} from '../net/http.js'
import type {PushResult} from '../objects/index.js'
import type {PullResult} from '../util/output.js'

/** Must match ERROR_TRAILER in src/lib/node/local-api.ts. */
const ERROR_TRAILER = 'x-polar-error'

export interface NodePushInput {
  file: string
  name?: string
  tags?: string[]
  mime?: string
  key?: string
  replicas?: number
  minReplicas?: number
  /** push --base: earlier version to delta-encode against, or "none". */
  base?: string
}

/**
 * The CLI's side of the local API on POLAR_HOME/polar.sock. Built on
 * node:http (no extra module to load) so scripted calls through a running
 * node stay fast.
 */
export class LocalNodeClient {
  constructor(readonly socketPath: string) {}

  private request(method: string, path: string, body?: NodeJS.ReadableStream | Buffer): Promise<IncomingMessage> {
    return new Promise((resolvePromise, reject) => {
      const req = httpRequest({socketPath: this.socketPath, method, path, headers: body instanceof Buffer ? {'content-type': 'application/json', 'content-length': body.length} : {}}, resolvePromise)
      req.on('error', (err) => reject(new NetworkError(`local node at ${this.socketPath}: ${err.message}; is \`polar serve\` still running?`, {cause: err})))
      if (Buffer.isBuffer(body)) req.end(body)
      else if (body) {
        const stream = body as NodeJS.ReadableStream & {on(event: 'error', fn: (err: Error) => void): void}
        stream.on('error', (err: Error) => req.destroy(err))
        stream.pipe(req)
      } else req.end()
    })
  }

  private async readAll(res: IncomingMessage): Promise<any> {
    const parts: Buffer[] = []
    for await (const c of res) parts.push(c as Buffer)
    const text = Buffer.concat(parts).toString('utf8')
    try {
      return text ? JSON.parse(text) : undefined
    } catch {
      throw new NetworkError(`local node answered ${res.statusCode} with a body that is not JSON`)
    }
  }

  async json<T = any>(method: string, path: string, payload?: unknown): Promise<T> {
    const res = await this.request(method, path, payload === undefined ? undefined : Buffer.from(JSON.stringify(payload)))
    const body = await this.readAll(res)
    if (res.statusCode! >= 300) throw errorFromResponse(res.statusCode!, body, 'node')
    return body as T
  }

  async push(input: NodePushInput): Promise<PushResult & {nodes?: string[]}> {
    const q = new URLSearchParams()
    if (input.name !== undefined) q.set('name', input.name)
    for (const t of input.tags ?? []) q.append('tag', t)
    if (input.mime) q.set('mime', input.mime)
    if (input.key) q.set('key', input.key)
    if (input.replicas !== undefined) q.set('replicas', String(input.replicas))
    if (input.minReplicas !== undefined) q.set('minReplicas', String(input.minReplicas))
    if (input.base !== undefined) q.set('base', input.base)
    let body: NodeJS.ReadableStream | undefined
    if (input.file === '-') body = process.stdin
    else {
      // Same user, same machine: the node reads the file itself (no copy through the socket).
      const path = resolve(input.file)
      q.set('path', path)
      if (input.name === undefined) q.set('name', basename(path))
    }
    const res = await this.request('POST', `/api/v1/push?${q}`, body)
    const parsed = await this.readAll(res)
    if (res.statusCode! >= 300) throw errorFromResponse(res.statusCode!, parsed, 'node')
    return parsed
  }

  /**
   * Pulls through the node. A regular file (`output`) is written by the node,
   * atomically. Anything else is streamed here: to `stdout`, or into `output`
   * when it is a FIFO or a device (util/output-target.ts), which this process
   * opens itself: `/dev/stdout` or `/proc/self/fd/3` mean this process's, not
   * the node's.
   */
  async pull(cid: string, output: string | undefined, stdout: Writable = process.stdout, options: {force?: boolean} = {}): Promise<PullResult> {
    if (output) {
      const {writesInto} = await import('../util/output-target.js')
      if (!writesInto(output)) return this.json('GET', `/api/v1/pull/${encodeURIComponent(cid)}?out=${encodeURIComponent(resolve(output))}`)
    }
    const res = await this.request('GET', `/api/v1/pull/${encodeURIComponent(cid)}`)
    if (res.statusCode !== 200) throw errorFromResponse(res.statusCode!, await this.readAll(res), 'node')
    // writeChunks handles back-pressure and a reader that goes away (EPIPE: `polar pull X | head`).
    const {writeChunks} = await import('../util/output.js')
    const path = output ? resolve(output) : undefined
    const written = await writeChunks(cid, res as AsyncIterable<Uint8Array>, path === undefined ? {stdout, force: options.force} : {output: path})
    if (written.readerGone) {
      res.destroy()
      return {cid, size: written.size, ...(path === undefined ? {} : {path})}
    }
    const trailer = res.trailers[ERROR_TRAILER]
    if (trailer) {
      let e: any
      try {
        e = JSON.parse(trailer)
      } catch {
        e = {code: 'FAILURE', message: trailer}
      }
      const status = e.code === 'INTEGRITY' ? 502 : e.code === 'NOT_FOUND' ? 404 : 504
      throw errorFromResponse(status, {error: e}, 'node')
    }
    if (!res.complete) throw new NetworkError('the node closed the stream early; the pull is incomplete (run it again to resume)')
    return {cid, size: written.size, ...(path === undefined ? {} : {path})}
  }
}

export function assertUrl(node: string): URL {
  const u = httpUrl(node)
  if (u) return u
  throw new InputError(`--node must be an http(s) URL or the path of a node's socket, got ${JSON.stringify(node)}`)
}


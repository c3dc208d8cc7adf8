import {request as httpRequest, type IncomingMessage} from 'node:http'
import {basename, resolve} from 'node:path'
import {NetworkError} from '../errors.js'
import {errorFromResponse} from '../net/http.js'
import type {CallOptions, ClientInit, ClientPullInput, ClientPushInput, ClientSearchInput, EraseResult, NatReport, PeerRow, PolarClient, PullResult, PushResult, ScoreResult, SearchReport, SeedReport, TargetNotes, TrustChange, TrustChangeResult, TrustEntry} from './index.js'
import {defaultDid, loadKey, peerRow} from './common.js'
import type {TrustPort} from './trust.js'

/** Must match ERROR_TRAILER in src/lib/node/local-api.ts. */
const ERROR_TRAILER = 'x-polar-error'

/** The local API's routes (docs/protocol.md "Local API"): every /api/ path the CLI uses is here. */
const API = '/api/v1'

/**
 * The node on this home (or the one whose socket --node names), through its
 * local API on POLAR_HOME/polar.sock. Built on node:http (no extra module to
 * load) and importing nothing heavy up front, so scripted calls through a
 * running node stay fast; `polar pull`'s fast path (cli/fast-pull.ts) uses
 * it without oclif.
 */
export class LocalNodeClient implements PolarClient {
  readonly notes: TargetNotes = {source: 'local node', pushed: '', erased: ''}
  private readonly home: string | undefined

  constructor(readonly socketPath: string, init: Partial<ClientInit> = {}) {
    this.home = init.home
  }

  private request(method: string, path: string, body?: NodeJS.ReadableStream | Buffer, signal?: AbortSignal): Promise<IncomingMessage> {
    return new Promise((resolvePromise, reject) => {
      const req = httpRequest({socketPath: this.socketPath, method, path, signal, headers: body instanceof Buffer ? {'content-type': 'application/json', 'content-length': body.length} : {}}, resolvePromise)
      req.on('error', (err) => reject(signal?.aborted ? signal.reason : new NetworkError(`local node at ${this.socketPath}: ${err.message}; is \`polar serve\` still running?`, {cause: err})))
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

  /** One local-API call with a JSON answer; an error answer becomes the library error again (net/http.ts). */
  private async json<T = any>(method: string, path: string, payload?: unknown, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted()
    const res = await this.request(method, API + path, payload === undefined ? undefined : Buffer.from(JSON.stringify(payload)), signal)
    const body = await this.readAll(res)
    if (res.statusCode! >= 300) throw errorFromResponse(res.statusCode!, body, 'node')
    return body as T
  }

  private requireHome(): string {
    if (this.home === undefined) throw new Error('LocalNodeClient: this call needs the home (ClientInit.home)')
    return this.home
  }

  async push(input: ClientPushInput): Promise<PushResult & {nodes?: string[]}> {
    input.signal?.throwIfAborted()
    // The key is loaded (or `default` created) here too, so a missing --key is exit 3 before anything is sent.
    await loadKey(this.requireHome(), input.key, true)
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
    const res = await this.request('POST', `${API}/push?${q}`, body, input.signal)
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
  async pull(input: ClientPullInput): Promise<PullResult> {
    const {cid, output, signal} = input
    signal?.throwIfAborted()
    if (output) {
      const {writesInto} = await import('../util/output-target.js')
      if (!writesInto(output)) return this.json('GET', `/pull/${encodeURIComponent(cid)}?out=${encodeURIComponent(resolve(output))}`, undefined, signal)
    }
    const res = await this.request('GET', `${API}/pull/${encodeURIComponent(cid)}`, undefined, signal)
    if (res.statusCode !== 200) throw errorFromResponse(res.statusCode!, await this.readAll(res), 'node')
    // writeChunks handles back-pressure and a reader that goes away (EPIPE: `polar pull X | head`).
    const {writeChunks} = await import('../util/output.js')
    const path = output ? resolve(output) : undefined
    const written = await writeChunks(cid, res as AsyncIterable<Uint8Array>, path === undefined ? {stdout: input.stdout ?? process.stdout, force: input.force, signal} : {output: path, signal})
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

  /** The node finds the records, signs with its home's `key`, and tells its peers. */
  erase(input: {cid: string; key: string} & CallOptions): Promise<EraseResult> {
    return this.json('POST', '/erase', {cid: input.cid, key: input.key}, input.signal)
  }

  /** The node searches its index and fans out to its peers. */
  async search(input: ClientSearchInput): Promise<SearchReport> {
    input.signal?.throwIfAborted()
    const self = await defaultDid(this.requireHome())
    const {parseQuery, queryParams} = await import('../search/index.js')
    const q = parseQuery(input)
    const p = queryParams({...q, query: input.query ?? ''}, self ? {from: self} : {})
    return this.json('GET', `/search?${p}`, undefined, input.signal)
  }

  private trustPort(signal?: AbortSignal): TrustPort {
    return {
      record: async (owner) => (await this.json('GET', `/trust/${owner}`, undefined, signal))?.record ?? null,
      publish: async (bytes) => (await this.json('POST', '/trust', {record: Buffer.from(bytes).toString('base64')}, signal)).stored,
      score: (self, did) => this.json('GET', `/trust/${did}/score?from=${encodeURIComponent(self)}`, undefined, signal),
    }
  }

  async listTrust(key: string, options: CallOptions = {}): Promise<{owner: string; trusts: TrustEntry[]}> {
    options.signal?.throwIfAborted()
    const identity = await loadKey(this.requireHome(), key, true)
    const {listTrust} = await import('./trust.js')
    return {owner: identity.did, trusts: await listTrust(this.trustPort(options.signal), identity.did)}
  }

  async changeTrust(key: string, change: TrustChange, options: CallOptions = {}): Promise<TrustChangeResult> {
    options.signal?.throwIfAborted()
    const identity = await loadKey(this.requireHome(), key, true)
    const {changeTrust} = await import('./trust.js')
    return changeTrust(this.trustPort(options.signal), identity, change)
  }

  async scoreTrust(key: string, did: string, options: CallOptions = {}): Promise<ScoreResult> {
    options.signal?.throwIfAborted()
    const identity = await loadKey(this.requireHome(), key, true)
    const {scoreTrust} = await import('./trust.js')
    return scoreTrust(this.trustPort(options.signal), identity.did, did)
  }

  /** The node checks every record, then registers with each new peer and gossips them on. */
  seed(urls: string[], options: CallOptions = {}): Promise<SeedReport> {
    return this.json('POST', '/seed', {urls}, options.signal)
  }

  async listPeers(options: CallOptions = {}): Promise<PeerRow[]> {
    return (await this.json('GET', '/peers', undefined, options.signal)).peers.map(peerRow)
  }

  async addPeer(url: string, options: CallOptions = {}): Promise<{did: string; url: string; state: string}> {
    const peer = await this.json('POST', '/peers', {url}, options.signal)
    return {did: peer.did, url: peer.url, state: peer.state}
  }

  removePeer(did: string, options: CallOptions = {}): Promise<{did: string; removed: boolean}> {
    return this.json('DELETE', `/peers/${did}`, undefined, options.signal)
  }

  pingPeer(did: string, options: CallOptions = {}): Promise<{did: string; url: string; rttMs: number}> {
    return this.json('POST', `/peers/${did}/ping`, undefined, options.signal)
  }

  /** The node's identity signs and its announced URL is tested (issue 4). */
  natTest(via: string[], options: CallOptions = {}): Promise<NatReport> {
    const query = via.map((v) => `via=${encodeURIComponent(v)}`).join('&')
    return this.json('POST', `/nat-test${query ? '?' + query : ''}`, undefined, options.signal)
  }

  async close(): Promise<void> {}
}

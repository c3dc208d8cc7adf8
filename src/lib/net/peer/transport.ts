import type {Readable} from 'node:stream'
import type {CID} from 'multiformats/cid'
import {Pool} from 'undici'
import {InputError, IntegrityError, NetworkError} from '../../errors.js'
import {isDid, type Identity} from '../../identity/index.js'
import {sleep} from '../../util/sleep.js'
import {httpUrl} from '../address.js'
import {signRequest} from '../auth.js'
import {pinnedLookup} from '../dial.js'
import {decodeFrames, MAX_BATCH_BYTES} from '../frames.js'
import {errorFromResponse} from '../http.js'
import {sharedAlloc} from '../../content/hash-pool.js'
import {type Answer, dispatchInto, readAnswer, safeJson} from './answers.js'
import {BulkClient, type BulkFrame} from './bulk.js'
import {type OutgoingGate, outgoingCounters} from './gate.js'

/** Persistent connections kept to one peer (undici pool). */
export const CONNECTIONS_PER_PEER = 8
export const REQUEST_TIMEOUT_MS = 30_000
/** The hello that learns a peer's did before a first signed request. */
const HELLO_TIMEOUT_MS = 10_000
/** Retries of a request a peer answered 429/503 with Retry-After (draft 002 "Manage rate caps"). */
export const MAX_RETRIES = 3
/** A Retry-After longer than this is not waited for: the error goes to the caller. */
export const MAX_RETRY_AFTER_MS = 10_000
/** An answer's body is refused past this unless the request allows more (a block: 2 MiB; a batch: MAX_BATCH_BYTES). */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024
/** Connections the bulk client keeps to one peer (at most the pool's). */
const BULK_CONNECTIONS = 4

/** Milliseconds a Retry-After header asks for (delta-seconds or an HTTP date), or undefined. */
export function retryAfterMs(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value === '') return undefined
  if (/^\d{1,9}$/.test(value)) return Number(value) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

export interface Hello {
  did: string
  url: string
  version: number
  services: string
}

/** What every call to a peer takes. */
export interface RequestOptions {
  signal?: AbortSignal
  /** The whole request's time-out (default: the client's, 30 s). */
  timeoutMs?: number
}

export interface Exchange extends RequestOptions {
  /** Sign with the client's identity, addressed to the peer's did (learned with one hello first). */
  sign?: boolean
  contentType?: string
  /** The largest answer body taken (default MAX_ANSWER_BYTES). */
  maxBytes?: number
  /** Memory for an answer body of declared length. */
  alloc?: (size: number) => Buffer
}

export interface TransportOptions {
  /** Signs requests that change state (docs/protocol.md "Signed requests"). */
  identity?: Identity
  /** Persistent connections to this peer (default CONNECTIONS_PER_PEER). */
  connections?: number
  /** A cap on requests in flight shared with other clients (the node's). */
  gate?: OutgoingGate
  /** The time-out of a request that names none. */
  timeoutMs?: number
  /**
   * Every connection goes to this address (net/dial.ts): the one a check
   * looked at, so a name re-pointed after the check cannot send it elsewhere.
   */
  address?: string
}

/**
 * The one way polar talks to a peer's public API (docs/protocol.md): an
 * undici Pool of persistent connections per peer, requests signed with this
 * node's key where the route wants it, a slot of the shared OutgoingGate per
 * request, 429/503 with a short Retry-After waited out and retried, a
 * time-out per request and a size cap on every answer. Block batches from
 * plain-http peers take the bulk client instead (bulk.ts), which reads them
 * straight into their memory. The typed calls are in the sub-clients
 * (index.ts); nothing here knows a route but /v1/hello.
 */
export class PeerTransport {
  readonly origin: string
  readonly identity: Identity | undefined
  private readonly pool: Pool
  private readonly gate: OutgoingGate | undefined
  private readonly defaultTimeoutMs: number
  private readonly connections: number
  private readonly address: string | undefined
  /** Made at the first batch (null: https, which undici serves). */
  private bulk: BulkClient | null | undefined
  private peerDid: string | undefined

  constructor(url: string, options: TransportOptions = {}) {
    const u = httpUrl(url)
    if (!u) throw new InputError(`peer URL must be an http(s) URL: ${url}`)
    this.origin = u.origin
    this.identity = options.identity
    this.gate = options.gate
    this.defaultTimeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS
    this.connections = options.connections ?? CONNECTIONS_PER_PEER
    this.address = options.address
    const connect = options.address ? {connect: {lookup: pinnedLookup(options.address)}} : {}
    this.pool = new Pool(this.origin, {connections: this.connections, keepAliveTimeout: 30_000, headersTimeout: this.defaultTimeoutMs, bodyTimeout: this.defaultTimeoutMs, ...connect})
  }

  /**
   * One request, retried up to MAX_RETRIES times when the peer answers 429 or
   * 503 with a Retry-After it can wait for (each try is signed afresh: the
   * replay guard refuses a nonce twice). The gate slot is not held while waiting.
   */
  async request(method: string, path: string, body: Uint8Array | undefined, options: Exchange = {}): Promise<Answer> {
    // Learned before taking a gate slot: a hello made while holding one could
    // wait forever for a slot when the gate is full.
    const to = options.sign && this.identity ? await this.receiverDid(options) : undefined
    const bytes = body ? Buffer.from(body.buffer, body.byteOffset, body.length) : undefined
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {}
      if (bytes) headers['content-type'] = options.contentType ?? 'application/json'
      if (to !== undefined) Object.assign(headers, signRequest(this.identity!, method, path, bytes, Date.now(), to))
      const r = await this.gated(options.signal, () => this.once(method, path, headers, bytes, options))
      if (r.status !== 429 && r.status !== 503) return r
      const wait = retryAfterMs(r.headers['retry-after'])
      if (wait === undefined || wait > MAX_RETRY_AFTER_MS) return r
      if (attempt >= MAX_RETRIES) {
        outgoingCounters.gaveUp++
        return r
      }
      outgoingCounters.retried++
      await sleep(wait, options.signal)
    }
  }

  /** request() with a JSON body (or none) and a JSON answer; a status of 300 or more is the error it stands for. */
  async json(method: string, path: string, payload: unknown, options: Exchange = {}): Promise<any> {
    const r = await this.request(method, path, payload === undefined ? undefined : Buffer.from(JSON.stringify(payload)), options)
    let parsed: any
    try {
      parsed = r.body.length ? JSON.parse(r.body.toString('utf8')) : undefined
    } catch {
      throw new NetworkError(`${this.origin}${path}: answered with something that is not JSON (is it a polar node?)`)
    }
    if (r.status >= 300) throw errorFromResponse(r.status, parsed, this.origin)
    return parsed
  }

  /**
   * A request whose body is a stream of `size` bytes, sent as the peer takes
   * it (undici writes the next chunk when the socket drains: back-pressure,
   * nothing buffered whole). Not signed and not retried: a stream cannot be
   * sent twice. Its length scales with the body, so `timeoutMs` bounds the
   * silences (undici's header and body time-outs), not the whole transfer.
   */
  async stream(method: string, path: string, body: Readable, size: number, options: Omit<Exchange, 'sign'> = {}): Promise<Answer> {
    const ms = options.timeoutMs ?? this.defaultTimeoutMs
    const headers = {'content-type': options.contentType ?? 'application/octet-stream', 'content-length': String(size)}
    return this.gated(options.signal, async () => {
      let res
      try {
        res = await this.pool.request({method: method as 'PUT', path, headers, body, signal: options.signal, headersTimeout: ms, bodyTimeout: ms})
      } catch (err) {
        if (options.signal?.aborted) throw err
        throw new NetworkError(`${this.origin}${path}: ${(err as Error).message}`, {cause: err})
      }
      return readAnswer(res, `${this.origin}${path}`, options.maxBytes ?? MAX_ANSWER_BYTES, options.alloc)
    })
  }

  /**
   * A POST whose 200 answer is block frames (docs/protocol.md "Block
   * batches"), NOT verified: from a plain-http peer through the bulk client,
   * each block read into `alloc(size, cid)` and hashed as it arrives
   * (BulkFrame.sha256); from an https peer through undici into shared memory,
   * which the hash pool's worker threads then check. Takes a gate slot like
   * any request; a 429/503 is not retried here (the fetcher falls back to
   * single blocks, which are). Any other status comes back as it is.
   */
  async frames(path: string, body: Uint8Array, options: RequestOptions & {alloc: (size: number, cid: CID) => Buffer}): Promise<{status: number; body: Buffer; frames: BulkFrame[]}> {
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs
    const bulk = this.bulkClient()
    if (bulk) {
      const r = await this.gated(options.signal, () => bulk.post({path, body, contentType: 'application/json', maxBytes: MAX_BATCH_BYTES, alloc: Buffer.allocUnsafe, frames: {alloc: options.alloc}, signal: options.signal, timeoutMs}))
      return {status: r.status, body: r.body, frames: r.frames ?? []}
    }
    const bytes = Buffer.from(body.buffer, body.byteOffset, body.length)
    const r = await this.gated(options.signal, () => {
      const {ms, signal} = this.deadline(options)
      return dispatchInto(this.pool, `${this.origin}${path}`, {method: 'POST', path, headers: {'content-type': 'application/json'}, body: bytes, maxBytes: MAX_BATCH_BYTES, alloc: sharedAlloc, signal, callerSignal: options.signal, timeoutMs: ms})
    })
    if (r.status !== 200) return {status: r.status, body: r.body, frames: []}
    try {
      return {status: r.status, body: r.body, frames: decodeFrames(r.body) as BulkFrame[]}
    } catch (err) {
      throw new IntegrityError(`${this.origin}: malformed block batch: ${(err as Error).message}`)
    }
  }

  /** GET /v1/hello: the peer's did (checked to be a did:key: callers store and compare it), kept for signing. */
  async hello(options: RequestOptions = {}): Promise<Hello> {
    const hello = await this.json('GET', '/v1/hello', undefined, options)
    if (typeof hello?.did !== 'string' || !isDid(hello.did)) throw new NetworkError(`${this.origin}/v1/hello answered without a node did: is it a polar node?`)
    this.peerDid = hello.did
    return hello
  }

  /** An error answer as the library error it stands for. */
  refusal(r: {status: number; body: Buffer}): Error {
    return errorFromResponse(r.status, safeJson(r.body), this.origin)
  }

  close(): Promise<void> {
    this.bulk?.close()
    return this.pool.close()
  }

  destroy(): Promise<void> {
    this.bulk?.close()
    return this.pool.destroy()
  }

  /** The did signed requests are addressed to: learned from /v1/hello, once. */
  private async receiverDid(options: RequestOptions): Promise<string> {
    // Only the caller's signal and a short timeout carry over: the hello is
    // unsigned (a signed one would need the did it is fetching) and must not
    // inherit a long transfer timeout such as replicate's.
    return this.peerDid ?? (await this.hello({signal: options.signal, timeoutMs: Math.min(options.timeoutMs ?? this.defaultTimeoutMs, HELLO_TIMEOUT_MS)})).did
  }

  private async gated<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    const release = this.gate ? await this.gate.acquire(signal) : undefined
    try {
      return await work()
    } finally {
      release?.()
    }
  }

  /** A request's time-out (the client's unless it names one) and its signal: the caller's, or the time-out's. */
  private deadline(options: RequestOptions): {ms: number; signal: AbortSignal} {
    const ms = options.timeoutMs ?? this.defaultTimeoutMs
    const timeout = AbortSignal.timeout(ms)
    return {ms, signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout}
  }

  /** One try: the time-out covers the whole exchange; the body is read under its cap. */
  private async once(method: string, path: string, headers: Record<string, string>, body: Buffer | undefined, options: Exchange): Promise<Answer> {
    const {ms, signal} = this.deadline(options)
    const where = `${this.origin}${path}`
    let res
    try {
      // The pool's own header/body time-outs would cut short a request allowed longer (a replication: 10 min).
      res = await this.pool.request({method: method as 'GET', path, headers, body, signal, headersTimeout: ms, bodyTimeout: ms})
    } catch (err) {
      if (options.signal?.aborted) throw err
      throw new NetworkError(`${where}: ${(err as Error).message}`, {cause: err})
    }
    return readAnswer(res, where, options.maxBytes ?? MAX_ANSWER_BYTES, options.alloc)
  }

  private bulkClient(): BulkClient | null {
    if (this.bulk === undefined) this.bulk = BulkClient.for(this.origin, Math.min(BULK_CONNECTIONS, this.connections), this.address) ?? null
    return this.bulk
  }
}

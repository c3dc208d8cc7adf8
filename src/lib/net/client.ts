import {Pool} from 'undici'
import type {CID} from 'multiformats/cid'
import {verifyBlock} from '../content/cid.js'
import {MAX_BLOCK_SIZE} from '../content/constants.js'
import {IntegrityError, NetworkError, NotFoundError, PolarError, InputError} from '../errors.js'
import {errorFromResponse} from './http.js'

export {errorFromResponse}
import {isDid, type Identity} from '../identity/index.js'
import {signRequest} from './auth.js'
import {decodeFrames, MAX_BATCH_BYTES} from './frames.js'
import {BulkClient, type BulkFrame} from './bulk.js'
import {httpUrl} from './address.js'
import {pinnedLookup} from './dial.js'
import {MAX_REGISTER_BITS, mintStamp, registerStampResource} from '../records/stamp.js'
import {sharedAlloc} from '../content/hash-pool.js'

/** Persistent connections kept to one peer (undici pool). */
export const CONNECTIONS_PER_PEER = 8
export const REQUEST_TIMEOUT_MS = 30_000
/** The hello that learns a peer's did before a first signed request. */
const HELLO_TIMEOUT_MS = 10_000
/** Retries of a request a peer answered 429/503 with Retry-After (draft 002 "Manage rate caps"). */
export const MAX_RETRIES = 3
/** A Retry-After longer than this is not waited for: the error goes to the caller. */
export const MAX_RETRY_AFTER_MS = 10_000

export {OutgoingGate, outgoingCounters} from './gate.js'
import {OutgoingGate, outgoingCounters} from './gate.js'

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

export interface RequestOptions {
  signal?: AbortSignal
  timeoutMs?: number
}

/**
 * Talks to one peer's public API over persistent connections. Every block
 * that comes back is checked against its CID (and the 2 MiB cap) before it is
 * returned; requests are signed with this node's key when one is given.
 */
export class PeerClient {
  readonly origin: string
  private readonly pool: Pool
  /** Batched block answers, read straight into their buffer (plain http only; see bulk.ts). */
  private readonly bulk: BulkClient | undefined
  private peerDid: string | undefined
  private readonly gate: OutgoingGate | undefined

  /** A request's time-out when it names none. */
  private readonly defaultTimeoutMs: number

  /**
   * `address` pins every connection to that address (net/dial.ts): the one a
   * dial-back checked, so a name re-resolved in between cannot send it
   * elsewhere. Such a client has no bulk client (it resolves on its own).
   */
  constructor(url: string, private readonly identity?: Identity, connections = CONNECTIONS_PER_PEER, options: {gate?: OutgoingGate; timeoutMs?: number; address?: string} = {}) {
    this.gate = options.gate
    this.defaultTimeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS
    const u = httpUrl(url)
    if (!u) throw new InputError(`peer URL must be an http(s) URL: ${url}`)
    this.origin = u.origin
    const connect = options.address ? {connect: {lookup: pinnedLookup(options.address)}} : {}
    this.pool = new Pool(this.origin, {connections, keepAliveTimeout: 30_000, headersTimeout: this.defaultTimeoutMs, bodyTimeout: this.defaultTimeoutMs, ...connect})
    this.bulk = options.address ? undefined : BulkClient.for(this.origin, Math.min(4, connections))
  }

  /**
   * One request, retried up to MAX_RETRIES times when the peer answers 429 or
   * 503 with a Retry-After it can wait for (each try is signed afresh: the
   * replay guard refuses a nonce twice). The global gate slot is not held while waiting.
   */
  private async request(method: string, path: string, body: Uint8Array | undefined, options: RequestOptions & {sign?: boolean; contentType?: string; maxBytes?: number; alloc?: (size: number) => Buffer}): Promise<{status: number; body: Buffer; headers: Record<string, unknown>}> {
    // Learned before taking a gate slot: a hello made while holding one could
    // wait forever for a slot when the gate is full.
    const to = options.sign && this.identity ? await this.receiverDid(options) : undefined
    for (let attempt = 0; ; attempt++) {
      const release = this.gate ? await this.gate.acquire(options.signal) : undefined
      let r
      try {
        r = await this.requestOnce(method, path, body, options, to)
      } finally {
        release?.()
      }
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

  private async requestOnce(method: string, path: string, body: Uint8Array | undefined, options: RequestOptions & {contentType?: string; maxBytes?: number; alloc?: (size: number) => Buffer}, to?: string): Promise<{status: number; body: Buffer; headers: Record<string, unknown>}> {
    const headers: Record<string, string> = {}
    if (body) headers['content-type'] = options.contentType ?? 'application/json'
    if (to !== undefined && this.identity) Object.assign(headers, signRequest(this.identity, method, path, body, Date.now(), to))
    const ms = options.timeoutMs ?? this.defaultTimeoutMs
    const timeout = AbortSignal.timeout(ms)
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout
    let res
    try {
      // The pool's own 30 s header/body time-outs would cut short a request allowed longer (a replication: 10 min).
      res = await this.pool.request({method: method as 'GET', path, headers, body: body ? Buffer.from(body.buffer, body.byteOffset, body.length) : undefined, signal, headersTimeout: ms, bodyTimeout: ms})
    } catch (err) {
      if (options.signal?.aborted) throw err
      throw new NetworkError(`${this.origin}${path}: ${(err as Error).message}`, {cause: err})
    }
    const max = options.maxBytes ?? 4 * 1024 * 1024
    const declared = Number(res.headers['content-length'] ?? 0)
    if (declared > max) {
      res.body.destroy()
      throw new IntegrityError(`${this.origin}${path}: response of ${declared} bytes is over the ${max}-byte limit`)
    }
    // With a declared length (blocks always have one) the body is copied once
    // into a buffer of that size instead of collected and concatenated.
    const into = declared > 0 ? (options.alloc ?? Buffer.allocUnsafe)(declared) : undefined
    const parts: Buffer[] = []
    let size = 0
    try {
      for await (const chunk of res.body) {
        if (size + chunk.length > max || (into && size + chunk.length > into.length)) {
          res.body.destroy()
          throw new IntegrityError(`${this.origin}${path}: response is over the ${into ? `declared ${into.length}` : `${max}`}-byte limit`)
        }
        if (into) chunk.copy(into, size)
        else parts.push(chunk)
        size += chunk.length
      }
    } catch (err) {
      if (err instanceof PolarError) throw err
      throw new NetworkError(`${this.origin}${path}: ${(err as Error).message}`, {cause: err})
    }
    if (into && size !== into.length) throw new NetworkError(`${this.origin}${path}: response ended after ${size} of ${into.length} bytes`)
    return {status: res.statusCode, body: into ?? Buffer.concat(parts, size), headers: res.headers}
  }

  /**
   * Like request(), for bulk bodies: undici's dispatch hands each chunk of the
   * response straight to us and it is copied once into a buffer of the
   * declared length (from `alloc`), with no body stream (whose buffering
   * concatenates chunks, a second copy of everything). Error bodies and
   * bodies without a length are collected as they come, up to `maxBytes`.
   */
  private requestInto(method: string, path: string, body: Uint8Array | undefined, options: RequestOptions & {contentType?: string; maxBytes: number; alloc?: (size: number) => Buffer}): Promise<{status: number; body: Buffer}> {
    const headers: Record<string, string> = {}
    if (body) headers['content-type'] = options.contentType ?? 'application/json'
    const ms = options.timeoutMs ?? this.defaultTimeoutMs
    const timeout = AbortSignal.timeout(ms)
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout
    const where = `${this.origin}${path}`
    return new Promise((resolve, reject) => {
      let status = 0
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
      const finish = (err: unknown, value?: {status: number; body: Buffer}) => {
        if (settled) return
        settled = true
        signal.removeEventListener('abort', onAbort)
        if (err === undefined) resolve(value!)
        else if (options.signal?.aborted || err instanceof PolarError) reject(err)
        else reject(new NetworkError(`${where}: ${(err as Error).message}`, {cause: err}))
      }
      const fail = (controller: {abort(reason: Error): void}, err: Error) => {
        finish(err)
        controller.abort(err)
      }
      signal.addEventListener('abort', onAbort, {once: true})
      this.pool.dispatch({method: method as 'POST', path, headers, body: body ? Buffer.from(body.buffer, body.byteOffset, body.length) : undefined, headersTimeout: ms, bodyTimeout: ms}, {
        onRequestStart(controller) {
          abortRequest = (reason) => controller.abort(reason)
          if (signal.aborted || settled) controller.abort(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
        },
        onResponseStart(controller, statusCode, resHeaders) {
          status = statusCode
          const declared = Number(resHeaders['content-length'] ?? 0)
          if (declared > options.maxBytes) return fail(controller, new IntegrityError(`${where}: response of ${declared} bytes is over the ${options.maxBytes}-byte limit`))
          if (declared > 0 && statusCode === 200) into = (options.alloc ?? Buffer.allocUnsafe)(declared)
        },
        onResponseData(controller, chunk) {
          if (settled) return
          if (into) {
            if (size + chunk.length > into.length) return fail(controller, new IntegrityError(`${where}: response is over its declared ${into.length} bytes`))
            chunk.copy(into, size)
          } else {
            if (size + chunk.length > options.maxBytes) return fail(controller, new IntegrityError(`${where}: response is over the ${options.maxBytes}-byte limit`))
            parts.push(chunk)
          }
          size += chunk.length
        },
        onResponseEnd() {
          if (into && size !== into.length) return finish(new NetworkError(`${where}: response ended after ${size} of ${into.length} bytes`))
          finish(undefined, {status, body: into ?? Buffer.concat(parts, size)})
        },
        onResponseError(_controller, err) {
          finish(err)
        },
      })
    })
  }

  private async json(method: string, path: string, payload: unknown, options: RequestOptions & {sign?: boolean} = {}): Promise<any> {
    const body = payload === undefined ? undefined : Buffer.from(JSON.stringify(payload))
    const r = await this.request(method, path, body, options)
    let parsed: any
    try {
      parsed = r.body.length ? JSON.parse(r.body.toString('utf8')) : undefined
    } catch {
      throw new NetworkError(`${this.origin}${path}: answered with something that is not JSON (is it a polar node?)`)
    }
    if (r.status >= 300) throw errorFromResponse(r.status, parsed, this.origin)
    return parsed
  }

  async hello(options: RequestOptions = {}): Promise<Hello> {
    const hello = await this.json('GET', '/v1/hello', undefined, options)
    // Whatever answers is hostile until checked: callers store and compare the did.
    if (typeof hello?.did !== 'string' || !isDid(hello.did)) throw new NetworkError(`${this.origin}/v1/hello answered without a node did: is it a polar node?`)
    this.peerDid = hello.did
    return hello
  }

  /** The did signed requests are addressed to: learned from /v1/hello, once. */
  private async receiverDid(options: RequestOptions): Promise<string> {
    // Only the caller's signal and a short timeout carry over: the hello is
    // unsigned (a signed one would need the did it is fetching) and must not
    // inherit a long transfer timeout such as replicate's.
    return this.peerDid ?? (await this.hello({signal: options.signal, timeoutMs: Math.min(options.timeoutMs ?? this.defaultTimeoutMs, HELLO_TIMEOUT_MS)})).did
  }

  /**
   * Introduces this node (`self`) to the peer, which dials back to check it.
   * A registration costs a proof-of-work stamp (issue 20: a free one let any
   * throw-away key make a node dial anything): minted at `bits`, and once
   * more at the peer's `stampBits` when it asks for more (up to MAX_REGISTER_BITS).
   */
  async register(self: {url: string}, options: RequestOptions & {bits: number}): Promise<Hello> {
    if (!this.identity) throw new InputError('registering needs a node identity to sign with')
    const origin = new URL(self.url).origin
    for (let bits = options.bits, attempt = 0; ; attempt++) {
      const stamp = await registerStamp(this.identity.did, origin, bits, options.signal, attempt > 0)
      const r = await this.request('POST', '/v1/peers/register', Buffer.from(JSON.stringify({url: self.url, stamp})), {...options, sign: true})
      const parsed = safeJson(r.body)
      const wanted = parsed?.stampBits
      // Refused once for its stamp (more bits wanted, or this node already spent the one reused): a fresh one, once.
      if (r.status === 403 && parsed?.error?.code === 'STAMP_REQUIRED' && attempt === 0 && Number.isInteger(wanted) && wanted <= MAX_REGISTER_BITS) {
        bits = Math.max(bits, wanted)
        continue
      }
      if (r.status !== 200) throw errorFromResponse(r.status, parsed, this.origin)
      if (typeof parsed?.did !== 'string') throw new NetworkError(`${this.origin}/v1/peers/register: malformed answer`)
      return parsed
    }
  }

  /** Seed request (draft 000): the signed peer records the node knows, its own first; bytes still unverified. */
  async seed(options: RequestOptions & {limit?: number} = {}): Promise<Uint8Array[]> {
    const r = await this.json('GET', `/v1/seed${options.limit ? `?limit=${options.limit}` : ''}`, undefined, options)
    if (!Array.isArray(r?.records) || !r.records.every((x: unknown) => typeof x === 'string')) throw new NetworkError(`${this.origin}/v1/seed: malformed answer`)
    // A fresh node answers before its own record is minted: ask again shortly (its record is what we register with).
    if (r.minting === true) throw new NetworkError(`${this.origin} is still minting its peer record; ask again in a few seconds`, {code: 'MINTING'})
    return r.records.map((x: string) => Buffer.from(x, 'base64'))
  }

  /** Registers this node by its signed peer record; the peer dials back and answers with its own record. */
  async announce(record: Uint8Array, options: RequestOptions = {}): Promise<Uint8Array> {
    const r = await this.json('POST', '/v1/peers/announce', {record: Buffer.from(record).toString('base64')}, {...options, sign: true})
    if (typeof r?.record !== 'string') throw new NetworkError(`${this.origin}/v1/peers/announce: answered without a peer record`)
    return Buffer.from(r.record, 'base64')
  }

  /** Passes peer records on (gossip); the receiver checks each and keeps what is new. */
  gossip(records: Uint8Array[], options: RequestOptions = {}): Promise<{accepted: number}> {
    return this.json('POST', '/v1/peers/gossip', {records: records.map((b) => Buffer.from(b).toString('base64'))}, options)
  }

  peers(options: RequestOptions = {}): Promise<{peers: Array<{did: string; url: string}>}> {
    return this.json('GET', '/v1/peers', undefined, options)
  }

  async has(cids: CID[], options: RequestOptions = {}): Promise<boolean[]> {
    const r = await this.json('POST', '/v1/blocks/has', {cids: cids.map(String)}, options)
    if (!Array.isArray(r?.have) || r.have.length !== cids.length) throw new NetworkError(`${this.origin}: malformed has answer`)
    return r.have.map(Boolean)
  }

  /** A block, verified against its CID; NotFoundError when the peer lacks it. */
  async getBlock(cid: CID, options: RequestOptions = {}): Promise<Uint8Array> {
    const r = await this.request('GET', `/v1/blocks/${cid}`, undefined, {...options, maxBytes: MAX_BLOCK_SIZE})
    if (r.status === 404) throw new NotFoundError(`${this.origin} does not have block ${cid}`)
    if (r.status !== 200) throw errorFromResponse(r.status, safeJson(r.body), this.origin)
    return verifyBlock(cid, r.body, `block from ${this.origin}`)
  }

  /**
   * Several blocks in one request (`POST /v1/blocks/get`): those of `cids`
   * the peer holds, in order, NOT yet verified — the caller must hash-check
   * every one before using it (against `sha256` where the bulk client hashed
   * the block as it arrived; else on the fetcher's hash pool). Blocks the
   * peer lacks are simply absent; a block that was not asked for, or sent
   * twice, is an IntegrityError. `alloc` gives each block its memory (a pool slot; see
   * util/block-pool.ts) and `discard` takes back the memory of blocks an
   * error leaves unreturned.
   */
  async getBlocksUnverified(cids: CID[], options: RequestOptions & {alloc?: (size: number, cid: CID) => Buffer; discard?: (bytes: Buffer) => void} = {}): Promise<BulkFrame[]> {
    const body = Buffer.from(JSON.stringify({cids: cids.map(String)}))
    const alloc = options.alloc ?? ((n: number) => Buffer.allocUnsafe(n))
    const got: Buffer[] = []
    // Takes a slot of the outgoing gate like any request; a 429/503 is not retried here (the fetcher falls back to single blocks, which are).
    const release = this.gate ? await this.gate.acquire(options.signal) : undefined
    let r
    try {
      r = this.bulk
        ? await this.bulk.post({path: '/v1/blocks/get', body, contentType: 'application/json', maxBytes: MAX_BATCH_BYTES, alloc: Buffer.allocUnsafe, frames: {alloc: (n, cid) => { const b = alloc(n, cid); got.push(b); return b }}, signal: options.signal, timeoutMs: options.timeoutMs ?? this.defaultTimeoutMs})
        : await this.requestInto('POST', '/v1/blocks/get', body, {...options, maxBytes: MAX_BATCH_BYTES, alloc: sharedAlloc})
    } catch (err) {
      for (const b of got) options.discard?.(b)
      throw err
    } finally {
      release?.()
    }
    if (r.status !== 200) throw errorFromResponse(r.status, safeJson(r.body), this.origin)
    let frames: BulkFrame[]
    try {
      frames = (r as {frames?: BulkFrame[]}).frames ?? (decodeFrames(r.body) as BulkFrame[])
    } catch (err) {
      throw new IntegrityError(`${this.origin}: malformed block batch: ${(err as Error).message}`)
    }
    const asked = new Set(cids.map(String))
    for (const f of frames) {
      // Each asked-for block once: taking one out of the set also refuses a second copy (whose memory nobody would return).
      if (!asked.delete(f.cid.toString())) {
        for (const b of got) options.discard?.(b)
        throw new IntegrityError(`${this.origin} sent block ${f.cid}, which was not asked for (or sent it twice)`)
      }
    }
    return frames
  }

  /**
   * Dynamic block mode (issue 6): for each CID, the bases the peer stores it
   * against ([] for raw blocks, and from nodes without codecs).
   */
  async basesOf(cids: CID[], options: RequestOptions = {}): Promise<string[][]> {
    const r = await this.json('POST', '/v1/blocks/bases', {cids: cids.map(String)}, options)
    if (!Array.isArray(r?.bases) || r.bases.length !== cids.length) throw new NetworkError(`${this.origin}: malformed bases answer`)
    return r.bases.map((b: unknown) => (Array.isArray(b) ? b.filter((x) => typeof x === 'string').slice(0, 16) : []))
  }

  /**
   * A block in dynamic block mode: one codec byte, then the block encoded as
   * the peer chose from `accept` and the bases this node holds (`have`). NOT
   * verified here: the caller decodes it against its own bases and verifies
   * (src/lib/node/dynamic-source.ts). The raw path stays getBlock.
   */
  async getBlockEncoded(cid: CID, accept: string[], have: CID[], options: RequestOptions = {}): Promise<Uint8Array> {
    const q = `accept=${accept.map(encodeURIComponent).join(',')}&have=${have.map(String).join(',')}`
    const r = await this.request('GET', `/v1/blocks/${cid}/encoded?${q}`, undefined, {...options, maxBytes: MAX_BLOCK_SIZE + 64 * 1024})
    if (r.status === 404) throw new NotFoundError(`${this.origin} does not have block ${cid} (or no dynamic block mode)`)
    if (r.status !== 200) throw errorFromResponse(r.status, safeJson(r.body), this.origin)
    return r.body
  }

  /**
   * A remote user write, first step (`POST /v1/objects`, signed by this
   * client's identity, the record's owner): the answer as it is, since a 403
   * STAMP_REQUIRED carries the stamp bits the node asks for.
   */
  async submitObject(payload: {record: string; replicas?: number; stamp?: unknown}, options: RequestOptions = {}): Promise<{status: number; body: any}> {
    const r = await this.request('POST', '/v1/objects', Buffer.from(JSON.stringify(payload)), {...options, sign: true, maxBytes: 64 * 1024, timeoutMs: options.timeoutMs ?? 10 * 60_000})
    return {status: r.status, body: safeJson(r.body)}
  }

  /** Asks the peer to hold an object: it fetches what it lacks from us (or others) and answers when every block is durable. */
  replicate(record: Uint8Array, sources: string[], options: RequestOptions & {replicas?: number} = {}): Promise<{held: boolean; blocks: number}> {
    return this.json('POST', '/v1/replicate', {record: Buffer.from(record).toString('base64'), sources, replicas: options.replicas}, {...options, sign: true, timeoutMs: options.timeoutMs ?? 10 * 60_000})
  }

  /** Asks the peer to dial back to `url` (our announced address; nat-test): what it saw and whether it got through. */
  async dialback(url: string, options: RequestOptions = {}): Promise<{reachable: boolean; url: string; observed: string | null; reason: string | null}> {
    const r = await this.json('POST', '/v1/nat/dialback', {url}, {...options, sign: true})
    if (typeof r?.reachable !== 'boolean') throw new NetworkError(`${this.origin}: malformed dial-back answer`)
    return {reachable: r.reachable, url: String(r.url ?? url), observed: typeof r.observed === 'string' ? r.observed : null, reason: typeof r.reason === 'string' ? r.reason : null}
  }

  records(root: CID, options: RequestOptions = {}): Promise<{records: string[]}> {
    return this.json('GET', `/v1/records?root=${root}`, undefined, options)
  }

  /** Searches the peer's own index (GET /v1/search); the caller verifies every record. `from` asks for owners' trust scores seen from that did. */
  search(params: URLSearchParams, options: RequestOptions = {}): Promise<{records: unknown; trust?: unknown}> {
    return this.json('GET', `/v1/search?${params}`, undefined, options)
  }

  /** Publishes a signed trust record (POST /v1/trust); the peer verifies it and passes it on if it is new. */
  putTrust(record: Uint8Array, options: RequestOptions = {}): Promise<{owner: string; cid: string; stored: boolean}> {
    return this.json('POST', '/v1/trust', {record: Buffer.from(record).toString('base64')}, options)
  }

  /** The trust records the peer holds for these dids (POST /v1/trust/get); the caller verifies them. */
  getTrust(dids: string[], options: RequestOptions = {}): Promise<{records: unknown}> {
    return this.json('POST', '/v1/trust/get', {dids}, options)
  }

  /** The peer's copy of `did`'s trust record (base64), or null when it has none. */
  async trustRecord(did: string, options: RequestOptions = {}): Promise<string | null> {
    try {
      return (await this.json('GET', `/v1/trust/${did}`, undefined, options))?.record ?? null
    } catch (err) {
      if (err instanceof NotFoundError) return null
      throw err
    }
  }

  /** `did`'s trust score as the peer computes it from `from`, with paths. */
  trustScore(did: string, from: string, options: RequestOptions = {}): Promise<{did: string; score: number; paths: unknown; pathCount?: number}> {
    return this.json('GET', `/v1/trust/${did}/score?from=${encodeURIComponent(from)}`, undefined, options)
  }

  /** Sends an erase record with the object record it erases (POST /v1/erase); the peer verifies both, applies, and forwards. */
  erase(erase: Uint8Array, record: Uint8Array, options: RequestOptions = {}): Promise<{applied: boolean; records: number; blocks: number}> {
    return this.json('POST', '/v1/erase', {erase: Buffer.from(erase).toString('base64'), record: Buffer.from(record).toString('base64')}, {...options, timeoutMs: options.timeoutMs ?? 10_000})
  }

  /** The peer's tombstones after its sequence number `after` (anti-entropy, GET /v1/erasures). */
  erasures(after: number, options: RequestOptions = {}): Promise<{erasures: Array<{seq: number; erase: string; record: string}>; next: number}> {
    return this.json('GET', `/v1/erasures?after=${after}`, undefined, options)
  }

  close(): Promise<void> {
    this.bulk?.close()
    return this.pool.close()
  }

  destroy(): Promise<void> {
    this.bulk?.close()
    return this.pool.destroy()
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', stop)
      resolve()
    }, ms)
    const stop = () => {
      clearTimeout(t)
      reject(signal!.reason)
    }
    signal?.addEventListener('abort', stop, {once: true})
  })
}

/** Registration stamps minted lately, by signer, origin and bits: one pays for registering with every node (each spends it once). */
const registerStamps = new Map<string, Promise<{bits: number; nonce: string; time: number}>>()
/** A registration stamp is reused this long (receivers take one up to 10 minutes from their clock). */
const REGISTER_STAMP_REUSE_MS = 5 * 60_000

function registerStamp(signer: string, origin: string, bits: number, signal?: AbortSignal, fresh = false): Promise<{bits: number; nonce: string; time: number}> {
  const key = `${signer}\n${origin}\n${bits}`
  const now = Date.now()
  for (const [k, p] of registerStamps) p.then((s) => { if (now - s.time > REGISTER_STAMP_REUSE_MS) registerStamps.delete(k) }, () => registerStamps.delete(k))
  if (fresh) registerStamps.delete(key)
  let stamp = registerStamps.get(key)
  if (!stamp) {
    const time = now
    stamp = mintStamp(registerStampResource(signer, origin), time, bits, signal).then((s) => ({...s, time}))
    registerStamps.set(key, stamp)
    stamp.catch(() => registerStamps.delete(key))
  }
  return stamp
}

function safeJson(body: Buffer): any {
  try {
    return JSON.parse(body.toString('utf8'))
  } catch {
    return undefined
  }
}

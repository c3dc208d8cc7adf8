import type {IncomingMessage, Server, ServerOptions, ServerResponse} from 'node:http'
import type {Socket} from 'node:net'
import {sendJson} from './http.js'
import {FairSlots, remoteOf, type Remote} from './fair-slots.js'
import {SlowClients} from './slow-clients.js'

export {addressKey, prefixKey} from './fair-slots.js'

/**
 * Inbound caps on the public listener (draft 002: "Keep cap of max
 * connections", "Manage rate caps"; issue 4 "Caps"; issue 20 points 7, 8): a
 * token bucket per remote address; open connections and requests in hand
 * capped for the node, per address and per /24 (/48), with a reserve for
 * addresses that are not flooding (fair-slots.ts); a bounded queue in front
 * of the request slots; time-outs in seconds for request heads, slow bodies
 * and answers nobody reads (slow-clients.ts); requests pipelined on one
 * connection handled one after another, each holding its slot until its
 * answer is written. Over a per-address cap the answer is 429, when the node
 * as a whole is saturated 503; both carry Retry-After (RFC 9110 §10.2.3,
 * delta-seconds). Nothing here throws into the request path, and a flood
 * leaves no state that outlives it. docs/protocol.md "Caps".
 */
export interface LimitSettings {
  /** Requests per second each remote address may make (token refill rate). */
  rate: number
  /** Requests an address may make at once above the rate (bucket size); default 2 × rate. */
  burst: number
  /** Open inbound connections; requests on connections past it get 503. */
  maxConnections: number
  /** Open connections one address (IPv6: one /64) may hold; twice that per /24 (/48). Default: a quarter of maxConnections. */
  maxConnectionsPerAddress: number
  /** Requests handled at once; more wait in the queue. */
  maxRequests: number
  /** Requests in hand for one address; twice that per /24 (/48). Default: a quarter of maxRequests. */
  maxRequestsPerAddress: number
  /** Requests waiting for a handling slot (a quarter of them per address); past it, 503. */
  maxQueue: number
  /** How long a queued request waits for a slot before it gets 503. */
  queueTimeoutMs: number
  /** A request head (and a new connection's first one) must be complete within this (then 408, or closed). */
  headersTimeoutMs: number
  /** An idle kept-alive connection is closed after this. */
  keepAliveTimeoutMs: number
  /** A request body must keep arriving: at least MIN_BODY_BYTES_PER_SECOND over every window this long (then 408). */
  bodyTimeoutMs: number
  /** An answer of which the client takes nothing for this long is cut off (the connection closed). */
  answerStallMs: number
}

export const DEFAULT_LIMITS: LimitSettings = {
  rate: 1000,
  burst: 2000,
  maxConnections: 1024,
  maxConnectionsPerAddress: 256,
  maxRequests: 256,
  maxRequestsPerAddress: 64,
  maxQueue: 1024,
  queueTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 15_000,
  bodyTimeoutMs: 10_000,
  answerStallMs: 30_000,
}

/** A body slower than this (averaged over each bodyTimeoutMs window) is a slot held for nothing: 1 KiB/s. */
export const MIN_BODY_BYTES_PER_SECOND = 1024

/**
 * Requests one connection may have waiting behind the one being handled
 * (HTTP/1.1 pipelining). Node parses pipelined requests as they come; past
 * this the connection is closed rather than parsed further. polar's own
 * clients never pipeline.
 */
export const MAX_PIPELINED = 16

/** Distinct addresses remembered at once; full (idle) buckets are the first forgotten. */
export const MAX_TRACKED_ADDRESSES = 65_536

/**
 * The settings in effect: defaults, then what was given; the per-address caps
 * not given follow the totals given (a quarter of each), and so does the burst
 * (twice the rate, issue 15 point 6: `--rate 50` alone is a burst of 100).
 */
export function resolveLimits(given: Partial<LimitSettings> = {}): LimitSettings {
  const set = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Partial<LimitSettings>
  const s = {...DEFAULT_LIMITS, ...set}
  if (set.burst === undefined) s.burst = Math.max(1, Math.ceil(2 * s.rate))
  if (set.maxConnectionsPerAddress === undefined) s.maxConnectionsPerAddress = Math.max(1, Math.ceil(s.maxConnections / 4))
  if (set.maxRequestsPerAddress === undefined) s.maxRequestsPerAddress = Math.max(1, Math.ceil(s.maxRequests / 4))
  return s
}

export interface LimitCounters {
  /** Requests answered 429 (an address over its rate, or over its share of the queue). */
  rateLimited: number
  /** Requests answered 503 (connection cap, queue full or queue timeout). */
  saturated: number
  /** Connections accepted over the cap (their requests get 503). */
  connectionsOverCap: number
  /** Connections closed at accept: their address (or its /24, /48) held its share. */
  connectionsRefused: number
  /** Connections cut for a request body arriving too slowly (408). */
  slowBodies: number
  /** Connections cut for an answer the client did not read. */
  stalledAnswers: number
  /** Connections closed for pipelining more than MAX_PIPELINED requests. */
  pipelineOverflows: number
  openConnections: number
  activeRequests: number
  queuedRequests: number
  trackedAddresses: number
}

interface Bucket {
  tokens: number
  at: number
}

/** Token buckets per key (RFC 2697-style single-rate bucket, without colours). */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>()

  constructor(private readonly rate: number, private readonly burst: number, private readonly maxKeys = MAX_TRACKED_ADDRESSES) {}

  /** Takes one token for `key`: 0 when granted, else the milliseconds until one is there. */
  take(key: string, now = performance.now()): number {
    let b = this.buckets.get(key)
    if (b) {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.rate) / 1000)
      b.at = now
    } else {
      if (this.buckets.size >= this.maxKeys) this.prune(now)
      b = {tokens: this.burst, at: now}
      this.buckets.set(key, b)
    }
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 0
    }
    return Math.ceil(((1 - b.tokens) * 1000) / this.rate)
  }

  get size(): number {
    return this.buckets.size
  }

  /** Forgets buckets that have refilled (the address went quiet); if none has, the oldest half. */
  private prune(now: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((now - b.at) * this.rate) / 1000 >= this.burst) this.buckets.delete(k)
    }
    if (this.buckets.size < this.maxKeys) return
    let drop = this.buckets.size / 2
    for (const k of this.buckets.keys()) {
      if (drop-- <= 0) break
      this.buckets.delete(k)
    }
  }
}

/** Per connection: where it comes from, and the requests pipelined on it waiting for their turn. */
interface Conn {
  who: Remote
  overCap: boolean
  busy: boolean
  waiting: Array<() => void>
}

const CONN = Symbol('polar.conn')

interface Waiter {
  who: Remote
  grant: () => void
}

/** Caps for one listener; `admit` is called first for every request. */
export class InboundLimits {
  readonly settings: LimitSettings
  private readonly buckets: TokenBuckets
  private readonly conns: FairSlots
  private readonly requests: FairSlots
  private readonly slow: SlowClients
  private open = 0
  private readonly queue: Waiter[] = []
  private readonly queuedBy = new Map<string, number>()
  private readonly count = {rateLimited: 0, saturated: 0, connectionsOverCap: 0, connectionsRefused: 0, slowBodies: 0, stalledAnswers: 0, pipelineOverflows: 0}

  constructor(settings: Partial<LimitSettings> = {}) {
    const s = (this.settings = resolveLimits(settings))
    this.buckets = new TokenBuckets(s.rate, s.burst)
    this.conns = new FairSlots(s.maxConnections, s.maxConnectionsPerAddress, 2 * s.maxConnectionsPerAddress)
    this.requests = new FairSlots(s.maxRequests, s.maxRequestsPerAddress, 2 * s.maxRequestsPerAddress)
    this.slow = new SlowClients({bodyTimeoutMs: s.bodyTimeoutMs, minBodyBytesPerSecond: MIN_BODY_BYTES_PER_SECOND, answerStallMs: s.answerStallMs}, (kind) => {
      if (kind === 'slowBody') this.count.slowBodies++
      else this.count.stalledAnswers++
    })
  }

  /**
   * Options for createServer: Node's own time-outs in seconds rather than
   * minutes (it waits 60 s for a request head, 300 s for a whole request).
   * requestTimeout is off: a large upload may take long, and a slow one is
   * caught by its pace instead (slow-clients.ts). Heads are checked every second.
   */
  serverOptions(): ServerOptions {
    const s = this.settings
    return {keepAliveTimeout: s.keepAliveTimeoutMs, headersTimeout: s.headersTimeoutMs, requestTimeout: 0, connectionsCheckingInterval: 1_000}
  }

  /**
   * Counts the server's connections. One from an address (or /24, /48) that
   * holds its share is closed at once; past maxConnections the others are
   * kept just long enough to answer 503 (a reset tells a client nothing), and
   * past twice the cap the kernel-level limit drops them outright. A new
   * connection must send its first request head within headersTimeoutMs
   * (Node times a head out only once its first byte came).
   */
  watch(server: Server): void {
    server.maxConnections = this.settings.maxConnections * 2
    server.on('connection', (socket: Socket) => {
      const who = remoteOf(socket.remoteAddress)
      const why = this.conns.refusal(who)
      if (why === 'address' || why === 'prefix') {
        this.count.connectionsRefused++
        socket.destroy()
        return
      }
      const conn: Conn = {who, overCap: why === 'full', busy: false, waiting: []}
      ;(socket as any)[CONN] = conn
      this.open++
      if (conn.overCap) this.count.connectionsOverCap++
      else this.conns.take(who)
      socket.setTimeout(conn.overCap ? Math.min(2_000, this.settings.headersTimeoutMs) : this.settings.headersTimeoutMs)
      socket.once('close', () => {
        this.open--
        if (!conn.overCap) this.conns.give(who)
        for (const go of conn.waiting.splice(0)) go()
      })
    })
    server.once('close', () => this.slow.stop())
  }

  /**
   * Admits a request: a release function once it may be handled, or
   * undefined when it was answered here (429/503) or its connection is gone,
   * and must be left alone. The slot is held until the answer is written
   * (or the connection closes), not until the handler returns: released by
   * itself then; calling the release function earlier gives it back sooner.
   * Synchronous unless the request has to wait (for an earlier request on its
   * connection, or for a slot), so that an admitted request is handled in the
   * same tick as it arrived (as without caps).
   */
  admit(req: IncomingMessage, res: ServerResponse): (() => void) | undefined | Promise<(() => void) | undefined> {
    const socket = req.socket
    const conn = (socket as any)[CONN] as Conn | undefined
    if (!conn) return this.check(req, res, remoteOf(socket.remoteAddress)) // not from a watched server (tests)
    if (socket.destroyed) return undefined // closed (pipelining past the cap, say) while Node parsed what had come
    socket.setTimeout(0) // the head came: what follows is paced by the slow-client rules, not by idleness
    if (!conn.busy) {
      conn.busy = true
      return this.check(req, res, conn.who, conn)
    }
    if (conn.waiting.length >= MAX_PIPELINED) {
      this.count.pipelineOverflows++
      socket.destroy()
      return undefined
    }
    return new Promise<void>((resolve) => conn.waiting.push(resolve)).then(() => {
      if (socket.destroyed) return undefined
      conn.busy = true
      return this.check(req, res, conn.who, conn)
    })
  }

  /** The caps proper, once it is this request's turn on its connection. */
  private check(req: IncomingMessage, res: ServerResponse, who: Remote, conn?: Conn): (() => void) | undefined | Promise<(() => void) | undefined> {
    const next = () => {
      if (!conn) return
      conn.busy = false
      const go = conn.waiting.shift()
      if (go) go()
    }
    if (conn?.overCap) {
      this.reject(req, res, 503, 'SATURATED', `this node has ${this.open} open connections, over its cap of ${this.settings.maxConnections}; retry later`, 1, true)
      return undefined
    }
    const wait = this.buckets.take(who.address)
    if (wait > 0) {
      this.count.rateLimited++
      this.reject(req, res, 429, 'RATE_LIMITED', `over this node's rate of ${this.settings.rate} requests/s (burst ${this.settings.burst}) for your address; retry later`, wait / 1000, false)
      this.afterAnswer(res, next)
      return undefined
    }
    const why = this.requests.refusal(who)
    if (why === undefined) return this.grant(req, res, who, next)
    if (this.queue.length >= this.settings.maxQueue) {
      this.reject(req, res, 503, 'SATURATED', `this node is handling ${this.requests.size} requests with ${this.queue.length} queued; retry later`, 1, false)
      this.afterAnswer(res, next)
      return undefined
    }
    if ((this.queuedBy.get(who.address) ?? 0) >= Math.max(1, Math.ceil(this.settings.maxQueue / 4))) {
      this.count.rateLimited++
      this.reject(req, res, 429, 'RATE_LIMITED', `your address has ${this.requests.heldBy(who.address)} requests in hand and ${this.queuedBy.get(who.address)} waiting, its share of this node; retry later`, 1, false)
      this.afterAnswer(res, next)
      return undefined
    }
    return this.enqueue(req, res, who, next)
  }

  private async enqueue(req: IncomingMessage, res: ServerResponse, who: Remote, next: () => void): Promise<(() => void) | undefined> {
    this.queuedBy.set(who.address, (this.queuedBy.get(who.address) ?? 0) + 1)
    const granted = await new Promise<boolean>((resolve) => {
      const settle = (granted: boolean) => {
        clearTimeout(timer)
        res.off('close', leave)
        req.socket.off('close', leave)
        resolve(granted)
      }
      const leave = () => {
        const i = this.queue.indexOf(entry)
        if (i >= 0) this.queue.splice(i, 1)
        settle(false)
      }
      const entry: Waiter = {who, grant: () => settle(true)}
      const timer = setTimeout(leave, this.settings.queueTimeoutMs)
      timer.unref()
      res.once('close', leave) // the client gave up while waiting: its place goes to the next
      req.socket.once('close', leave)
      this.queue.push(entry)
    })
    const left = (this.queuedBy.get(who.address) ?? 1) - 1
    if (left > 0) this.queuedBy.set(who.address, left)
    else this.queuedBy.delete(who.address)
    if (!granted) {
      this.reject(req, res, 503, 'SATURATED', `this node is saturated: no slot within ${this.settings.queueTimeoutMs} ms; retry later`, 1, false)
      this.afterAnswer(res, next)
      return undefined
    }
    return this.grant(req, res, who, next, true)
  }

  /** Gives `who` a request slot (already counted when `taken`), held until the answer is written or the connection closes. */
  private grant(req: IncomingMessage, res: ServerResponse, who: Remote, next: () => void, taken = false): () => void {
    if (!taken) this.requests.take(who)
    const unwatch = this.slow.watch(req, res)
    let done = false
    const release = () => {
      if (done) return
      done = true
      unwatch()
      res.off('close', release)
      req.socket.off('close', release)
      this.requests.give(who)
      this.pass()
      next()
    }
    res.once('close', release)
    req.socket.once('close', release)
    if (req.socket.destroyed) release() // gone while its grant was on the way: its 'close' may have fired already
    return release
  }

  /** A slot came free: the first waiter that may take it now does (one from an address at its cap waits on). */
  private pass(): void {
    for (let i = 0; i < this.queue.length; i++) {
      const w = this.queue[i]
      if (this.requests.refusal(w.who) !== undefined) continue
      this.queue.splice(i, 1)
      this.requests.take(w.who)
      w.grant()
      return
    }
  }

  /** The next request on a connection goes once this one's answer (429, 503) is out. */
  private afterAnswer(res: ServerResponse, next: () => void): void {
    if (res.writableFinished || res.destroyed) next()
    else res.once('close', next)
  }

  private reject(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string, retryAfterSeconds: number, close: boolean): void {
    if (status === 503) this.count.saturated++
    this.slow.watch(req, res)() // the body is read and dropped: at a pace, or the connection is cut
    req.resume()
    if (res.headersSent || res.destroyed) return
    const headers: Record<string, string> = {'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds)))}
    if (close) headers.connection = 'close'
    sendJson(res, status, {error: {code, message}}, headers)
  }

  counters(): LimitCounters {
    return {
      ...this.count,
      openConnections: this.open,
      activeRequests: this.requests.size,
      queuedRequests: this.queue.length,
      trackedAddresses: this.buckets.size,
    }
  }
}

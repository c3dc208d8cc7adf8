import {unmapV4, v6Prefix} from '../net/address.js'
import type {IncomingMessage, Server, ServerResponse} from 'node:http'
import type {Socket} from 'node:net'
import {sendJson} from '../net/http.js'

/**
 * Inbound caps on the public listener (draft 002: "Keep cap of max
 * connections", "Manage rate caps"; issue 4 "Caps"): a token bucket per
 * remote address, a cap on open connections and one on requests being
 * handled at once, with a bounded queue in front of it. Over a per-address
 * cap the answer is 429, when the node as a whole is saturated 503; both
 * carry Retry-After (RFC 9110 §10.2.3, delta-seconds). Nothing here throws
 * into the request path, and a flood leaves no state that outlives it.
 */
export interface LimitSettings {
  /** Requests per second each remote address may make (token refill rate). */
  rate: number
  /** Requests an address may make at once above the rate (bucket size). */
  burst: number
  /** Open inbound connections; requests on connections past it get 503. */
  maxConnections: number
  /** Requests handled at once; more wait in the queue. */
  maxRequests: number
  /** Requests waiting for a handling slot; past it, 503. */
  maxQueue: number
  /** How long a queued request waits for a slot before it gets 503. */
  queueTimeoutMs: number
}

export const DEFAULT_LIMITS: LimitSettings = {
  rate: 1000,
  burst: 2000,
  maxConnections: 1024,
  maxRequests: 256,
  maxQueue: 1024,
  queueTimeoutMs: 10_000,
}

/** Distinct addresses remembered at once; full (idle) buckets are the first forgotten. */
export const MAX_TRACKED_ADDRESSES = 65_536

export interface LimitCounters {
  /** Requests answered 429 (an address over its rate). */
  rateLimited: number
  /** Requests answered 503 (connection cap, queue full or queue timeout). */
  saturated: number
  /** Connections accepted over the cap (their requests get 503). */
  connectionsOverCap: number
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

/** The key a request is counted under: its IPv4 address, or the /64 of an IPv6 one (one host usually holds a whole /64). */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown'
  const a = unmapV4(address)
  return a.includes(':') ? v6Prefix(a, 4) : a
}

const OVER_CAP = Symbol('polar.overCap')

/** Caps for one listener; `admit` is called first for every request. */
export class InboundLimits {
  readonly settings: LimitSettings
  private readonly buckets: TokenBuckets
  private open = 0
  private active = 0
  private readonly queue: Array<{grant: () => void}> = []
  private readonly count = {rateLimited: 0, saturated: 0, connectionsOverCap: 0}

  constructor(settings: Partial<LimitSettings> = {}) {
    this.settings = {...DEFAULT_LIMITS, ...settings}
    this.buckets = new TokenBuckets(this.settings.rate, this.settings.burst)
  }

  /**
   * Counts the server's connections. Those past maxConnections are kept just
   * long enough to answer 503 (a reset tells a client nothing); past twice
   * the cap the kernel-level limit drops them outright.
   */
  watch(server: Server): void {
    server.maxConnections = this.settings.maxConnections * 2
    server.on('connection', (socket: Socket) => {
      if (this.open >= this.settings.maxConnections) {
        this.count.connectionsOverCap++
        ;(socket as any)[OVER_CAP] = true
      }
      this.open++
      socket.once('close', () => this.open--)
    })
  }

  /**
   * Admits a request: a release function once it may be handled, or
   * undefined when it was answered here (429/503) and must be left alone.
   * Synchronous unless the request has to queue, so that an admitted request
   * is handled in the same tick as it arrived (as without caps).
   */
  admit(req: IncomingMessage, res: ServerResponse): (() => void) | undefined | Promise<(() => void) | undefined> {
    if ((req.socket as any)[OVER_CAP]) {
      this.reject(req, res, 503, 'SATURATED', `this node has ${this.open} open connections, over its cap of ${this.settings.maxConnections}; retry later`, 1, true)
      return undefined
    }
    const wait = this.buckets.take(addressKey(req.socket.remoteAddress))
    if (wait > 0) {
      this.count.rateLimited++
      this.reject(req, res, 429, 'RATE_LIMITED', `over this node's rate of ${this.settings.rate} requests/s (burst ${this.settings.burst}) for your address; retry later`, wait / 1000, false)
      return undefined
    }
    if (this.active < this.settings.maxRequests) {
      this.active++
      return this.releaser()
    }
    if (this.queue.length >= this.settings.maxQueue) {
      this.reject(req, res, 503, 'SATURATED', `this node is handling ${this.active} requests with ${this.queue.length} queued; retry later`, 1, false)
      return undefined
    }
    return this.enqueue(req, res)
  }

  private async enqueue(req: IncomingMessage, res: ServerResponse): Promise<(() => void) | undefined> {
    const granted = await new Promise<boolean>((resolve) => {
      const leave = () => {
        clearTimeout(timer)
        const i = this.queue.indexOf(entry)
        if (i >= 0) this.queue.splice(i, 1)
        resolve(false)
      }
      const entry = {grant: () => {
        clearTimeout(timer)
        res.off('close', leave)
        resolve(true)
      }}
      const timer = setTimeout(leave, this.settings.queueTimeoutMs)
      timer.unref()
      res.once('close', leave) // the client gave up while waiting: its place goes to the next
      this.queue.push(entry)
    })
    if (!granted) {
      this.reject(req, res, 503, 'SATURATED', `this node is saturated: no slot within ${this.settings.queueTimeoutMs} ms; retry later`, 1, false)
      return undefined
    }
    return this.releaser()
  }

  /** Requests on the way out of the node are counted as active until their release. */
  private releaser(): () => void {
    let done = false
    return () => {
      if (done) return
      done = true
      const next = this.queue.shift()
      if (next) next.grant() // the slot passes straight on: `active` stays
      else this.active--
    }
  }

  private reject(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string, retryAfterSeconds: number, close: boolean): void {
    if (status === 503) this.count.saturated++
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
      activeRequests: this.active,
      queuedRequests: this.queue.length,
      trackedAddresses: this.buckets.size,
    }
  }
}

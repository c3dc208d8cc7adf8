import type {ServerResponse} from 'node:http'
import {httpUrl} from '../net/address.js'
import {verifyRequest} from '../net/auth.js'
import {HttpError, readJson, type Router, sendJson} from '../net/http.js'
import {addressKey, TokenBuckets} from '../net/limits.js'
import {dialBack, dialBackTarget} from '../nat/index.js'
import type {NodeContext} from './context.js'
import {DialBudgetError} from './discovery.js'
import {PROTOCOL_VERSION, SERVICES} from './protocol.js'

/** Dial-backs per address: a few a minute (each one makes this node open a connection). */
const DIALBACK_RATE = 0.2
const DIALBACK_BURST = 5

/** What the peer routes use of the node. */
export type PeerRouteComponents = Pick<NodeContext, 'identity' | 'url' | 'guard' | 'settings' | 'peers' | 'log' | 'discovery'>

/**
 * The peer routes (docs/protocol.md "Peers"): hello, registration by URL,
 * the NAT dial-back, and discovery (seed answers, announce, gossip, the peer list).
 */
export function peerRoutes(router: Router, ctx: PeerRouteComponents): void {
  router.on('GET', /^\/v1\/hello$/, (_req, res) => {
    sendJson(res, 200, {did: ctx.identity.did, url: ctx.url, version: PROTOCOL_VERSION, services: SERVICES})
  })

  /**
   * Runs a route that may make this node dial back, answering the two
   * refusals that carry more than a code: 429 with Retry-After (the
   * source's dial-backs are spent) and 403 STAMP_REQUIRED with the bits.
   */
  const dialing = async (res: ServerResponse, work: () => Promise<void>) => {
    try {
      await work()
    } catch (err) {
      if (err instanceof DialBudgetError) {
        sendJson(res, 429, {error: {code: err.code, message: err.message}}, {'retry-after': String(err.retryAfterS)})
        return
      }
      const extra = err as {code?: string; stampBits?: number; resource?: string}
      if (err instanceof HttpError && extra.code === 'STAMP_REQUIRED') {
        sendJson(res, 403, {error: {code: err.code, message: err.message}, stampBits: extra.stampBits, resource: extra.resource})
        return
      }
      throw err
    }
  }

  // Registration by URL (`peers add` on the other side; issue 20): paid with a stamp, dialled back only where the policy allows.
  router.on('POST', /^\/v1\/peers\/register$/, async (req, res, _p, url) => {
    const {value, raw} = await readJson(req, (v) => {
      if (typeof v?.url !== 'string' || v.url.length > 512 || !httpUrl(v.url)) throw new Error('expected {"url": "http://host:port", "stamp": {bits, nonce, time}}')
      return {url: v.url as string, stamp: v.stamp as unknown}
    }, 4096)
    const did = verifyRequest(req.headers, 'POST', url.pathname + url.search, raw, ctx.guard, Date.now(), ctx.identity.did)
    await dialing(res, async () => {
      await ctx.discovery.acceptRegister(did, value.url, value.stamp, req.socket.remoteAddress)
      sendJson(res, 200, {did: ctx.identity.did, url: ctx.url, version: PROTOCOL_VERSION, services: SERVICES})
    })
  })

  // NAT test (draft 002 NAT-TEST, issue 4): any signed node may ask; this node
  // dials only that URL's /v1/hello, with a short timeout, a few times a minute per address.
  const dialbacks = new TokenBuckets(DIALBACK_RATE, DIALBACK_BURST, 4096)
  router.on('POST', /^\/v1\/nat\/dialback$/, async (req, res, _p, url) => {
    const {value, raw} = await readJson(req, (v) => {
      if (typeof v?.url !== 'string' || v.url.length > 512 || !/^https?:\/\/[^/?#]+\/?$/.test(v.url)) throw new Error('expected {"url": "http://host:port"}')
      return {url: v.url as string}
    }, 4096)
    const did = verifyRequest(req.headers, 'POST', url.pathname + url.search, raw, ctx.guard, Date.now(), ctx.identity.did)
    const wait = dialbacks.take(addressKey(req.socket.remoteAddress))
    if (wait > 0) {
      sendJson(res, 429, {error: {code: 'RATE_LIMITED', message: `too many dial-back requests from your address; retry in ${Math.ceil(wait / 1000)} s`}}, {'retry-after': String(Math.ceil(wait / 1000))})
      return
    }
    const host = addressKey(req.socket.remoteAddress)
    const observed = req.socket.remotePort ? (host.includes(':') ? `[${req.socket.remoteAddress}]:${req.socket.remotePort}` : `${host}:${req.socket.remotePort}`) : null
    const target = await dialBackTarget(value.url, req.socket.remoteAddress)
    if ('refused' in target) throw new HttpError(403, 'NOT_ALLOWED', target.refused)
    const result = await dialBack(new URL(value.url).origin, did, undefined, target.address)
    ctx.log(`nat dial-back for ${did} to ${value.url}: ${result.reachable ? 'reachable' : 'not reachable'}`)
    sendJson(res, 200, {reachable: result.reachable, url: value.url, observed, reason: result.reason})
  })

  // Discovery (#4, discovery.ts): seed answers, announce with dial-back, gossip.
  router.on('GET', /^\/v1\/seed$/, async (_req, res, _p, url) => {
    const limit = Number(url.searchParams.get('limit') ?? ctx.settings.seedAnswerMax)
    if (!Number.isInteger(limit) || limit < 1) throw new HttpError(400, 'BAD_REQUEST', 'limit must be a positive integer')
    const {records, minting} = await ctx.discovery.seedAnswer(limit)
    sendJson(res, 200, {records: records.map((b) => Buffer.from(b).toString('base64')), ...(minting ? {minting: true} : {})})
  })

  router.on('POST', /^\/v1\/peers\/announce$/, async (req, res, _p, url) => {
    const {value, raw} = await readJson(req, (v) => {
      if (typeof v?.record !== 'string' || v.record.length > 8192) throw new Error('expected {"record": base64 of a signed peer record of at most 4096 bytes}')
      return Buffer.from(v.record, 'base64')
    }, 16 * 1024)
    const signer = verifyRequest(req.headers, 'POST', url.pathname + url.search, raw, ctx.guard, Date.now(), ctx.identity.did)
    await dialing(res, async () => {
      const own = await ctx.discovery.acceptAnnounce(value, signer, req.socket.remoteAddress)
      sendJson(res, 200, {did: ctx.identity.did, url: ctx.url, version: PROTOCOL_VERSION, services: SERVICES, record: Buffer.from(own.bytes).toString('base64')})
    })
  })

  router.on('POST', /^\/v1\/peers\/gossip$/, async (req, res) => {
    const {value} = await readJson(req, (v) => {
      if (!Array.isArray(v?.records) || v.records.length > ctx.settings.seedAnswerMax || !v.records.every((r: unknown) => typeof r === 'string' && r.length <= 8192)) {
        throw new Error(`expected {"records": [base64, …]} with at most ${ctx.settings.seedAnswerMax} records of at most 4096 bytes`)
      }
      return (v.records as string[]).map((r) => Buffer.from(r, 'base64'))
    })
    const accepted = ctx.discovery.acceptGossip(value, `gossip from ${req.socket.remoteAddress ?? 'unknown'}`, req.socket.remoteAddress ?? 'unknown')
    sendJson(res, 200, {accepted})
  })

  router.on('GET', /^\/v1\/peers$/, (_req, res) => {
    sendJson(res, 200, {peers: ctx.peers.list().map((p) => ({did: p.did, url: p.url, services: p.services, lastSeen: p.lastSeen, state: p.state}))})
  })
}

import {httpUrl} from '../net/address.js'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {NETWORK_WRITER} from '../store/block-store.js'
import {CID} from 'multiformats/cid'
import {parseCid} from '../content/cid.js'
import {IntegrityError, NotFoundError} from '../errors.js'
import {verifyRequest} from '../net/auth.js'
import {HttpError, readJson, Router, sendJson, writeInPieces} from '../net/http.js'
import {decodeObjectRecord} from '../records/index.js'
import type {NodeContext} from './context.js'
import {fetchObject, locateHolders} from './fetcher.js'
import {setReplicaTarget} from './replicator.js'
import {checkBatchRequest, sendBlockBatch} from './block-batch.js'
import {remoteWriteRoutes} from './remote-write.js'
import {checkObjectSize, dropUnreferenced, SizedSource, trackingWriter} from './holding.js'
import {DialBudgetError} from './discovery.js'
import {publicSearchTrustRoutes} from './trust-search-api.js'
import {encodeForPeer, parseOffer} from '../codec/transfer.js'
import {CODEC_RAW} from '../codec/constants.js'
import {DynamicBlockSource} from './dynamic-source.js'
import {addressKey, TokenBuckets} from '../net/limits.js'
import {dialBack, dialBackTarget} from '../nat/index.js'

/** Dial-backs per address: a few a minute (each one makes this node open a connection). */
const DIALBACK_RATE = 0.2
const DIALBACK_BURST = 5
import {Erasures, MAX_ERASURES_PAGE} from '../erase/index.js'
import {receiveErase} from '../erase/network.js'

export const PROTOCOL_VERSION = 1
export const SERVICES = 'polar/1'
const CID_RE = '([A-Za-z0-9]{1,200})'

/** The peer protocol (docs/protocol.md): versioned /v1/ routes on the public listener. */
export function publicRouter(ctx: NodeContext): Router {
  const router = new Router()
  const replicating = new Map<string, Promise<{held: boolean; blocks: number}>>()

  /** Verifies a signed request from a node in our peer table. */
  const fromPeer = (req: IncomingMessage, path: string, body: Uint8Array) => {
    const did = verifyRequest(req.headers, req.method!, path, body, ctx.guard, Date.now(), ctx.identity.did)
    const peer = ctx.peers.get(did)
    if (!peer) throw new HttpError(403, 'UNKNOWN_PEER', 'this node only takes that from its peers; register first (polar peers add)')
    if (peer.state !== 'alive') void ctx.reping?.(did) // it is up: check we reach it too, without waiting for the ping loop
    return peer
  }

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

  router.on('POST', /^\/v1\/blocks\/has$/, async (req, res) => {
    const {value} = await readJson(req, (v) => {
      if (!Array.isArray(v?.cids) || v.cids.length > 1024 || !v.cids.every((c: unknown) => typeof c === 'string')) throw new Error('expected {"cids": [string, …]} with at most 1024 CIDs')
      return v.cids as string[]
    })
    const have = value.map((c) => {
      try {
        return ctx.store.blocks.has(CID.parse(c))
      } catch {
        return false
      }
    })
    sendJson(res, 200, {have})
  })

  router.on('GET', new RegExp(`^/v1/blocks/${CID_RE}$`), async (req, res, [text]) => {
    const cid = parseCid(text)
    let bytes: Uint8Array
    try {
      bytes = await ctx.store.blocks.getAsync(cid) // through the thread pool: the event loop is not held by the disk (issue 15)
    } catch (err) {
      if (err instanceof IntegrityError) {
        ctx.log(`block ${cid} failed verification when a peer asked for it; not served`)
        throw new NotFoundError(`block ${cid} is damaged here`, {code: 'CORRUPT'})
      }
      throw err
    }
    res.writeHead(200, {'content-type': 'application/vnd.ipld.raw', 'content-length': bytes.length})
    if (req.method !== 'HEAD') writeInPieces(res, bytes) // in pieces: a slow reader is seen to progress (node/slow-clients.ts)
    res.end()
  })

  // Many blocks in one answer (frames): fewer round trips for bulk fetches.
  // Streamed block by block with back-pressure (block-batch.ts): an answer nobody reads holds about 1 MiB, not the batch.
  router.on('POST', /^\/v1\/blocks\/get$/, async (req, res) => {
    const {value: cids} = await readJson(req, checkBatchRequest)
    await sendBlockBatch(res, ctx.store.blocks, cids, (cid) => ctx.log(`block ${cid} failed verification when a peer asked for it; not served`))
  })

  // Dynamic block mode (issue 6, draft 003): which bases a block is encoded against here…
  router.on('POST', /^\/v1\/blocks\/bases$/, async (req, res) => {
    const {value} = await readJson(req, (v) => {
      if (!Array.isArray(v?.cids) || v.cids.length > 1024 || !v.cids.every((c: unknown) => typeof c === 'string')) throw new Error('expected {"cids": [string, …]} with at most 1024 CIDs')
      return v.cids as string[]
    })
    sendJson(res, 200, {bases: value.map((c) => {
      try {
        return ctx.store.blocks.codecs.basesOf(CID.parse(c)).map(String)
      } catch {
        return []
      }
    })})
  })

  // …and the block in the encoding that suits the asking peer: ?accept=gzip,delta,delta+gzip&have=BASE,…
  // Body: one codec byte, then the encoded block (codec 0: the raw bytes). src/lib/codec/transfer.ts.
  router.on('GET', new RegExp(`^/v1/blocks/${CID_RE}/encoded$`), (req, res, [text], url) => {
    const cid = parseCid(text)
    let out
    try {
      out = encodeForPeer(ctx.store.blocks, cid, parseOffer(url.searchParams.get('accept'), url.searchParams.get('have')))
    } catch (err) {
      if (err instanceof IntegrityError) {
        ctx.log(`block ${cid} failed verification when a peer asked for it; not served`)
        throw new NotFoundError(`block ${cid} is damaged here`, {code: 'CORRUPT'})
      }
      throw err
    }
    // A stored encoding starts with its codec byte already; raw bytes get codec byte 0 in front.
    const prefix = out.wire === 'raw' ? 1 : 0
    res.writeHead(200, {'content-type': 'application/vnd.polar.encoded-block', 'content-length': out.body.length + prefix, 'x-polar-codec': String(out.codec)})
    if (req.method === 'HEAD') return void res.end()
    if (prefix) res.write(Uint8Array.of(CODEC_RAW))
    res.end(out.body)
  })

  // No route takes blocks a peer pushes (issue 20): replication is pull-based
  // (POST /v1/replicate: this node fetches and verifies what an object it agreed
  // to hold needs, up to its size), and a remote write uploads the bytes of an
  // admitted record. An unsolicited block has no record this node agreed to
  // hold, so POST /v1/blocks, which stored any hash-valid block a peer sent, is gone.

  router.on('GET', /^\/v1\/records$/, (_req, res, _p, url) => {
    const root = parseCid(url.searchParams.get('root') ?? '')
    const records = ctx.store.records.objectsByRoot(root.toString())
      .map((r) => Buffer.from(ctx.store.records.bytesOf(r.cid)!).toString('base64'))
    sendJson(res, 200, {records})
  })

  router.on('POST', /^\/v1\/replicate$/, async (req, res, _p, url) => {
    const {value, raw} = await readJson(req, (v) => {
      if (typeof v?.record !== 'string' || v.record.length > 32 * 1024) throw new Error('expected {"record": base64, "sources": [url]}')
      if (v.sources !== undefined && (!Array.isArray(v.sources) || v.sources.length > 16 || !v.sources.every((s: unknown) => typeof s === 'string'))) throw new Error('sources must be a list of at most 16 URLs')
      if (v.replicas !== undefined && (!Number.isInteger(v.replicas) || v.replicas < 1 || v.replicas > 64)) throw new Error('replicas must be an integer from 1 to 64')
      return {record: Buffer.from(v.record, 'base64'), sources: (v.sources ?? []) as string[], replicas: v.replicas as number | undefined}
    })
    const peer = fromPeer(req, url.pathname + url.search, raw)
    let signed
    try {
      signed = decodeObjectRecord(value.record)
    } catch (err) {
      throw new HttpError(400, 'BAD_RECORD', (err as Error).message)
    }
    if (new Erasures(ctx.store).isErased(signed.cid)) throw new HttpError(410, 'ERASED', `${signed.record.root} (record ${signed.cid}) was erased by its owner; this node will not hold it again`)
    const root = signed.record.root
    if (!ctx.store.blocks.has(root)) checkObjectSize(ctx, signed.record.size)
    const key = root.toString()
    if (value.replicas !== undefined) setReplicaTarget(ctx, root, value.replicas)
    let job = replicating.get(key)
    if (!job) {
      job = ctx.track(replicate(ctx, root, signed.bytes, peer)).catch((err) => {
        // Blocks that verify but do not make a UnixFS file (a dag-cbor root, a dag-pb node
        // that does not decode, sizes that disagree) are the sender's bad input, not a 502.
        if (err instanceof IntegrityError) throw new HttpError(400, 'BAD_OBJECT', `${root} is not an object this node can hold: ${err.message}`)
        throw err
      }).finally(() => replicating.delete(key))
      replicating.set(key, job)
    }
    sendJson(res, 200, await job)
  })

  router.on('POST', /^\/v1\/erase$/, async (req, res) => {
    // Unsigned on purpose: an erase record is signed by the object's owner and
    // verified against the record it erases, whoever relays it.
    const {value} = await readJson(req, (v) => {
      if (typeof v?.erase !== 'string' || typeof v?.record !== 'string' || v.erase.length > 32 * 1024 || v.record.length > 32 * 1024) throw new Error('expected {"erase": base64, "record": base64}')
      return {erase: Buffer.from(v.erase, 'base64'), record: Buffer.from(v.record, 'base64')}
    }, 80 * 1024)
    let applied
    try {
      applied = await receiveErase(ctx, value.erase, value.record)
    } catch (err) {
      if (err instanceof IntegrityError) throw new HttpError(400, 'BAD_RECORD', err.message)
      throw err
    }
    sendJson(res, 200, applied)
  })

  router.on('GET', /^\/v1\/erasures$/, (_req, res, _p, url) => {
    const text = url.searchParams.get('after') ?? '0'
    const after = /^\d{1,15}$/.test(text) ? Number(text) : NaN
    if (!Number.isSafeInteger(after)) throw new HttpError(400, 'BAD_REQUEST', 'after must be a non-negative integer (a sequence number from an earlier page)')
    const rows = new Erasures(ctx.store).page(after, MAX_ERASURES_PAGE)
    sendJson(res, 200, {
      erasures: rows.map((r) => ({seq: r.seq, erase: Buffer.from(r.erase).toString('base64'), record: Buffer.from(r.record).toString('base64')})),
      next: rows.length > 0 ? rows[rows.length - 1].seq : after,
    })
  })

  // Remote writes by users (push --node): trusted owners, or a proof-of-work stamp (issue 5).
  remoteWriteRoutes(router, ctx)
  // Search of this node's index and trust records (issue 5).
  publicSearchTrustRoutes(router, ctx)

  return router
}

async function replicate(ctx: NodeContext, root: CID, recordBytes: Uint8Array, from: {did: string; url: string}): Promise<{held: boolean; blocks: number}> {
  const {cid: recordCid, record} = decodeObjectRecord(recordBytes)
  const {writer, appended} = trackingWriter(ctx.store.blocks.writer(NETWORK_WRITER))
  const own = {did: from.did, client: ctx.client(from)}
  const others = ctx.sources().filter((s) => s.did !== from.did)
  const source = new DynamicBlockSource(ctx.store, [own, ...(await locateHolders(root, others)).holders], writer, ctx.peers, ctx.log, root)
  source.batching = true
  try {
    // Up to the record's size (holding.ts): a record cannot make this node fetch more than it declares.
    await fetchObject(root, new SizedSource(source, root, record.size))
    await source.finish()
  } catch (err) {
    await writer.close().catch(() => {})
    // Blocks that cannot make the record's object are no object's: removed. A network failure
    // keeps every verified block, so that a retry (the pusher's, or repair) resumes.
    if (err instanceof IntegrityError) {
      const dropped = dropUnreferenced(ctx.store, appended)
      if (dropped.blocks) ctx.log(`replication of ${root} refused (${err.message}): removed ${dropped.blocks} block(s) it had fetched`)
    }
    throw err
  }
  await writer.close()
  const erasures = new Erasures(ctx.store)
  if (erasures.isErased(recordCid)) {
    // Erased while its blocks were on their way: give them back, refuse the record.
    erasures.sweep(root)
    throw new HttpError(410, 'ERASED', `${root} (record ${recordCid}) was erased by its owner while it was being replicated`)
  }
  ctx.store.records.putObject(recordBytes)
  return {held: ctx.store.blocks.has(root), blocks: source.fetched}
}


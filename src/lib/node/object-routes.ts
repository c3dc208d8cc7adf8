import type {IncomingMessage} from 'node:http'
import {parseCid} from '../content/cid.js'
import {Erasures, MAX_ERASURES_PAGE} from '../erase/index.js'
import {IntegrityError} from '../errors.js'
import {verifyRequest} from '../net/auth.js'
import {HttpError, readJson, type Router, sendJson} from '../net/http.js'
import {decodeObjectRecord} from '../records/index.js'
import type {NodeContext} from './context.js'
import {receiveErase} from './erase-sync.js'
import {checkObjectSize} from './holding.js'
import {replicate, setReplicaTarget} from './replicator.js'

/** What the object routes use of the node. */
export type ObjectRouteComponents = Pick<NodeContext, 'home' | 'did' | 'url' | 'identity' | 'guard' | 'settings' | 'store' | 'peers' | 'client' | 'sources' | 'log' | 'track' | 'reping'>

/**
 * The object routes (docs/protocol.md "Objects"): records of a root,
 * replication (pull-based, replicator.ts), erases and the tombstone list.
 */
export function objectRoutes(router: Router, ctx: ObjectRouteComponents): void {
  const replicating = new Map<string, Promise<{held: boolean; blocks: number}>>()

  /** Verifies a signed request from a node in our peer table. */
  const fromPeer = (req: IncomingMessage, path: string, body: Uint8Array) => {
    const did = verifyRequest(req.headers, req.method!, path, body, ctx.guard, Date.now(), ctx.identity.did)
    const peer = ctx.peers.get(did)
    if (!peer) throw new HttpError(403, 'UNKNOWN_PEER', 'this node only takes that from its peers; register first (polar peers add)')
    if (peer.state !== 'alive') void ctx.reping?.(did) // it is up: check we reach it too, without waiting for the ping loop
    return peer
  }

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
}

import {randomBytes} from 'node:crypto'
import type {IncomingMessage} from 'node:http'
import {buildFile} from '../content/index.js'
import {Erasures} from '../erase/index.js'
import {verifyRequest} from '../net/auth.js'
import {HttpError, readJson, sendJson, type Router} from '../net/http.js'
import {SpentStamps, stampProblem, writeStampResource} from '../records/stamp.js'
import {decodeObjectRecord} from '../records/object-record.js'
import {nodeOwner, trustStore} from './trust-sync.js'
import type {NodeContext} from './context.js'

/** What the remote-write routes use of the node (PUT /v1/objects): the request guard, identity, settings, store, log and tracking. */
export type RemoteWriteComponents = Pick<NodeContext, 'guard' | 'identity' | 'log' | 'settings' | 'store' | 'track' | 'home' | 'peers' | 'client' | 'sources' | 'did' | 'url'>
import {placeReplicas, setReplicaTarget} from './replicator.js'
import {checkObjectSize, dropUnreferenced, trackingWriter} from './holding.js'

/** A stamp's time may be this far from the node's clock; it is remembered as spent that long. */
export const WRITE_STAMP_WINDOW_MS = 10 * 60_000
/** An admitted upload must start within this. */
export const UPLOAD_TTL_MS = 10 * 60_000
/** Admitted uploads waiting for their bytes, at most. */
export const MAX_PENDING_UPLOADS = 1024

interface Upload {
  record: Buffer
  root: string
  size: number
  replicas: number
  expires: number
}

/**
 * Remote writes by users (`push --node URL`, DESIGN.md "Security model"): a
 * node takes a write from an owner whose trust score here is at least
 * `trustThreshold`, or with a proof-of-work stamp of `writeStampBits` bits.
 *
 * 1. `POST /v1/objects` (signed by the user key; body `{record, stamp?, replicas?}`):
 *    the signed object record states root and size before any byte is sent;
 *    the node decides and answers `{upload}` (a one-use path), `{held: true}`
 *    when it already has the object, or 403 `STAMP_REQUIRED` with `stampBits`.
 * 2. `PUT /v1/objects/{token}`: the file bytes. The node rebuilds the DAG,
 *    refuses (400 `BAD_OBJECT`) unless it gives the record's root and size,
 *    stores the record and places replicas.
 */
export function remoteWriteRoutes(router: Router, ctx: RemoteWriteComponents): void {
  const spent = new SpentStamps()
  const uploads = new Map<string, Upload>()

  router.on('POST', /^\/v1\/objects$/, async (req: IncomingMessage, res, _p, url) => {
    const {value, raw} = await readJson(req, (v) => {
      if (typeof v?.record !== 'string' || v.record.length > 32 * 1024) throw new Error('expected {"record": base64 object record, "stamp"?: {bits, nonce, time}, "replicas"?: n}')
      if (v.replicas !== undefined && (!Number.isInteger(v.replicas) || v.replicas < 1 || v.replicas > 64)) throw new Error('replicas must be an integer from 1 to 64')
      return {record: Buffer.from(v.record, 'base64'), stamp: v.stamp as unknown, replicas: v.replicas as number | undefined}
    }, 64 * 1024)
    const signer = verifyRequest(req.headers, 'POST', url.pathname + url.search, raw, ctx.guard, Date.now(), ctx.identity.did)
    let signed
    try {
      signed = decodeObjectRecord(value.record)
    } catch (err) {
      throw new HttpError(400, 'BAD_RECORD', (err as Error).message)
    }
    const rec = signed.record
    if (new Erasures(ctx.store).isErased(signed.cid)) throw new HttpError(410, 'ERASED', `record ${signed.cid} was erased by its owner; this node will not hold it again`)
    if (rec.owner !== signer) throw new HttpError(403, 'NOT_OWNER', `the request is signed by ${signer} but the record by ${rec.owner}: a remote write must be signed by the record's owner`)
    const root = rec.root.toString()
    // Before the stamp is spent: an object this node would not hold anyway (issue 20: the size was not capped).
    if (!ctx.store.blocks.has(rec.root)) checkObjectSize(ctx, rec.size)
    const admission = admit(ctx, spent, signer, root, value.stamp)
    if ('refused' in admission) {
      sendJson(res, 403, {error: {code: 'STAMP_REQUIRED', message: admission.refused}, stampBits: ctx.settings.writeStampBits, resource: writeStampResource(signer, root)})
      return
    }
    const admittedBy = admission.by
    const replicas = value.replicas ?? ctx.settings.replicas
    if (ctx.store.blocks.has(rec.root)) {
      ctx.store.records.putObject(signed.bytes)
      setReplicaTarget(ctx, root, replicas)
      const placement = await placeReplicas(ctx, signed.bytes, replicas)
      sendJson(res, 200, {held: true, admittedBy, cid: root, record: signed.cid.toString(), replicas: placement.replicas, nodes: placement.nodes})
      return
    }
    const now = Date.now()
    for (const [k, u] of uploads) if (u.expires < now) uploads.delete(k)
    if (uploads.size >= MAX_PENDING_UPLOADS) throw new HttpError(429, 'BUSY', 'too many admitted uploads waiting; try again shortly')
    const token = randomBytes(16).toString('hex')
    uploads.set(token, {record: signed.bytes as Buffer, root, size: rec.size, replicas, expires: now + UPLOAD_TTL_MS})
    sendJson(res, 200, {upload: `/v1/objects/${token}`, admittedBy, cid: root})
  })

  router.on('PUT', /^\/v1\/objects\/([0-9a-f]{32})$/, async (req, res, [token]) => {
    const up = uploads.get(token)
    uploads.delete(token) // one use
    if (!up || up.expires < Date.now()) {
      req.resume()
      throw new HttpError(404, 'NOT_FOUND', 'no such upload (admitted uploads are used once and expire after 10 minutes); ask again with POST /v1/objects')
    }
    const declared = req.headers['content-length']
    if (declared !== undefined && Number(declared) !== up.size) {
      req.resume()
      throw new HttpError(400, 'BAD_OBJECT', `body is ${declared} bytes but the record says ${up.size}`)
    }
    // Never more bytes than the record declared: the body is cut off there.
    let seen = 0
    const bounded = (async function* () {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        seen += chunk.length
        if (seen > up.size) throw new HttpError(413, 'TOO_LARGE', `body is over the ${up.size} bytes the record declares`)
        yield chunk
      }
    })()
    const result = await ctx.track((async () => {
      // Nothing is indexed before the DAG proves to be the record's (no checkpoints: a crash loses
      // only this upload, which its client retries), so a refused upload leaves no block behind:
      // abort cuts the bytes off, and what a move to a new pack indexed meanwhile is deleted (issue 20).
      const {writer, appended} = trackingWriter(ctx.store.blocks.writer({checkpointBytes: Infinity}))
      try {
        const built = await buildFile(bounded, writer)
        if (built.cid.toString() !== up.root || built.size !== up.size) {
          throw new HttpError(400, 'BAD_OBJECT', `the bytes give ${built.cid} (${built.size} bytes), not the record's ${up.root} (${up.size} bytes)`)
        }
        await writer.close()
        return built
      } catch (err) {
        await writer.abort()
        const dropped = dropUnreferenced(ctx.store, appended)
        if (dropped.blocks) ctx.log(`remote write of ${up.root} refused: removed ${dropped.blocks} block(s) (${dropped.bytes} bytes) it had left`)
        if ((err as Error).name === 'HttpError') throw err
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'ENOSPC' || code === 'SQLITE_FULL') throw err
        throw new HttpError(400, 'BAD_OBJECT', `upload failed: ${(err as Error).message}`)
      }
    })())
    const signed = ctx.store.records.putObject(up.record)
    setReplicaTarget(ctx, up.root, up.replicas)
    const placement = await placeReplicas(ctx, up.record, up.replicas)
    const r = signed.record
    sendJson(res, 200, {cid: up.root, size: r.size, name: r.name, mime: r.mime, tags: r.tags, owner: r.owner, record: signed.cid.toString(), blocks: result.blocks, replicas: placement.replicas, nodes: placement.nodes})
  })
}

/** Why `signer` may write here ('owner', 'trust' or 'stamp'), or why not (what it takes). */
function admit(ctx: RemoteWriteComponents, spent: SpentStamps, signer: string, root: string, stamp: unknown): {by: string} | {refused: string} {
  const owner = nodeOwner(ctx)
  if (owner === signer) return {by: 'owner'}
  const score = owner ? trustStore(ctx).score(owner, signer, {withPaths: false}).score : 0
  if (score > 0 && score >= ctx.settings.trustThreshold) return {by: 'trust'}
  const bits = ctx.settings.writeStampBits
  const resource = writeStampResource(signer, root)
  const refuse = (why: string) => ({refused: `${signer} has trust ${Math.round(score * 1000) / 1000} here, under the ${ctx.settings.trustThreshold} this node asks of remote writers, and ${why}: send a proof-of-work stamp of ${bits} bits (polar push mints one by itself up to --max-stamp-bits)`})
  if (stamp === undefined || stamp === null) return refuse('sent no stamp')
  const time = (stamp as {time?: unknown})?.time
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || Math.abs(Date.now() - time) > WRITE_STAMP_WINDOW_MS) return refuse('its stamp time is missing or more than 10 minutes from this node\'s clock')
  const problem = stampProblem(stamp, resource, time, bits)
  if (problem) return refuse(`its ${problem}`)
  if (!spent.spend(resource, time, stamp as {bits: number; nonce: string}, time + WRITE_STAMP_WINDOW_MS)) return refuse('its stamp was already spent')
  return {by: 'stamp'}
}

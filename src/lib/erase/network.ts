import {NetworkError, NotFoundError, PolarError} from '../errors.js'
import type {Identity} from '../identity/index.js'
import {type ObjectRecord, type SignedRecord} from '../records/object-record.js'
import {verifyErase, type VerifiedErase} from '../records/erase-record.js'
import type {NodeContext} from '../node/context.js'
import {parseCid} from '../content/cid.js'
import {DAG_CBOR_CODE} from '../content/constants.js'
import {Erasures, recordsFromAnswer, signErasures, type Applied} from './erasures.js'
import {compactPacks} from '../store/compact.js'

const compacting = new WeakMap<NodeContext, {running: boolean; again: boolean}>()

/**
 * Compacts packs in the background after an erase deleted blocks: one run at
 * a time per node, and one more if erases came in meanwhile.
 */
export function scheduleCompaction(ctx: NodeContext): void {
  let state = compacting.get(ctx)
  if (!state) compacting.set(ctx, (state = {running: false, again: false}))
  if (state.running) {
    state.again = true
    return
  }
  state.running = true
  const s = state
  const run = async (): Promise<void> => {
    do {
      s.again = false
      const r = await compactPacks(ctx.store.blocks)
      if (r.packs > 0) ctx.log(`compaction: ${r.packs} pack(s) rewritten, ${r.reclaimed} bytes given back`)
    } while (s.again)
  }
  ctx.track(run()).catch((err) => ctx.log(`compaction: ${(err as Error).message}`)).finally(() => { s.running = false })
}

/** How long an erase waits for each peer to confirm. */
export const ERASE_SEND_TIMEOUT_MS = 10_000
/** How long a record lookup on peers waits for each. */
const LOOKUP_TIMEOUT_MS = 3_000

export interface EraseResult {
  /** The CID the caller named (root or record). */
  cid: string
  erased: true
  /** Object records erased. */
  records: string[]
  /** Nodes (dids) that applied or already had the erase, this one first. */
  nodes: string[]
  /** Blocks deleted on this node. */
  blocks: number
}

/**
 * Sends an erase to every peer not known dead — the object's placement and
 * replica holders among them — and returns the dids that confirmed. Peers
 * that miss it (offline) get it by anti-entropy (syncErasures) when they are back.
 */
export async function sendErase(ctx: NodeContext, v: VerifiedErase, signal?: AbortSignal): Promise<string[]> {
  const peers = ctx.peers.list().filter((p) => p.state !== 'dead')
  const confirmed: string[] = []
  await Promise.all(peers.map(async (peer) => {
    try {
      await ctx.client(peer).erase(v.erase.bytes, v.object.bytes, {signal, timeoutMs: ERASE_SEND_TIMEOUT_MS})
      confirmed.push(peer.did)
    } catch (err) {
      ctx.log(`erase ${v.erase.cid} not delivered to ${peer.url}: ${(err as Error).message}`)
    }
  }))
  return confirmed
}

/**
 * An erase from the network (POST /v1/erase): verified against the record it
 * erases (IntegrityError or NotAllowedError, and nothing changes), applied,
 * and — when new here — forwarded to this node's peers in the background
 * (gossip: a node forwards an erase once, so the flood ends).
 */
export function receiveErase(ctx: NodeContext, eraseBytes: Uint8Array, recordBytes: Uint8Array): Applied {
  const v = verifyErase(eraseBytes, recordBytes)
  const applied = new Erasures(ctx.store).apply(v)
  if (applied.applied) {
    ctx.log(`erased ${v.object.record.root} (record ${v.object.cid}) for its owner: ${applied.records} record(s), ${applied.blocks} block(s) deleted`)
    ctx.track(sendErase(ctx, v)).catch(() => {})
  }
  if (applied.blocks > 0) scheduleCompaction(ctx)
  return applied
}

/**
 * Anti-entropy: reads each peer's tombstones past the cursor kept for it and
 * applies the ones that verify, so a node that was offline during an erase
 * applies it when it is back. Bad entries are skipped (and logged), never fatal.
 */
export async function syncErasures(ctx: NodeContext, signal?: AbortSignal): Promise<number> {
  const erasures = new Erasures(ctx.store)
  let total = 0
  await Promise.all(ctx.peers.list().map(async (peer) => {
    let after = erasures.cursor(peer.did)
    try {
      for (let pages = 0; pages < 64; pages++) {
        const page = await ctx.client(peer).erasures(after, {signal, timeoutMs: 5_000})
        if (!Array.isArray(page?.erasures) || page.erasures.length === 0) break
        for (const e of page.erasures) {
          if (!Number.isSafeInteger(e?.seq) || e.seq <= after) throw new NetworkError(`${peer.url}: erasures out of order`)
          try {
            const r = erasures.apply(verifyErase(Buffer.from(String(e.erase), 'base64'), Buffer.from(String(e.record), 'base64')))
            if (r.blocks > 0) scheduleCompaction(ctx)
            if (r.applied) {
              total++
              ctx.log(`erase learned from ${peer.url}: ${r.records} record(s), ${r.blocks} block(s) deleted`)
            }
          } catch (err) {
            if (!(err instanceof PolarError)) throw err
            ctx.log(`skipped a bad erasure from ${peer.url}: ${err.message}`)
          }
          after = e.seq
        }
        erasures.setCursor(peer.did, after)
      }
    } catch (err) {
      if (!signal?.aborted) ctx.log(`erasure sync with ${peer.url}: ${(err as Error).message}`)
    }
  }))
  return total
}

/** Object records for a root CID held by peers (GET /v1/records), verified; for erasing an object this node does not hold. */
async function recordsFromPeers(ctx: NodeContext, cidText: string): Promise<Array<SignedRecord<ObjectRecord>>> {
  const cid = parseCid(cidText)
  if (cid.code === DAG_CBOR_CODE) return []
  const out: Array<SignedRecord<ObjectRecord>> = []
  await Promise.all(ctx.peers.live().map(async (peer) => {
    try {
      const r = await ctx.client(peer).records(cid, {timeoutMs: LOOKUP_TIMEOUT_MS})
      out.push(...recordsFromAnswer(r, cid))
    } catch {}
  }))
  return out
}

/**
 * `polar erase` through a running node: finds the records the CID names
 * (here, else on live peers), signs an erase for each one `identity` owns
 * (none: exit 6, nothing sent), applies it here and sends it to the peers.
 */
export async function eraseThroughNode(ctx: NodeContext, cidText: string, identity: Identity): Promise<EraseResult> {
  const erasures = new Erasures(ctx.store)
  let records: Array<SignedRecord<ObjectRecord>>
  try {
    records = erasures.recordsFor(cidText)
  } catch (err) {
    if (!(err instanceof NotFoundError) || err.code === 'ERASED') throw err
    records = erasures.recordsFor(cidText, await recordsFromPeers(ctx, cidText))
  }
  const signed = signErasures(records, identity)
  const nodes = new Set<string>([ctx.identity.did])
  let blocks = 0
  for (const v of signed) {
    blocks += erasures.apply(v).blocks
    ctx.log(`erase of ${v.object.record.root} (record ${v.object.cid}) signed by its owner`)
    for (const did of await ctx.track(sendErase(ctx, v))) nodes.add(did)
  }
  if (blocks > 0) scheduleCompaction(ctx)
  return {cid: cidText, erased: true, records: signed.map((v) => v.object.cid.toString()), nodes: [...nodes], blocks}
}

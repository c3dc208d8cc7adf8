import type {CID} from 'multiformats/cid'
import {NetworkError, NotFoundError, PolarError} from '../errors.js'
import type {Identity} from '../identity/index.js'
import {type ObjectRecord, type SignedRecord} from '../records/object-record.js'
import {verifyErase, type VerifiedErase} from '../records/erase-record.js'
import {rankNodes} from './placement.js'
import {parseCid} from '../content/cid.js'
import {DAG_CBOR_CODE} from '../content/constants.js'
import {Erasures, signErasures, type Applied, type EraseResult} from '../erase/index.js'
import {recordsFromAnswer} from '../erase/erasures.js'
import {compactionDue, finishCompaction} from '../store/compact.js'
import type {Store} from '../store/store.js'
import type {ClientFor, Log, Track} from './components.js'
import type {PeerTable} from './peer-table.js'

/**
 * The node's side of erasure (it was erase/network.ts; node-loop code belongs
 * in node/): sending erases to peers, receiving them, anti-entropy with the
 * peers' tombstone lists, pulled-copy decisions and background compaction.
 * What it uses of the node (a test passes fakes for the peers and clients).
 * Per-node state (compaction runs, open decisions) is kept per components object.
 */
export interface EraseSyncComponents {
  store: Store
  peers: Pick<PeerTable, 'list' | 'live'>
  client: ClientFor
  log: Log
  track: Track
  /** This node's did (the first of the nodes an erase reports). */
  did: string
}

const compacting = new WeakMap<EraseSyncComponents, {running: boolean; again: boolean}>()

/**
 * Runs the compaction an erase left owed (docs/storage.md "Compaction") in
 * the background: one run at a time per node, and one more if erases came in
 * meanwhile. The intent is in the database (markCompactionDue), so a node
 * killed part way finishes it when it starts again (resumeErasures).
 */
export function scheduleCompaction(ctx: EraseSyncComponents): void {
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
      const r = await finishCompaction(ctx.store.blocks)
      if (r.packs > 0) ctx.log(`compaction: ${r.packs} pack(s) rewritten, ${r.reclaimed} bytes given back${r.deferred ? `; ${r.deferred} left for later (in use)` : ''}`)
    } while (s.again)
  }
  ctx.track(run()).catch((err) => ctx.log(`compaction: ${(err as Error).message}`)).finally(() => { s.running = false })
}

/** How long an erase waits for each peer to confirm. */
export const ERASE_SEND_TIMEOUT_MS = 10_000
/** How long a record lookup on peers waits for each. */
const LOOKUP_TIMEOUT_MS = 3_000


/**
 * Sends an erase to every peer not known dead — the object's placement and
 * replica holders among them — and returns the dids that confirmed. Peers
 * that miss it (offline) get it by anti-entropy (syncErasures) when they are back.
 */
export async function sendErase(ctx: EraseSyncComponents, v: VerifiedErase, signal?: AbortSignal): Promise<string[]> {
  const peers = ctx.peers.list().filter((p) => p.state !== 'dead')
  const confirmed: string[] = []
  await Promise.all(peers.map(async (peer) => {
    try {
      await ctx.client(peer).erase.send(v.erase.bytes, v.object.bytes, {signal, timeoutMs: ERASE_SEND_TIMEOUT_MS})
      confirmed.push(peer.did)
    } catch (err) {
      ctx.log(`erase ${v.erase.cid} not delivered to ${peer.url}: ${(err as Error).message}`)
    }
  }))
  return confirmed
}

/** Most peers asked for the records of one root (placement order first, where its records live). */
export const LOOKUP_PEERS = 32

/** Live (not erased here) object records of a root that peers hold, and how many peers were asked and answered. */
export interface Lookup {
  live: Array<SignedRecord<ObjectRecord>>
  asked: number
  answered: number
}

/**
 * Asks up to LOOKUP_PEERS live peers (rendezvous order for `root`) for their
 * object records of `root` (GET /v1/records), keeps those that verify, name
 * that root and are not erased here. A peer can make up a record of its own
 * for any root; that only ever keeps bytes, never removes or hides them.
 */
export async function lookupRecords(ctx: EraseSyncComponents, root: CID, signal?: AbortSignal): Promise<Lookup> {
  const erasures = new Erasures(ctx.store)
  const peers = rankNodes(root, ctx.peers.live()).slice(0, LOOKUP_PEERS)
  const live = new Map<string, SignedRecord<ObjectRecord>>()
  let answered = 0
  await Promise.all(peers.map(async (peer) => {
    try {
      const r = await ctx.client(peer).objects.records(root, {signal, timeoutMs: LOOKUP_TIMEOUT_MS})
      answered++
      for (const signed of recordsFromAnswer(r, root)) if (!erasures.isErased(signed.cid)) live.set(signed.cid.toString(), signed)
    } catch {}
  }))
  return {live: [...live.values()], asked: peers.length, answered}
}

/**
 * "This node will not fetch it again" (pull through a node): refused only
 * when a tombstone here names `root` and no live record of it is known —
 * none here, none on the live peers asked. Another owner's record of the
 * same bytes, here or on a peer, lets the pull go on (issue 20 point 1), and
 * so does a pulled copy kept because such a record was known (keptCopy).
 * Throws NotFoundError ERASED, or NetworkError when no peer could be asked.
 */
export async function assertNotErased(ctx: EraseSyncComponents, root: CID, signal?: AbortSignal): Promise<void> {
  const erasures = new Erasures(ctx.store)
  if (!erasures.rootIsErased(root) || erasures.keptCopy(root)) return
  const found = await lookupRecords(ctx, root, signal)
  if (found.live.some((r) => !erasures.isErased(r.cid))) return
  if (found.asked > 0 && found.answered === 0) {
    throw new NetworkError(`a record of ${root} was erased here by its owner, and none of the ${found.asked} peer(s) asked answered whether another record still names it; is the network up? see \`polar peers\``)
  }
  throw new NotFoundError(`${root} was erased by its owner; this node will not fetch it again`, {code: 'ERASED'})
}

/** Notes a pull through the node that fetches `root` with no record here (Erasures.notePulled). */
export function notePulledCopy(ctx: EraseSyncComponents, root: CID): void {
  new Erasures(ctx.store).notePulled(root)
}

const deciding = new WeakMap<EraseSyncComponents, Map<string, Promise<number>>>()

/**
 * The open decision about the pulled copy of `root` (Erasures.apply,
 * cacheUndecided): asks the peers for live records of it; any → the copy
 * stays (it is that object's), none → it is swept. When no peer answers at
 * all the decision stays open for the next round (maintainErasures), so a
 * partition alone never empties a cache. One lookup per root at a time; an
 * erase of the same root meanwhile joins it. Returns blocks deleted.
 */
export function settleCache(ctx: EraseSyncComponents, root: CID, signal?: AbortSignal): Promise<number> {
  let inFlight = deciding.get(ctx)
  if (!inFlight) deciding.set(ctx, (inFlight = new Map()))
  const key = root.toString()
  const running = inFlight.get(key)
  if (running) return running
  const map = inFlight
  const work = (async () => {
    const found = await lookupRecords(ctx, root, signal)
    const erasures = new Erasures(ctx.store)
    // Filtered again now: an erase of one of these records may have come in while the peers answered
    // (it joined this decision instead of starting its own).
    const live = found.live.filter((r) => !erasures.isErased(r.cid))
    if (live.length === 0 && found.asked > 0 && found.answered === 0) return 0
    const swept = erasures.decideCache(root, live.length > 0)
    if (live.length > 0) ctx.log(`erase of a record of ${root}: the pulled copy stays here, ${live.length} other record(s) of it live on (${live.map((r) => r.record.owner).join(', ')})`)
    else if (swept.blocks > 0) ctx.log(`erase of ${root}: ${swept.blocks} block(s) of the pulled copy deleted, no live record of it is known`)
    if (swept.blocks > 0) scheduleCompaction(ctx)
    return swept.blocks
  })().catch((err) => {
    ctx.log(`erase of ${root}: deciding on its pulled copy failed: ${(err as Error).message}`)
    return 0
  }).finally(() => map.delete(key))
  map.set(key, work)
  return ctx.track(work)
}

/** Applies a verified erase on this node: Erasures.apply, then the pulled-copy decision if one is open, then compaction. */
export async function applyErase(ctx: EraseSyncComponents, v: VerifiedErase, signal?: AbortSignal): Promise<Applied> {
  const {cacheUndecided, ...r} = new Erasures(ctx.store).apply(v)
  if (cacheUndecided) r.blocks += await settleCache(ctx, v.object.record.root, signal)
  if (r.blocks > 0) scheduleCompaction(ctx)
  return r
}

/**
 * An erase from the network (POST /v1/erase): verified against the record it
 * erases (IntegrityError or NotAllowedError, and nothing changes), applied,
 * and — when new here — forwarded to this node's peers in the background
 * (gossip: a node forwards an erase once, so the flood ends). Whoever sends
 * it, it removes exactly the record it names (applyErase).
 */
export async function receiveErase(ctx: EraseSyncComponents, eraseBytes: Uint8Array, recordBytes: Uint8Array): Promise<Applied> {
  const v = verifyErase(eraseBytes, recordBytes)
  const applied = await applyErase(ctx, v)
  if (applied.applied) {
    ctx.log(`erased record ${v.object.cid} of ${v.object.record.root} for its owner: ${applied.records} record(s), ${applied.blocks} block(s) deleted`)
    ctx.track(sendErase(ctx, v)).catch(() => {})
  }
  return applied
}

/**
 * Anti-entropy: reads each peer's tombstones past the cursor kept for it and
 * applies the ones that verify, so a node that was offline during an erase
 * applies it when it is back. Bad entries are skipped (and logged), never fatal.
 */
export async function syncErasures(ctx: EraseSyncComponents, signal?: AbortSignal): Promise<number> {
  const erasures = new Erasures(ctx.store)
  let total = 0
  await Promise.all(ctx.peers.list().map(async (peer) => {
    let after = erasures.cursor(peer.did)
    try {
      for (let pages = 0; pages < 64; pages++) {
        const page = await ctx.client(peer).erase.since(after, {signal, timeoutMs: 5_000})
        if (!Array.isArray(page?.erasures) || page.erasures.length === 0) break
        for (const e of page.erasures) {
          if (!Number.isSafeInteger(e?.seq) || e.seq <= after) throw new NetworkError(`${peer.url}: erasures out of order`)
          try {
            const r = await applyErase(ctx, verifyErase(Buffer.from(String(e.erase), 'base64'), Buffer.from(String(e.record), 'base64')), signal)
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

/**
 * At node start: finishes the sweeps a crash cut short (those that need no
 * network, at once; open cache decisions and owed compaction in the
 * background). Returns the blocks deleted at once.
 */
export function resumeErasures(ctx: EraseSyncComponents, signal?: AbortSignal): number {
  const swept = new Erasures(ctx.store).finishPending()
  ctx.track(finishOpenWork(ctx, signal)).catch((err) => { if (!signal?.aborted) ctx.log(`erase: ${(err as Error).message}`) })
  return swept
}

/** The erase loop (every eraseSyncIntervalMs): anti-entropy, then open cache decisions and owed compaction. */
export async function maintainErasures(ctx: EraseSyncComponents, signal?: AbortSignal): Promise<void> {
  await syncErasures(ctx, signal)
  await finishOpenWork(ctx, signal)
}

async function finishOpenWork(ctx: EraseSyncComponents, signal?: AbortSignal): Promise<void> {
  for (const root of new Erasures(ctx.store).undecidedCaches()) {
    signal?.throwIfAborted()
    await settleCache(ctx, root, signal)
  }
  if (compactionDue(ctx.store.db) !== undefined) scheduleCompaction(ctx)
}

/**
 * `polar erase` through a running node: finds the records the CID names
 * (here, else on live peers — also when every record of that root known here
 * was erased, since another of the caller's may live elsewhere), signs an
 * erase for each one `identity` owns (none: exit 6, nothing sent), applies
 * it here and sends it to the peers.
 */
export async function eraseThroughNode(ctx: EraseSyncComponents, cidText: string, identity: Identity): Promise<EraseResult> {
  const erasures = new Erasures(ctx.store)
  let records: Array<SignedRecord<ObjectRecord>>
  try {
    records = erasures.recordsFor(cidText)
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err
    const cid = parseCid(cidText)
    if (cid.code === DAG_CBOR_CODE) throw err // a record CID: this node knows it or its tombstone
    records = erasures.recordsFor(cidText, (await lookupRecords(ctx, cid)).live)
  }
  const signed = signErasures(records, identity)
  const nodes = new Set<string>([ctx.did])
  let blocks = 0
  for (const v of signed) {
    blocks += (await applyErase(ctx, v)).blocks
    ctx.log(`erase of ${v.object.record.root} (record ${v.object.cid}) signed by its owner`)
    for (const did of await ctx.track(sendErase(ctx, v))) nodes.add(did)
  }
  return {cid: cidText, erased: true, records: signed.map((v) => v.object.cid.toString()), nodes: [...nodes], blocks}
}

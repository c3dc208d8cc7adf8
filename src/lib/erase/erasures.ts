import {CID} from 'multiformats/cid'
import {parseCid} from '../content/cid.js'
import {DAG_CBOR_CODE} from '../content/constants.js'
import {IntegrityError, NotAllowedError, NotFoundError} from '../errors.js'
import type {Identity} from '../identity/index.js'
import {decodeObjectRecord, type ObjectRecord, type SignedRecord} from '../records/object-record.js'
import {signEraseRecord, verifyErase, type VerifiedErase} from '../records/erase-record.js'
import type {Store} from '../store/store.js'
import {markCompactionDue} from '../store/compact.js'
import {unneededBlocks} from './sweep.js'

/** What applying one erase did on this node (the answer to POST /v1/erase). */
export interface Applied {
  /** The erase is new here (false: a replay of one already applied). */
  applied: boolean
  /** Object records deleted (0 or 1). */
  records: number
  /** Blocks deleted (index rows; their pack bytes become dead space). */
  blocks: number
  bytes: number
}

/** What `apply` did, and whether a decision about a pulled copy waits for the network. */
export interface Applying extends Applied {
  /**
   * This node holds a pulled copy of the erased root (fetched for a pull
   * through it, no record here): it goes only when no live record of the root
   * is known on the network either, which network.ts asks the peers
   * (settleCache) and then tells `decideCache`.
   */
  cacheUndecided: boolean
}

/** A tombstone as served to peers (GET /v1/erasures). */
export interface ErasureRow {
  seq: number
  erase: Uint8Array
  record: Uint8Array
}

/** Most tombstones served in one page. */
export const MAX_ERASURES_PAGE = 256

const NOTHING = {blocks: 0, bytes: 0}

/**
 * Tombstones (docs/storage.md "erasures") and the effect of an erase on this
 * store. A tombstone names one object record (its CID) and stands for that
 * record only (issue 20 point 1): anyone can sign a record for any root, so
 * the same root under another record — another owner's, or a later push — is
 * another object and stays.
 *
 * A node holds blocks for a record of them, or as a pulled copy (`pulled`:
 * roots fetched for a pull through the node, no record). After an erase:
 * - blocks it held for the erased record go where no remaining record and no
 *   pulled copy here reaches them (mark and sweep, sweep.ts; delta bases are
 *   kept by BlockStore.deleteBlocks);
 * - a pulled copy of the erased root goes only when no live record of the
 *   root is known here or on the peers (network.ts) — so a stranger's erase
 *   of their own record cannot empty a cache of someone else's object, and
 *   an erase naming one of its leaves as a root takes nothing;
 * - the sweep owed is kept in the tombstone row (`sweep`) until done, so a
 *   crash in between is finished at the next open or node start.
 */
export class Erasures {
  constructor(private readonly store: Store) {}

  private get db() {
    return this.store.db
  }

  /** True when the object record `recordCid` was erased here. */
  isErased(recordCid: CID | string): boolean {
    return this.db.prepare('SELECT 1 FROM erasures WHERE target = ?').get(String(recordCid)) !== undefined
  }

  /** True when some tombstone here names `root` (whoever owned the record it erased). */
  hasTombstone(root: CID | string): boolean {
    return this.db.prepare('SELECT 1 FROM erasures WHERE root = ?').get(String(root)) !== undefined
  }

  /** True when a live (not erased) object record here names `root`. */
  hasLiveRecord(root: CID | string): boolean {
    return this.store.records.hasRoot(String(root))
  }

  /**
   * True when every object record of `root` this store knows was erased: a
   * tombstone names it and no live record does. Only what this store knows —
   * a node also asks its peers before it refuses a root (network.ts,
   * assertNotErased), since another owner's record may live elsewhere.
   */
  rootIsErased(root: CID | string): boolean {
    return this.hasTombstone(root) && !this.hasLiveRecord(root)
  }

  /**
   * Notes that the blocks of `root` are being fetched for a pull through the
   * node with no record here: a pulled copy, which erases of other roots never
   * take from, and an erase of this root takes only when no live record of it
   * is known anywhere (decideCache).
   */
  notePulled(root: CID, now = Date.now()): void {
    this.db.prepare('INSERT OR IGNORE INTO pulled (root, time) VALUES (?, ?)').run(root.toString(), now)
  }

  /** True when `root` is a pulled copy here (notePulled). */
  isPulled(root: CID | string): boolean {
    return this.db.prepare('SELECT 1 FROM pulled WHERE root = ?').get(String(root)) !== undefined
  }

  /**
   * True when this node holds a pulled copy of `root` that it decided to keep
   * after an erase (a live record of it was known then, decideCache) and no
   * decision about it is open: it serves that copy without asking again.
   */
  keptCopy(root: CID): boolean {
    return this.isPulled(root) && this.store.blocks.has(root)
      && this.db.prepare("SELECT 1 FROM erasures WHERE root = ? AND sweep = 'cache'").get(root.toString()) === undefined
  }

  /**
   * Applies a verified erase: in one IMMEDIATE transaction the object record
   * goes out and the tombstone goes in, marked with the sweep it owes; then
   * `settle` does what needs no network. A replay inserts nothing but still
   * settles, so a sweep a crash cut short is finished by the next copy of the
   * erase (or by finishPending at open and start).
   */
  apply(v: VerifiedErase, now = Date.now()): Applying {
    const target = v.object.cid.toString()
    const root = v.object.record.root.toString()
    let applied = false
    let records = 0
    this.db.transaction(() => {
      records = this.store.records.delete(target)
      const ins = this.db.prepare(`INSERT OR IGNORE INTO erasures (cid, target, root, owner, time, bytes, record, received, sweep)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(v.erase.cid.toString(), target, root, v.erase.record.owner, v.erase.record.time, v.erase.bytes, v.object.bytes, now, records > 0 ? 'record' : 'cache')
      applied = ins.changes === 1
      if (!this.hasLiveRecord(root)) this.store.records.dropReplicaTarget(root)
    }).immediate()
    return {applied, records, ...this.settle(v.object.record.root)}
  }

  /**
   * Does the sweep owed for `root` that needs no network. After a 'record'
   * tombstone, the blocks of its DAG that no live record and no pulled copy
   * here reaches are deleted. Then, if this node holds a pulled copy of the
   * root itself and no live record of it, the decision about that copy stays
   * open (`cacheUndecided`) for the network's answer; otherwise nothing more
   * is owed.
   */
  settle(root: CID): {blocks: number; bytes: number; cacheUndecided: boolean} {
    const key = root.toString()
    const owed = new Set(this.db.prepare('SELECT DISTINCT sweep FROM erasures WHERE root = ? AND sweep IS NOT NULL').pluck().all(key) as string[])
    if (owed.size === 0) return {...NOTHING, cacheUndecided: false}
    const swept = owed.has('record') ? this.sweep(root) : NOTHING
    const pulled = this.isPulled(key)
    const open = pulled && !this.hasLiveRecord(key) && this.store.blocks.has(root)
    this.db.transaction(() => {
      this.db.prepare('UPDATE erasures SET sweep = ? WHERE root = ? AND sweep IS NOT NULL').run(open ? 'cache' : null, key)
      if (pulled && !this.store.blocks.has(root)) this.db.prepare('DELETE FROM pulled WHERE root = ?').run(key)
    }).immediate()
    return {...swept, cacheUndecided: open}
  }

  /**
   * Closes the open decision about the pulled copy of `root` with the
   * network's answer: a live record of it is known somewhere (`live`: the copy
   * stays, it is that object's), or none is (the copy goes, except blocks a
   * live record or another pulled copy here reaches).
   */
  decideCache(root: CID, live: boolean): {blocks: number; bytes: number} {
    const key = root.toString()
    const swept = live ? NOTHING : this.sweep(root, {keepOwnCopy: false})
    this.db.transaction(() => {
      this.db.prepare("UPDATE erasures SET sweep = NULL WHERE root = ? AND sweep = 'cache'").run(key)
      if (!live) this.db.prepare('DELETE FROM pulled WHERE root = ?').run(key)
    }).immediate()
    return swept
  }

  /** Roots whose pulled-copy decision is still open (a node asks its peers about them). */
  undecidedCaches(): CID[] {
    const roots = this.db.prepare("SELECT DISTINCT root FROM erasures WHERE sweep = 'cache'").pluck().all() as string[]
    return roots.map((r) => CID.parse(r))
  }

  /**
   * Finishes the sweeps a crash cut short that need no network (the open
   * pulled-copy decisions stay for a node); returns blocks deleted. Run at
   * store open and node start.
   */
  finishPending(): number {
    const roots = this.db.prepare('SELECT DISTINCT root FROM erasures WHERE sweep IS NOT NULL').pluck().all() as string[]
    let n = 0
    for (const text of roots) n += this.settle(CID.parse(text)).blocks
    return n
  }

  /**
   * Deletes the blocks of `root`'s DAG that no live record and no pulled copy
   * here reaches (with `keepOwnCopy: false`, a pulled copy of `root` itself
   * does not count). Compaction is recorded as owed first, so the erased
   * bytes leave the disk even if this process dies before it compacts
   * (issue 20 point 4).
   */
  sweep(root: CID, {keepOwnCopy = true} = {}): {blocks: number; bytes: number} {
    const own = root.toString()
    const pulled = (this.db.prepare('SELECT root FROM pulled').pluck().all() as string[]).filter((r) => keepOwnCopy || r !== own)
    // The mark runs inside deleteBlocks' write transaction: a record stored after it is seen
    // (its blocks stay), and blocks a live writer pinned stay too (issue 20, point 3). The
    // compaction intent is written in the same transaction as the delete.
    const r = this.store.blocks.deleteBlocks(() => {
      const dead = unneededBlocks(this.store, root, pulled)
      if (dead.length > 0) markCompactionDue(this.db)
      return dead
    })
    if (r.deleted === 0) return NOTHING
    return {blocks: r.deleted, bytes: r.bytes}
  }

  /** Tombstones after local sequence number `after`, oldest first. */
  page(after: number, limit = MAX_ERASURES_PAGE): ErasureRow[] {
    const rows = this.db.prepare('SELECT seq, bytes, record FROM erasures WHERE seq > ? ORDER BY seq LIMIT ?').all(after, Math.min(limit, MAX_ERASURES_PAGE)) as Array<{seq: number; bytes: Buffer; record: Buffer}>
    return rows.map((r) => ({seq: r.seq, erase: r.bytes, record: r.record}))
  }

  /** How far `peer`'s tombstone list has been read. */
  cursor(peer: string): number {
    return (this.db.prepare('SELECT after FROM erasure_sync WHERE peer = ?').pluck().get(peer) as number | undefined) ?? 0
  }

  setCursor(peer: string, after: number): void {
    this.db.prepare('INSERT INTO erasure_sync (peer, after) VALUES (?, ?) ON CONFLICT (peer) DO UPDATE SET after = excluded.after').run(peer, after)
  }

  /**
   * The object records `cidText` names that this store knows: the record
   * itself for a record CID, else every object record with that root.
   * NotFoundError when there are none (saying so when it was erased).
   */
  recordsFor(cidText: string, extra: Array<SignedRecord<ObjectRecord>> = []): Array<SignedRecord<ObjectRecord>> {
    const cid = parseCid(cidText)
    const key = cid.toString()
    const byRecord = cid.code === DAG_CBOR_CODE
    const rows = byRecord ? this.store.records.objectBytes(key) : this.store.records.objectBytesByRoot(key)
    const found = new Map<string, SignedRecord<ObjectRecord>>()
    for (const bytes of rows) {
      const signed = decodeObjectRecord(bytes)
      found.set(signed.cid.toString(), signed)
    }
    for (const signed of extra) {
      const matches = byRecord ? signed.cid.equals(cid) : signed.record.root.equals(cid)
      if (matches && !this.isErased(signed.cid)) found.set(signed.cid.toString(), signed)
    }
    if (found.size === 0) {
      const erased = this.db.prepare(`SELECT 1 FROM erasures WHERE ${byRecord ? 'target' : 'root'} = ?`).get(key) !== undefined
      if (erased) {
        // By root: only the records known here (or on the peers asked) were erased; one an owner
        // pushes again, or another owner's record of the same bytes, is a new object (issue 20).
        const what = byRecord ? `${key} was already erased by its owner` : `every object record with root ${key} known here${extra.length === 0 ? '' : ' or on the peers asked'} was already erased by its owner`
        throw new NotFoundError(what, {code: 'ERASED'})
      }
      throw new NotFoundError(`no object record ${byRecord ? '' : 'with root '}${key} here${extra.length === 0 ? '' : ' or on the peers asked'}; check the CID`)
    }
    return [...found.values()]
  }
}

/**
 * Signs erase records for the records of `records` that `identity` owns.
 * None owned: NotAllowedError (exit 6), nothing signed.
 */
export function signErasures(records: Array<SignedRecord<ObjectRecord>>, identity: Identity, now = Date.now()): VerifiedErase[] {
  const own = records.filter((r) => r.record.owner === identity.did)
  if (own.length === 0) {
    const owners = [...new Set(records.map((r) => r.record.owner))]
    throw new NotAllowedError(`only the owner can erase ${records[0].record.root}: it belongs to ${owners.join(', ')}, and key "${identity.name}" is ${identity.did}`, {code: 'NOT_OWNER'})
  }
  return own.map((object) => {
    const erase = signEraseRecord(object, identity, now)
    return verifyErase(erase.bytes, object.bytes)
  })
}

/**
 * The object records with root `root` in a peer's GET /v1/records answer:
 * each decoded and verified, at most `limit` looked at; records that do not
 * verify or name another root are dropped.
 */
export function recordsFromAnswer(answer: unknown, root: CID, limit = 64): Array<SignedRecord<ObjectRecord>> {
  const list = (answer as {records?: unknown})?.records
  const out: Array<SignedRecord<ObjectRecord>> = []
  for (const b64 of Array.isArray(list) ? list.slice(0, limit) : []) {
    try {
      const signed = decodeObjectRecord(Buffer.from(String(b64), 'base64'))
      if (signed.record.root.equals(root)) out.push(signed)
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err
    }
  }
  return out
}

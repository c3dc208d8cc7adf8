import {CID} from 'multiformats/cid'
import {parseCid} from '../content/cid.js'
import {DAG_CBOR_CODE} from '../content/constants.js'
import {IntegrityError, NotAllowedError, NotFoundError} from '../errors.js'
import type {Identity} from '../identity/index.js'
import {decodeObjectRecord, type ObjectRecord, type SignedRecord} from '../records/object-record.js'
import {signEraseRecord, verifyErase, type VerifiedErase} from '../records/erase-record.js'
import type {Store} from '../store/store.js'
import {unneededBlocks} from './sweep.js'

/** What applying one erase did on this node. */
export interface Applied {
  /** The erase is new here (false: a replay of one already applied). */
  applied: boolean
  /** Object records deleted (0 or 1). */
  records: number
  /** Blocks deleted (index rows; their pack bytes become dead space). */
  blocks: number
  bytes: number
}

/** A tombstone as served to peers (GET /v1/erasures). */
export interface ErasureRow {
  seq: number
  erase: Uint8Array
  record: Uint8Array
}

/** Most tombstones served in one page. */
export const MAX_ERASURES_PAGE = 256

/**
 * Tombstones (docs/storage.md "erasures") and the effect of an erase on this
 * store: the record goes, and with it every block no remaining object needs.
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

  /** True when `root` was erased here and no live object record for it remains. */
  rootIsErased(root: CID | string): boolean {
    const r = String(root)
    return this.db.prepare('SELECT 1 FROM erasures WHERE root = ?').get(r) !== undefined
      && this.db.prepare("SELECT 1 FROM records WHERE kind = 'object' AND root = ?").get(r) === undefined
  }

  /**
   * Applies a verified erase: in one IMMEDIATE transaction the tombstone goes
   * in and the object record goes out; then the blocks of its DAG that no
   * remaining record needs are deleted (BlockStore.deleteBlocks). A replay
   * changes nothing but still sweeps, so a sweep cut short by a crash is
   * finished by the next copy of the erase (or by sweepPending at start).
   */
  apply(v: VerifiedErase, now = Date.now()): Applied {
    const target = v.object.cid.toString()
    const root = v.object.record.root.toString()
    let applied = false
    let records = 0
    this.db.transaction(() => {
      const ins = this.db.prepare(`INSERT OR IGNORE INTO erasures (cid, target, root, owner, time, bytes, record, received)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(v.erase.cid.toString(), target, root, v.erase.record.owner, v.erase.record.time, v.erase.bytes, v.object.bytes, now)
      applied = ins.changes === 1
      records = this.db.prepare('DELETE FROM records WHERE cid = ?').run(target).changes
      if (this.db.prepare("SELECT 1 FROM records WHERE kind = 'object' AND root = ?").get(root) === undefined) {
        this.db.prepare('DELETE FROM object_replicas WHERE root = ?').run(root)
      }
    }).immediate()
    const swept = this.sweep(v.object.record.root)
    return {applied, records, ...swept}
  }

  /** Deletes the blocks of `root`'s DAG that no live record needs (none while a live record has this root). */
  sweep(root: CID): {blocks: number; bytes: number} {
    // The mark runs inside deleteBlocks' write transaction: a record stored after it is seen
    // (its blocks stay), and blocks a live writer pinned stay too (issue 20, point 3).
    const r = this.store.blocks.deleteBlocks(() => unneededBlocks(this.store, root))
    return {blocks: r.deleted, bytes: r.bytes}
  }

  /** Finishes sweeps a crash cut short: erased roots with no live record whose root block is still here. */
  sweepPending(): number {
    const roots = this.db.prepare(`SELECT DISTINCT e.root FROM erasures e
      WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.kind = 'object' AND r.root = e.root)`).pluck().all() as string[]
    let n = 0
    for (const text of roots) {
      const root = CID.parse(text)
      if (this.store.blocks.has(root)) n += this.sweep(root).blocks
    }
    return n
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
    const rows = (byRecord
      ? this.db.prepare("SELECT bytes FROM records WHERE kind = 'object' AND cid = ?").pluck().all(key)
      : this.db.prepare("SELECT bytes FROM records WHERE kind = 'object' AND root = ? ORDER BY time").pluck().all(key)) as Buffer[]
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
      if (erased) throw new NotFoundError(`${key} was already erased by its owner`, {code: 'ERASED'})
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

import {CID} from 'multiformats/cid'
import {blockMatches, verifyBlock} from '../content/cid.js'
import {CODEC_NAMES, CODEC_RAW, CodecError, decodeBlock, MAX_DELTA_DEPTH, type Encoding} from '../codec/index.js'
import {IntegrityError, NotFoundError} from '../errors.js'
import type {Database} from './db.js'

/**
 * What BlockCodecs needs of the BlockStore it belongs to (the store passes
 * itself): the database, reads at an index location, and a writer for
 * rewriting dependents. An interface, so that block-store.ts and this file do
 * not import each other.
 */
export interface CodecHost {
  readonly db: Database
  readAt(cid: CID, loc: {pack: number; offset: number; length: number}, options?: {verify?: boolean}): Uint8Array
  writer(): {put(cid: CID, bytes: Uint8Array, options?: {heal?: boolean}): Promise<void>; close(): Promise<void>; abort(): Promise<void>}
}

/** Decoded blocks kept for decoding others (bases of deltas, chains): about this many bytes. */
export const BASE_CACHE_BYTES = 48 * 1024 * 1024

interface Location {
  pack: number
  offset: number
  length: number
  codec: number
  depth: number
}

/**
 * The codec side of a BlockStore (issue 6; draft 003 "Block protocol",
 * "Archiving and pruning"): decodes encoded blocks transparently with a small
 * cache of decoded bases, answers which blocks depend on which, and rewrites
 * dependents whole before their base may go.
 */
export class BlockCodecs {
  /** Decoded bytes by CID; `verified` once they were hashed against it (bases inside a chain need not be: the block on top is). */
  private readonly cache = new Map<string, {bytes: Uint8Array; verified: boolean}>()
  private cacheBytes = 0
  private readonly stmts

  constructor(private readonly store: CodecHost) {
    const db = store.db
    this.stmts = {
      locate: db.prepare('SELECT pack, offset, length, codec, depth FROM blocks WHERE cid = ?'),
      bases: db.prepare('SELECT base FROM block_bases WHERE cid = ?').pluck(),
      dependents: db.prepare('SELECT cid FROM block_bases WHERE base = ?').pluck(),
      setCodec: db.prepare('UPDATE blocks SET codec = ?, depth = ? WHERE cid = ?'),
      addBase: db.prepare('INSERT OR IGNORE INTO block_bases (cid, base) VALUES (?, ?)'),
      dropBases: db.prepare('DELETE FROM block_bases WHERE cid = ?'),
      counts: db.prepare('SELECT codec, count(*) AS n, coalesce(sum(length), 0) AS bytes FROM blocks GROUP BY codec'),
    }
  }

  private locate(cid: CID): Location | undefined {
    return this.stmts.locate.get(cid.bytes) as Location | undefined
  }

  /** Called inside the writer's commit transaction for an entry that is encoded or replaces a copy. */
  indexEncoding(cid: Uint8Array, heal: boolean, inserted: boolean, enc: Encoding | undefined): void {
    if (heal) {
      this.stmts.dropBases.run(cid)
      this.forget(cid)
    }
    if (!enc || !inserted) return
    this.stmts.setCodec.run(enc.codec, enc.depth, cid)
    for (const b of enc.bases) this.stmts.addBase.run(cid, b.bytes)
  }

  /** The stored form of a block: codec, bytes as stored (encoded unless raw), bases. NotFoundError when absent. */
  stored(cid: CID): {codec: number; bytes: Uint8Array; bases: CID[]; depth: number} {
    const loc = this.locate(cid)
    if (!loc) throw new NotFoundError(`block ${cid} is not in this store`)
    const bytes = this.store.readAt(cid, loc, {verify: false})
    return {codec: loc.codec, bytes, bases: loc.codec === CODEC_RAW ? [] : this.basesOf(cid), depth: loc.depth}
  }

  /** Codec of a stored block, or undefined when absent. */
  codecOf(cid: CID): number | undefined {
    return this.locate(cid)?.codec
  }

  /** Delta depth of a stored block (0 for raw and gzip), or undefined when absent. */
  depthOf(cid: CID): number | undefined {
    return this.locate(cid)?.depth
  }

  /** The chain depth of a block delta-encoded against `bases` (1 + the deepest; a base not here counts as too deep). */
  depthFor(bases: CID[]): number {
    return 1 + Math.max(...bases.map((b) => this.depthOf(b) ?? MAX_DELTA_DEPTH))
  }

  basesOf(cid: CID): CID[] {
    return (this.stmts.bases.all(cid.bytes) as Uint8Array[]).map((b) => CID.decode(b))
  }

  /** Blocks stored as deltas against `cid`: they need it to be read. */
  dependentsOf(cid: CID): CID[] {
    return (this.stmts.dependents.all(cid.bytes) as Uint8Array[]).map((b) => CID.decode(b))
  }

  /** Blocks and stored bytes by codec name (status, benchmarks). */
  counts(): Record<string, {blocks: number; bytes: number}> {
    const out: Record<string, {blocks: number; bytes: number}> = {}
    for (const r of this.stmts.counts.all() as Array<{codec: number; n: number; bytes: number}>) out[CODEC_NAMES[r.codec] ?? String(r.codec)] = {blocks: r.n, bytes: r.bytes}
    return out
  }

  /** Decodes a stored block (any codec) and verifies it against its CID. */
  decode(cid: CID): Uint8Array {
    return this.decoded(cid, MAX_DELTA_DEPTH, true)
  }

  /**
   * Decoded bytes of a stored block. Only the block asked for is hashed
   * (`verify`); the bases under it are not, since a wrong byte in any of them
   * makes the block on top fail its hash. A chain of depth d then costs one
   * hash instead of d + 1.
   */
  private decoded(cid: CID, depthLeft: number, verify: boolean): Uint8Array {
    const key = cid.toString()
    const hit = this.cache.get(key)
    if (hit) {
      // LRU: move to the newest end.
      this.cache.delete(key)
      this.cache.set(key, hit)
      if (verify && !hit.verified) {
        if (!blockMatches(cid, hit.bytes)) {
          this.cache.delete(key)
          this.cacheBytes -= hit.bytes.length
          throw new IntegrityError(`stored block ${cid} does not hash to its CID (corrupt or forged data)`)
        }
        hit.verified = true
      }
      return hit.bytes
    }
    const loc = this.locate(cid)
    if (!loc) throw new NotFoundError(`block ${cid} is not in this store`)
    let bytes: Uint8Array
    if (loc.codec === CODEC_RAW) {
      bytes = this.store.readAt(cid, loc, {verify: false})
      if (verify) verifyBlock(cid, bytes, 'stored block')
    } else {
      const encoded = this.store.readAt(cid, loc, {verify: false})
      bytes = decodeBlock(cid, encoded, (base, left) => {
        try {
          return this.decoded(base, left, false)
        } catch (err) {
          // A block whose base is gone or damaged is itself unreadable here: an integrity
          // failure (a read through a node then fetches a good copy and replaces it).
          if (err instanceof NotFoundError) throw new CodecError('MISSING_BASE', `block ${cid} is stored as a delta of ${base}, which is missing`)
          throw err
        }
      }, depthLeft, undefined, {verify})
    }
    this.remember(key, bytes, verify)
    return bytes
  }

  private remember(key: string, bytes: Uint8Array, verified: boolean): void {
    if (bytes.length > BASE_CACHE_BYTES / 4) return
    this.cache.set(key, {bytes, verified})
    this.cacheBytes += bytes.length
    while (this.cacheBytes > BASE_CACHE_BYTES) {
      const [k, v] = this.cache.entries().next().value as [string, {bytes: Uint8Array}]
      this.cache.delete(k)
      this.cacheBytes -= v.bytes.length
    }
  }

  private forget(cid: Uint8Array): void {
    const key = CID.decode(cid).toString()
    const v = this.cache.get(key)
    if (v) {
      this.cache.delete(key)
      this.cacheBytes -= v.bytes.length
    }
  }

  /** Drops the cache (after a delete, or to bound memory). */
  clearCache(): void {
    this.cache.clear()
    this.cacheBytes = 0
  }

  /**
   * Before deleting `cids`: every block outside the set that is a delta of one
   * of them is rewritten whole (raw, replacing its index row), so that deleting
   * a base never makes a dependent unreadable (draft 003, "Archiving and
   * pruning": a pruned block keeps no data of its bases). Returns the CIDs
   * rewritten. Call it, then delete; `assertDeletable` checks the rule.
   */
  async rewriteDependents(cids: CID[]): Promise<CID[]> {
    const going = new Set(cids.map(String))
    const todo = new Map<string, CID>()
    for (const c of cids) for (const d of this.dependentsOf(c)) if (!going.has(d.toString())) todo.set(d.toString(), d)
    if (todo.size === 0) return []
    const writer = this.store.writer()
    try {
      for (const d of todo.values()) await writer.put(d, this.decode(d), {heal: true})
      await writer.close()
    } catch (err) {
      await writer.abort()
      throw err
    }
    return [...todo.values()]
  }

  /**
   * Of `cids` (about to be deleted), those a block that stays is built on,
   * directly or through a kept block of the set: deleting them would make a
   * kept block unreadable. Runs inside BlockStore.deleteBlocks' transaction.
   */
  neededAsBases(cids: CID[]): Set<string> {
    const going = new Set(cids.map(String))
    const kept = new Set<string>()
    const deps = new Map(cids.map((c) => [c.toString(), this.dependentsOf(c).map(String)]))
    for (let changed = true; changed;) {
      changed = false
      for (const [c, ds] of deps) {
        if (kept.has(c)) continue
        if (ds.some((d) => !going.has(d) || kept.has(d))) {
          kept.add(c)
          changed = true
        }
      }
    }
    return kept
  }

  /** Forgets a deleted block: its base rows (its bases may go now) and its cached bytes. */
  deleted(cid: CID): void {
    this.stmts.dropBases.run(cid.bytes)
    this.forget(cid.bytes)
  }

  /** Throws unless deleting `cids` leaves every other block readable (no dependent outside the set). */
  assertDeletable(cids: CID[]): void {
    const going = new Set(cids.map(String))
    for (const c of cids) {
      for (const d of this.dependentsOf(c)) {
        if (!going.has(d.toString())) throw new IntegrityError(`block ${c} is a base of ${d}, which is kept: rewrite the dependents first (BlockStore.codecs.rewriteDependents)`, {code: 'BASE_IN_USE'})
      }
    }
  }
}

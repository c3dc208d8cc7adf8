import {mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {CID} from 'multiformats/cid'
import {verifyBlock} from '../content/cid.js'
import {IntegrityError, NotFoundError} from '../errors.js'
import {HOST, pidAlive} from '../util/process.js'
import type {Database} from './db.js'
import {BlockCodecs} from './block-codecs.js'
import {fileSize, packFileName, unknownPacks, unknownPacksError, type UnknownPack} from './pack-files.js'
import {PackReader, type PackLocation} from './pack-reader.js'
import {MAX_PACK_SIZE, PackWriter, type Entry, type LeasedPack, type PinHolder, type WriterOptions} from './pack-writer.js'

export {MAX_PACK_SIZE, CHECKPOINT_BYTES, NETWORK_WRITER, PackWriter, type LeasedPack, type WriterOptions} from './pack-writer.js'

/** Lease of a writer on another host (shared home); same-host leases are checked by pid instead. */
export const LEASE_MS = 10 * 60 * 1000

interface PackRow {
  id: number
  size: number
  holder: string | null
  lease_until: number
}

export interface GetOptions {
  /** Re-hash the block (default true). Callers that verify themselves (the DAG reader) pass false. */
  verify?: boolean
}

/**
 * Blocks live in append-only pack files (POLAR_HOME/blocks/pack-N) indexed by
 * SQLite. A writer leases one pack, appends, fsyncs, and only then indexes the
 * blocks and advances the pack's committed size in one transaction. Bytes past
 * the committed size are crash garbage, cut off by the next writer. So an
 * indexed block is always whole on disk, and a crash at any point loses at
 * most the blocks of the last unfinished checkpoint. docs/storage.md has the
 * argument in full and the measurement behind choosing packs.
 */
export class BlockStore {
  readonly dir: string
  /** Read descriptors of the packs, for synchronous and thread-pool reads (pack-reader.ts). */
  readonly packs: PackReader
  private readonly stmts
  /** Encoded blocks (gzip, delta): decoding, base cache, dependents (block-codecs.ts). */
  readonly codecs: BlockCodecs
  /** A hard cap on the bytes of packs (serve --max-storage; cap.ts): writers are refused past it. */
  cap: import('./cap.js').StorageCap | undefined

  constructor(readonly db: Database, readonly home: string) {
    this.dir = join(home, 'blocks')
    mkdirSync(this.dir, {recursive: true, mode: 0o700})
    this.stmts = {
      has: db.prepare('SELECT 1 FROM blocks WHERE cid = ?').pluck(),
      // INSERT … SELECT … WHERE EXISTS: the check and the pin in one statement (claim).
      claim: db.prepare('INSERT OR IGNORE INTO block_pins (holder, writer, cid, lease_until) SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM blocks WHERE cid = ?)'),
      pinned: db.prepare('SELECT 1 FROM block_pins WHERE holder = ? AND writer = ? AND cid = ?').pluck(),
      pinHolders: db.prepare('SELECT DISTINCT holder FROM block_pins WHERE cid = ?').pluck(),
      locate: db.prepare('SELECT pack, offset, length, codec FROM blocks WHERE cid = ?'),
    }
    this.codecs = new BlockCodecs(this)
    this.packs = new PackReader((id) => this.packPath(id))
  }

  packPath(id: number): string {
    return join(this.dir, packFileName(id))
  }

  has(cid: CID): boolean {
    return this.stmts.has.get(cid.bytes) !== undefined
  }

  /** True when no block at all is indexed here (a fresh node). */
  isEmpty(): boolean {
    return this.db.prepare('SELECT 1 FROM blocks LIMIT 1').pluck().get() === undefined
  }

  /** The block's bytes, hash-checked unless told otherwise; NotFoundError or IntegrityError. */
  get(cid: CID, options: GetOptions = {}): Uint8Array {
    const loc = this.stmts.locate.get(cid.bytes) as {pack: number; offset: number; length: number; codec: number} | undefined
    if (!loc) throw new NotFoundError(`block ${cid} is not in this store`)
    // Encoded blocks are decoded here, transparently, and always verified after decoding.
    if (loc.codec !== 0) return this.codecs.decode(cid)
    return this.readAt(cid, loc, options)
  }

  /** The stored bytes at an index location (encoded form for encoded blocks), hash-checked for raw ones unless told otherwise. */
  readAt(cid: CID, loc: {pack: number; offset: number; length: number}, options: GetOptions = {}): Uint8Array {
    const buf = Buffer.allocUnsafe(loc.length)
    this.readInto(loc, buf, 0, `block ${cid}: `)
    return options.verify === false ? buf : verifyBlock(cid, buf, 'stored block')
  }

  /**
   * Where a block lies (pack, offset, stored length, codec: 0 = raw bytes),
   * or undefined when it is not here. For batched reads (readInto).
   */
  locate(cid: CID): {pack: number; offset: number; length: number; codec: number} | undefined {
    return this.stmts.locate.get(cid.bytes) as {pack: number; offset: number; length: number; codec: number} | undefined
  }

  /**
   * Reads a located raw block's bytes into `target` at `at`, unverified: the
   * caller hash-checks them (blockMatches) before trusting or sending them.
   */
  readInto(loc: PackLocation, target: Uint8Array, at: number, what = ''): void {
    this.packs.readSync(loc, target, at, what)
  }

  /** readInto through the thread pool: the serving node's event loop stays free during the disk read (pack-reader.ts). */
  readIntoAsync(loc: PackLocation, target: Uint8Array, at: number, what = ''): Promise<void> {
    return this.packs.read(loc, target, at, what)
  }

  /**
   * get() for the serving node: a raw block is read through the thread pool;
   * an encoded one is decoded as get() does (on this thread: decoding needs
   * its bases and is CPU work anyway).
   */
  async getAsync(cid: CID): Promise<Uint8Array> {
    const loc = this.locate(cid)
    if (!loc) throw new NotFoundError(`block ${cid} is not in this store`)
    if (loc.codec !== 0) return this.codecs.decode(cid)
    const buf = Buffer.allocUnsafe(loc.length)
    await this.packs.read(loc, buf, 0, `block ${cid}: `)
    return verifyBlock(cid, buf, 'stored block')
  }

  /** A writer that appends blocks; `close()` makes them durable and visible. */
  writer(options: WriterOptions = {}): PackWriter {
    return new PackWriter(this, options)
  }

  /**
   * Leases a pack for appending: a free one below `maxBytes` (or one whose
   * writer died) whose file is as the index says, else a new one. Refuses
   * (UNKNOWN_PACKS) while pack files the index does not know lie in blocks/:
   * a lost polar.db must not make the next push overwrite them (issue 20,
   * point 2). A pack whose file is missing or shorter than its committed size
   * is damaged and never written to (a writer must not fill lost blocks with
   * zeros; reads report it, `polar repair` fixes the index); one longer than
   * its committed size is only truncated when a writer's lease covers the
   * tail (a dead writer's uncommitted bytes), never when it has no holder.
   */
  leasePack(maxBytes = MAX_PACK_SIZE): LeasedPack {
    const me = `${HOST}:${process.pid}`
    const until = Date.now() + LEASE_MS
    return this.db.transaction((): LeasedPack => {
      const unknown = unknownPacks(this.db, this.dir)
      if (unknown.length > 0) throw unknownPacksError(this.home, unknown)
      const rows = this.db.prepare('SELECT id, size, holder, lease_until FROM packs WHERE size < ? ORDER BY id').all(maxBytes) as PackRow[]
      for (const row of rows) {
        if (row.holder !== null && !leaseIsStale(row)) continue
        const onDisk = fileSize(this.packPath(row.id))
        if (onDisk === undefined ? row.size > 0 : onDisk < row.size || (onDisk > row.size && row.holder === null)) continue
        this.db.prepare('UPDATE packs SET holder = ?, lease_until = ? WHERE id = ?').run(me, until, row.id)
        // A row with nothing committed and no file (its creator died before creating it) is new again.
        return {id: row.id, size: row.size, holder: me, fresh: onDisk === undefined}
      }
      const id = Number(this.db.prepare('INSERT INTO packs (size, holder, lease_until) VALUES (0, ?, ?)').run(me, until).lastInsertRowid)
      // The id of a pack compaction deleted may come back: its file (if the unlink did not happen) is dead.
      this.db.prepare('DELETE FROM retired_packs WHERE id = ?').run(id)
      return {id, size: 0, holder: me, fresh: true}
    }).immediate()
  }

  /**
   * Indexes blocks known durable in `pack` up to `size`, and pins them for
   * `pins` (the writer) in the same transaction; fails if the lease was lost.
   */
  commit(pack: number, holder: string, fromSize: number, toSize: number, entries: Entry[], pins?: PinHolder): void {
    const insert = this.db.prepare('INSERT OR IGNORE INTO blocks (cid, pack, offset, length) VALUES (?, ?, ?, ?)')
    const replace = this.db.prepare('INSERT OR REPLACE INTO blocks (cid, pack, offset, length) VALUES (?, ?, ?, ?)')
    const pin = this.db.prepare('INSERT OR IGNORE INTO block_pins (holder, writer, cid, lease_until) VALUES (?, ?, ?, ?)')
    const until = Date.now() + LEASE_MS
    this.db.transaction(() => {
      const r = this.db.prepare('UPDATE packs SET size = ?, lease_until = ? WHERE id = ? AND holder = ? AND size = ?')
        .run(toSize, until, pack, holder, fromSize)
      if (r.changes !== 1) throw new IntegrityError(`lost the write lease on pack ${pack}; nothing from this write was indexed`)
      for (const [cid, offset, length, heal, enc] of entries) {
        const r = (heal ? replace : insert).run(cid, pack, offset, length)
        if (heal || enc) this.codecs.indexEncoding(cid, heal, r.changes === 1, enc)
        if (pins) pin.run(pins.holder, pins.writer, cid, until)
      }
      // Pins of a writer on another host expire like its lease; keep them fresh while it writes.
      if (pins) this.db.prepare('UPDATE block_pins SET lease_until = ? WHERE holder = ? AND writer = ? AND lease_until < ?').run(until, pins.holder, pins.writer, until - LEASE_MS / 2)
    }).immediate()
  }

  /**
   * Pins an indexed block for a writer that found it here and will not write
   * it again (deduplication): one statement, so either the erase sweep ran
   * before it (the block is gone and this returns false: write it) or it sees
   * the pin and keeps the block. Not synced on its own (a pin only matters
   * while its process lives; the next synced commit carries it to disk), so a
   * push of already-stored content pays microseconds, not an fsync, per block.
   */
  claim(cid: CID, pins: PinHolder): boolean {
    const run = () => this.stmts.claim.run(pins.holder, pins.writer, cid.bytes, Date.now() + LEASE_MS, cid.bytes).changes > 0 || this.pinnedBy(cid, pins)
    return this.db.inTransaction ? run() : unsynced(this.db, run)
  }

  private pinnedBy(cid: CID, pins: PinHolder): boolean {
    return this.stmts.pinned.get(pins.holder, pins.writer, cid.bytes) !== undefined && this.has(cid)
  }

  /** Drops a writer's pins (when its blocks are indexed and its record stored, or it gave up). */
  unpin(pins: PinHolder): void {
    unsynced(this.db, () => this.db.prepare('DELETE FROM block_pins WHERE holder = ? AND writer = ?').run(pins.holder, pins.writer))
  }

  release(pack: number, holder: string): void {
    this.db.prepare('UPDATE packs SET holder = NULL WHERE id = ? AND holder = ?').run(pack, holder)
  }

  /**
   * The one way blocks leave the store (erase's sweep, docs/storage.md
   * "Deleting blocks"). In one IMMEDIATE transaction: `cids` is evaluated
   * (pass the mark as a function, so it sees every record committed before
   * the deletion: a record stored after a mark taken outside the lock would
   * lose its blocks), then their index rows are dropped, except blocks still
   * needed as the base of another stored block (neededAsBases, in `kept`) and
   * blocks a live writer has pinned (`pinned`: it is storing an object that
   * uses them). The bytes stay in their pack as dead space: an unindexed byte
   * range is never read again.
   */
  deleteBlocks(cids: CID[] | (() => CID[])): {deleted: number; bytes: number; kept: CID[]; pinned: CID[]} {
    const del = this.db.prepare('DELETE FROM blocks WHERE cid = ? RETURNING length')
    return this.db.transaction(() => {
      const list = typeof cids === 'function' ? cids() : cids
      const kept: CID[] = []
      const pinned: CID[] = []
      let deleted = 0
      let bytes = 0
      if (list.length === 0) return {deleted, bytes, kept, pinned}
      // Pinned blocks stay, so the bases they are deltas of stay too: they are left out of the set first.
      const pins = this.livePins()
      const going = pins.size === 0 ? list : list.filter((cid) => !(this.isPinned(cid, pins) && pinned.push(cid)))
      const bases = this.neededAsBases(going)
      for (const cid of going) {
        if (bases.has(cid.toString())) {
          kept.push(cid)
          continue
        }
        const row = del.get(cid.bytes) as {length: number} | undefined
        if (row) {
          deleted++
          bytes += row.length
          this.codecs.deleted(cid) // a deleted delta no longer holds its bases
        }
      }
      return {deleted, bytes, kept, pinned}
    }).immediate()
  }

  /** Holders with pins whose process is alive (or, on another host, whose lease runs); a dead holder's pins are dropped. Inside a write transaction. */
  private livePins(): Set<string> {
    const live = new Set<string>()
    const rows = this.db.prepare('SELECT holder, max(lease_until) AS lease_until FROM block_pins GROUP BY holder').all() as Array<{holder: string; lease_until: number}>
    for (const row of rows) {
      if (leaseIsStale({id: 0, size: 0, ...row})) this.db.prepare('DELETE FROM block_pins WHERE holder = ?').run(row.holder)
      else live.add(row.holder)
    }
    return live
  }

  private isPinned(cid: CID, live: Set<string>): boolean {
    for (const holder of this.stmts.pinHolders.all(cid.bytes) as string[]) if (live.has(holder)) return true
    return false
  }

  /**
   * Of `cids`, those some other stored block is built on (a delta-encoded
   * block names base blocks: Planet draft, "copy/insert against base
   * blocks"), which deleteBlocks must keep. It runs inside deleteBlocks'
   * transaction. Block codecs (issue 6): a base is kept while a block that
   * stays is a delta of it (BlockStore.codecs; to free it, rewrite the
   * dependents whole first: codecs.rewriteDependents).
   */
  neededAsBases(cids: CID[]): Set<string> {
    return this.codecs.neededAsBases(cids)
  }

  /** Pack files in blocks/ the index does not know (polar.db lost, emptied or replaced); pack-files.ts. */
  unknownPacks(): UnknownPack[] {
    return unknownPacks(this.db, this.dir)
  }

  /** Closes the cached read descriptor of a pack that compaction removed. */
  forgetPack(id: number): void {
    this.packs.forget(id)
  }

  /** Counts and bytes, for status output and tests. */
  stats(): {blocks: number; bytes: number; packs: number; packBytes: number} {
    const b = this.db.prepare('SELECT count(*) AS n, coalesce(sum(length), 0) AS bytes FROM blocks').get() as {n: number; bytes: number}
    const p = this.db.prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM packs').get() as {n: number; bytes: number}
    return {blocks: b.n, bytes: b.bytes, packs: p.n, packBytes: p.bytes}
  }

  close(): void {
    this.packs.close()
  }
}

/**
 * Runs `fn` (one small write) without the fsync of synchronous=FULL: for pins,
 * which matter only while their process lives. In WAL mode a NORMAL commit
 * is still atomic, and the next FULL commit (any checkpoint of any writer)
 * syncs the log with it; SQLite's own checkpoints sync in NORMAL too.
 */
function unsynced<T>(db: Database, fn: () => T): T {
  db.pragma('synchronous = NORMAL')
  try {
    return fn()
  } finally {
    db.pragma('synchronous = FULL')
  }
}

export function leaseIsStale(row: PackRow): boolean {
  if (!row.holder) return true
  const sep = row.holder.lastIndexOf(':')
  const host = row.holder.slice(0, sep)
  const pid = Number(row.holder.slice(sep + 1))
  // Same host: the pid tells for sure (a live writer is never robbed, however slow).
  if (host === HOST) return !pidAlive(pid)
  return row.lease_until < Date.now()
}


import {closeSync, constants as fsc, fdatasync, ftruncateSync, mkdirSync, openSync, readSync} from 'node:fs'
import {join} from 'node:path'
import {CID} from 'multiformats/cid'
import {verifyBlock} from '../content/cid.js'
import {MAX_BLOCK_SIZE} from '../content/constants.js'
import {IntegrityError, NotFoundError} from '../errors.js'
import {fsyncDir} from '../util/fs.js'
import {DIRECT_ALIGN, StagedWriter} from '../util/staged-writer.js'
import {isPooled} from '../util/block-pool.js'
import {HOST, pidAlive} from '../util/process.js'
import type {Database} from './db.js'
import {BlockCodecs, type Encoding} from './block-codecs.js'

const PAGE_OF_ZEROS = new Uint8Array(DIRECT_ALIGN)

/** A pack grows to about this size, then writers start a new one. */
export const MAX_PACK_SIZE = 1024 * 1024 * 1024
/** A writer makes its blocks durable and indexed at least this often (bounds what a crash loses). */
export const CHECKPOINT_BYTES = 64 * 1024 * 1024
/** Lease of a writer on another host (shared home); same-host leases are checked by pid instead. */
export const LEASE_MS = 10 * 60 * 1000


/** An index entry waiting for its checkpoint: CID bytes, offset, length, whether it replaces a corrupt copy, and its encoding (codec issue) when not raw. */
type Entry = [Uint8Array, number, number, boolean, Encoding?]

interface PackRow {
  id: number
  size: number
  holder: string | null
  lease_until: number
}

export interface WriterOptions {
  /**
   * Index (and fsync) at least this often (default CHECKPOINT_BYTES). Writers
   * fed from peers also checkpoint by time (NETWORK_WRITER), so a node killed
   * mid-fetch resumes from what it had.
   */
  checkpointBytes?: number
  /** Also checkpoint once this many milliseconds have passed since the last one (at the next put). */
  checkpointMs?: number
  /** Move to a new pack past this size (default MAX_PACK_SIZE; tests use small ones). */
  maxPackBytes?: number
}

/**
 * Writers fed from peers checkpoint by time: at most ~250 ms of fetched
 * blocks are lost to a kill (a killed pull resumes from the rest), while a
 * fast fetch does a handful of index commits (each
 * commit blocks the main thread on SQLite's fsync).
 */
export const NETWORK_WRITER: WriterOptions = {checkpointBytes: CHECKPOINT_BYTES, checkpointMs: 250}

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
  private readonly fds = new Map<number, number>()
  private readonly stmts
  /** Encoded blocks (gzip, delta): decoding, base cache, dependents (block-codecs.ts). */
  readonly codecs: BlockCodecs

  constructor(readonly db: Database, home: string) {
    this.dir = join(home, 'blocks')
    mkdirSync(this.dir, {recursive: true, mode: 0o700})
    this.stmts = {
      has: db.prepare('SELECT 1 FROM blocks WHERE cid = ?').pluck(),
      locate: db.prepare('SELECT pack, offset, length, codec FROM blocks WHERE cid = ?'),
    }
    this.codecs = new BlockCodecs(this)
  }

  packPath(id: number): string {
    return join(this.dir, `pack-${String(id).padStart(6, '0')}`)
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
  readInto(loc: {pack: number; offset: number; length: number}, target: Uint8Array, at: number, what = ''): void {
    let fd = this.fds.get(loc.pack)
    if (fd === undefined) {
      fd = openSync(this.packPath(loc.pack), 'r')
      this.fds.set(loc.pack, fd)
    }
    let got = 0
    while (got < loc.length) {
      const n = readSync(fd, target, at + got, loc.length - got, loc.offset + got)
      if (n === 0) throw new IntegrityError(`${what}pack ${loc.pack} is shorter than its index says (truncated file?)`)
      got += n
    }
  }

  /** A writer that appends blocks; `close()` makes them durable and visible. */
  writer(options: WriterOptions = {}): PackWriter {
    return new PackWriter(this, options)
  }

  /** Leases a pack for appending: a free one below `maxBytes`, one whose writer died, or a new one. */
  leasePack(maxBytes = MAX_PACK_SIZE): PackRow {
    const me = `${HOST}:${process.pid}`
    const until = Date.now() + LEASE_MS
    return this.db.transaction((): PackRow => {
      const rows = this.db.prepare('SELECT id, size, holder, lease_until FROM packs WHERE size < ? ORDER BY id').all(maxBytes) as PackRow[]
      for (const row of rows) {
        if (row.holder === null || leaseIsStale(row)) {
          this.db.prepare('UPDATE packs SET holder = ?, lease_until = ? WHERE id = ?').run(me, until, row.id)
          return {...row, holder: me, lease_until: until}
        }
      }
      const id = Number(this.db.prepare('INSERT INTO packs (size, holder, lease_until) VALUES (0, ?, ?)').run(me, until).lastInsertRowid)
      return {id, size: 0, holder: me, lease_until: until}
    }).immediate()
  }

  /** Indexes blocks known durable in `pack` up to `size`; fails if the lease was lost. */
  commit(pack: number, holder: string, fromSize: number, toSize: number, entries: Entry[]): void {
    const insert = this.db.prepare('INSERT OR IGNORE INTO blocks (cid, pack, offset, length) VALUES (?, ?, ?, ?)')
    const replace = this.db.prepare('INSERT OR REPLACE INTO blocks (cid, pack, offset, length) VALUES (?, ?, ?, ?)')
    this.db.transaction(() => {
      const r = this.db.prepare('UPDATE packs SET size = ?, lease_until = ? WHERE id = ? AND holder = ? AND size = ?')
        .run(toSize, Date.now() + LEASE_MS, pack, holder, fromSize)
      if (r.changes !== 1) throw new IntegrityError(`lost the write lease on pack ${pack}; nothing from this write was indexed`)
        for (const [cid, offset, length, heal, enc] of entries) {
        const r = (heal ? replace : insert).run(cid, pack, offset, length)
        if (heal || enc) this.codecs.indexEncoding(cid, heal, r.changes === 1, enc)
      }
    }).immediate()
  }

  release(pack: number, holder: string): void {
    this.db.prepare('UPDATE packs SET holder = NULL WHERE id = ? AND holder = ?').run(pack, holder)
  }

  /**
   * The one way blocks leave the store (erase's sweep, docs/storage.md
   * "Deleting blocks"). Drops the index rows of `cids` in one IMMEDIATE
   * transaction, except blocks still needed as the base of another stored
   * block (neededAsBases). The bytes stay in their pack as dead space: an
   * unindexed byte range is never read again.
   */
  deleteBlocks(cids: CID[]): {deleted: number; bytes: number; kept: CID[]} {
    const del = this.db.prepare('DELETE FROM blocks WHERE cid = ? RETURNING length')
    return this.db.transaction(() => {
      const bases = this.neededAsBases(cids)
      const kept: CID[] = []
      let deleted = 0
      let bytes = 0
      for (const cid of cids) {
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
      return {deleted, bytes, kept}
    }).immediate()
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

  /** Closes the cached read descriptor of a pack that compaction removed. */
  forgetPack(id: number): void {
    const fd = this.fds.get(id)
    if (fd !== undefined) {
      this.fds.delete(id)
      closeSync(fd)
    }
  }

  /** Counts and bytes, for status output and tests. */
  stats(): {blocks: number; bytes: number; packs: number; packBytes: number} {
    const b = this.db.prepare('SELECT count(*) AS n, coalesce(sum(length), 0) AS bytes FROM blocks').get() as {n: number; bytes: number}
    const p = this.db.prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM packs').get() as {n: number; bytes: number}
    return {blocks: b.n, bytes: b.bytes, packs: p.n, packBytes: p.bytes}
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd)
    this.fds.clear()
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

const datasync = (fd: number) => new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())))

/**
 * Appends blocks to a leased pack through a StagedWriter (staging memory,
 * O_DIRECT where possible; util/staged-writer.ts): each block is copied in
 * and written in the background while the caller fetches or hashes the next;
 * every CHECKPOINT_BYTES (or checkpointMs) a checkpoint flushes, fdatasyncs
 * and indexes what was written so far, overlapping with further writes.
 */
export class PackWriter {
  private pack: PackRow | undefined
  private fd = -1
  private out: StagedWriter | undefined
  private committed = 0
  private entries: Entry[] = []
  private sinceCheckpoint = 0
  private checkpointing: Promise<void> | undefined
  private readonly seen = new Set<string>()
  private failed: unknown
  private closed = false
  /** A move to a new pack in progress (puts wait for it). */
  private rolling: Promise<void> | undefined
  /** Blocks this writer stored (not counting ones already present). */
  written = 0
  bytesWritten = 0

  private readonly checkpointBytes: number
  private readonly checkpointMs: number
  private readonly maxPackBytes: number
  private lastCheckpoint = performance.now()

  constructor(private readonly store: BlockStore, options: WriterOptions = {}) {
    this.checkpointBytes = options.checkpointBytes ?? CHECKPOINT_BYTES
    this.checkpointMs = options.checkpointMs ?? Infinity
    this.maxPackBytes = Math.min(options.maxPackBytes ?? MAX_PACK_SIZE, MAX_PACK_SIZE)
  }

  private open(): void {
    const pack = this.store.leasePack(this.maxPackBytes)
    const path = this.store.packPath(pack.id)
    this.fd = openSync(path, fsc.O_RDWR | fsc.O_CREAT, 0o600)
    // Cut off whatever a crashed writer appended past the committed size.
    ftruncateSync(this.fd, pack.size)
    if (pack.size === 0) fsyncDir(this.store.dir)
    this.pack = pack
    this.committed = pack.size
    this.out = new StagedWriter(this.fd, path, pack.size)
  }

  /**
   * Appends a block unless the store already has it. Awaiting it is
   * back-pressure; once it resolves the writer keeps no reference to `bytes`.
   * `heal` replaces an indexed copy that failed verification (the caller has
   * verified these bytes).
   */
  async put(cid: CID, bytes: Uint8Array, options: {heal?: boolean; encoding?: Encoding} = {}): Promise<void> {
    if (this.closed) throw new Error('this pack writer is closed')
    if (this.failed) throw this.failed
    if (bytes.length > MAX_BLOCK_SIZE + (options.encoding ? 64 * 1024 : 0)) throw new IntegrityError(`block ${cid} is ${bytes.length} bytes, over the ${MAX_BLOCK_SIZE}-byte limit`)
    const key = cid.toString()
    if (this.seen.has(key) || (!options.heal && this.store.has(cid))) return
    this.seen.add(key)
    // Puts may overlap (batches arrive together): one of them moves to a new pack, the others wait for it.
    while (this.rolling) await this.rolling
    if (this.closed) throw new Error('this pack writer is closed')
    if (!this.pack) this.open()
    else if (this.out!.position + bytes.length > this.maxPackBytes && this.out!.position > 0) {
      this.rolling = (async () => {
        // Queued behind any checkpoint a put started: it must commit to the old pack before that one is let go.
        await this.checkpoint()
        await this.finishPack()
        this.open()
        this.sinceCheckpoint = 0
        this.lastCheckpoint = performance.now()
      })()
      try {
        await this.rolling
      } finally {
        this.rolling = undefined
      }
    }
    // A pooled block of whole pages is written in place (StagedWriter) when it starts on a page: pad to one.
    const pad = this.out!.direct && bytes.length % DIRECT_ALIGN === 0 && isPooled(bytes) ? (DIRECT_ALIGN - (this.out!.position % DIRECT_ALIGN)) % DIRECT_ALIGN : 0
    // Offset and index entry are taken now, with the appends queued in the same turn: a checkpoint
    // (or a move to a new pack) that starts while the copy waits flushes these bytes before it indexes them.
    const offset = this.out!.position + pad
    const padded = pad > 0 ? this.out!.append(PAGE_OF_ZEROS.subarray(0, pad)) : undefined
    const appended = this.out!.append(bytes)
    this.entries.push([cid.bytes, offset, bytes.length, Boolean(options.heal), options.encoding])
    this.written++
    this.bytesWritten += bytes.length
    this.sinceCheckpoint += bytes.length
    await Promise.all([padded, appended])
    if (this.sinceCheckpoint >= this.checkpointBytes || performance.now() - this.lastCheckpoint >= this.checkpointMs) {
      this.sinceCheckpoint = 0
      this.lastCheckpoint = performance.now()
      // One checkpoint at a time; it runs while the caller goes on writing.
      if (this.checkpointing) await this.checkpointing
      this.checkpointing = this.checkpoint()
      this.checkpointing.catch((err) => { this.failed ??= err })
    }
  }

  /**
   * Appends a block in encoded form (`bytes` as src/lib/codec encodes them;
   * the caller has checked they decode to `cid`). Same rules as `put`.
   */
  putEncoded(cid: CID, bytes: Uint8Array, encoding: Encoding, options: {heal?: boolean} = {}): Promise<void> {
    return this.put(cid, bytes, {...options, encoding})
  }

  /** True when this writer already took `cid` (stored, or pending its checkpoint). */
  took(cid: CID): boolean {
    return this.seen.has(cid.toString())
  }

  /**
   * Makes everything written so far durable (fdatasync) and indexed. Calls
   * run one after another (the periodic one from put, a move to a new pack,
   * close): each commits from where the previous one ended, to the pack it
   * started on.
   */
  checkpoint(): Promise<void> {
    const run = this.checkpointQueue.then(() => this.checkpointNow())
    this.checkpointQueue = run.catch(() => {})
    return run
  }

  private checkpointQueue: Promise<void> = Promise.resolve()

  private async checkpointNow(): Promise<void> {
    if (!this.pack) return
    const pack = this.pack
    const entries = this.entries
    const end = this.out!.position
    this.entries = []
    if (entries.length === 0 && end === this.committed) return
    // Blocks put while this runs land past `end`: their entries wait for the next checkpoint.
    await this.out!.flush()
    await datasync(this.fd)
    // Checkpoints run one at a time (checkpoint()), so `committed` only grows.
    this.store.commit(pack.id, pack.holder!, this.committed, end, entries)
    this.committed = end
  }

  private async finishPack(): Promise<void> {
    if (!this.pack) return
    await this.out!.close()
    this.out = undefined
    // A direct flush pads the last page: cut it back to what is committed.
    ftruncateSync(this.fd, this.committed)
    closeSync(this.fd)
    this.store.release(this.pack.id, this.pack.holder!)
    this.pack = undefined
    this.fd = -1
  }

  /** Flushes, indexes and releases the pack. After this every put block is durable. */
  async close(): Promise<void> {
    try {
      if (this.rolling) await this.rolling.catch(() => {})
      this.closed = true
      if (this.checkpointing) await this.checkpointing
      if (this.failed) throw this.failed
      await this.checkpoint()
    } finally {
      await this.abort()
    }
  }

  /** Releases the pack without indexing pending blocks (their bytes become garbage past the committed size). */
  async abort(): Promise<void> {
    this.closed = true
    if (this.checkpointing) await this.checkpointing.catch(() => {})
    // Never close the fd under a write still in the thread pool.
    await this.out?.close()
    this.out = undefined
    if (this.pack) {
      // Give back the space of what was never indexed (a full disk must not stay full
      // after a failed push: the next writer could not even take its lease).
      try { ftruncateSync(this.fd, this.committed) } catch {}
      try { closeSync(this.fd) } catch {}
      try { this.store.release(this.pack.id, this.pack.holder!) } catch {}
      this.pack = undefined
      this.fd = -1
    }
  }
}

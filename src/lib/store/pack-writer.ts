import {closeSync, constants as fsc, fchmodSync, fdatasync, ftruncateSync, openSync} from 'node:fs'
import type {CID} from 'multiformats/cid'
import {MAX_BLOCK_SIZE} from '../content/constants.js'
import {IntegrityError} from '../errors.js'
import {fsyncDir} from '../util/fs.js'
import {DIRECT_ALIGN, StagedWriter} from '../util/staged-writer.js'
import {isPooled} from '../util/block-pool.js'
import {HOLDER} from '../util/process.js'
import type {Encoding} from '../codec/index.js'
import {encodeFrame} from './pack-manifest.js'

const PAGE_OF_ZEROS = new Uint8Array(DIRECT_ALIGN)

/** A pack grows to about this size, then writers start a new one. */
export const MAX_PACK_SIZE = 1024 * 1024 * 1024
/** A writer makes its blocks durable and indexed at least this often (bounds what a crash loses). */
export const CHECKPOINT_BYTES = 64 * 1024 * 1024

/** An index entry waiting for its checkpoint: CID bytes, offset, length, whether it replaces a corrupt copy, and its encoding (codec issue) when not raw. */
export type Entry = [Uint8Array, number, number, boolean, Encoding?]

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

/** Who holds a writer's pins: this process and a number unique in it. */
export interface PinHolder {
  holder: string
  writer: number
}

/** A pack leased to a writer: `fresh` when its row was just created (no block in it yet). */
export interface LeasedPack {
  id: number
  size: number
  holder: string
  fresh: boolean
}

/**
 * What a PackWriter needs of its BlockStore (the store passes itself): leases,
 * pins, the index commit. An interface, so that block-store.ts and this file
 * do not import each other.
 */
export interface PackHost {
  readonly dir: string
  packPath(id: number): string
  has(cid: CID): boolean
  leasePack(maxBytes: number): LeasedPack
  commit(pack: number, holder: string, fromSize: number, toSize: number, entries: Entry[], pins?: PinHolder): void
  claim(cid: CID, pins: PinHolder): boolean
  unpin(pins: PinHolder): void
  release(pack: number, holder: string): void
}

let writers = 0

const datasync = (fd: number) => new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())))

/**
 * Appends blocks to a leased pack through a StagedWriter (staging memory,
 * O_DIRECT where possible; util/staged-writer.ts): each block is copied in
 * and written in the background while the caller fetches or hashes the next;
 * every CHECKPOINT_BYTES (or checkpointMs) a checkpoint flushes, fdatasyncs
 * and indexes what was written so far, overlapping with further writes.
 *
 * Every block the writer takes is pinned (block_pins) until it closes: one
 * found already indexed is pinned in the same statement that finds it, one it
 * writes in the transaction that indexes it. The erase sweep never deletes a
 * pinned block, so a caller that stores its record inside close({whilePinned})
 * never acknowledges an object whose blocks a concurrent erase took away
 * (issue 20, point 3; docs/storage.md "Pins").
 */
export class PackWriter {
  private pack: LeasedPack | undefined
  private fd = -1
  private out: StagedWriter | undefined
  private committed = 0
  private entries: Entry[] = []
  private sinceCheckpoint = 0
  private checkpointing: Promise<void> | undefined
  private readonly seen = new Set<string>()
  private failed: unknown
  private closed = false
  private pinned = false
  /** A move to a new pack in progress (puts wait for it). */
  private rolling: Promise<void> | undefined
  /** Blocks this writer stored (not counting ones already present). */
  written = 0
  bytesWritten = 0
  readonly pins: PinHolder = {holder: HOLDER, writer: ++writers}

  private readonly checkpointBytes: number
  private readonly checkpointMs: number
  private readonly maxPackBytes: number
  private lastCheckpoint = performance.now()

  constructor(private readonly store: PackHost, options: WriterOptions = {}) {
    this.checkpointBytes = options.checkpointBytes ?? CHECKPOINT_BYTES
    this.checkpointMs = options.checkpointMs ?? Infinity
    this.maxPackBytes = Math.min(options.maxPackBytes ?? MAX_PACK_SIZE, MAX_PACK_SIZE)
  }

  private open(): void {
    const pack = this.store.leasePack(this.maxPackBytes)
    const path = this.store.packPath(pack.id)
    try {
      if (pack.fresh) {
        // A new row: any file under its id is one compaction retired (leasePack checked), dead bytes.
        this.fd = openSync(path, fsc.O_RDWR | fsc.O_CREAT, 0o600)
        fchmodSync(this.fd, 0o600) // whatever the umask (issue 20, point 11)
        ftruncateSync(this.fd, 0)
        fsyncDir(this.store.dir)
      } else {
        // Never O_CREAT here: a missing pack is lost data, not an empty pack to fill with zeros (point 10).
        this.fd = openSync(path, fsc.O_RDWR)
        // Cut off what the dead writer whose lease this was appended past the committed size
        // (leasePack only hands out a longer file when a writer's lease covers the tail).
        ftruncateSync(this.fd, pack.size)
      }
    } catch (err) {
      if (this.fd >= 0) closeSync(this.fd)
      this.fd = -1
      this.store.release(pack.id, pack.holder)
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new IntegrityError(`pack file ${path} disappeared while it was being leased; run \`polar repair\``, {cause: err})
      throw err
    }
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
    if (this.seen.has(key)) return
    // Deduplication pins the indexed copy in the same statement that finds it: an erase
    // sweeping it a moment later keeps it, and one that swept it a moment earlier makes
    // this claim fail, so the block is written again below.
    if (!options.heal && this.store.has(cid) && this.store.claim(cid, this.pins)) {
      this.seen.add(key)
      this.pinned = true
      return
    }
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
    this.entries = []
    if (entries.length === 0 && this.out!.position === this.committed) return
    if (entries.length > 0) {
      // The manifest of this checkpoint goes right after its blocks, in the same turn that took
      // them (no put can slip in between), and inside the committed size: polar repair reads the
      // pack back from these frames when the index is gone (pack-manifest.ts).
      const frame = encodeFrame(this.committed, entries.map(([cid, offset, length, , enc]) => ({cid, offset, length, codec: enc?.codec ?? 0})))
      void this.out!.append(frame).catch(() => {}) // its failure surfaces in flush() below
    }
    const end = this.out!.position
    // Blocks put while this runs land past `end`: their entries wait for the next checkpoint.
    await this.out!.flush()
    await datasync(this.fd)
    // Checkpoints run one at a time (checkpoint()), so `committed` only grows.
    this.store.commit(pack.id, pack.holder, this.committed, end, entries, this.pins)
    if (entries.length > 0) this.pinned = true
    this.committed = end
  }

  private async finishPack(): Promise<void> {
    if (!this.pack) return
    await this.out!.close()
    this.out = undefined
    // A direct flush pads the last page: cut it back to what is committed.
    ftruncateSync(this.fd, this.committed)
    closeSync(this.fd)
    this.store.release(this.pack.id, this.pack.holder)
    this.pack = undefined
    this.fd = -1
  }

  /**
   * Flushes, indexes and releases the pack. After this every put block is
   * durable. `whilePinned` runs after the last checkpoint and before the
   * pins go: store the object record there, so that no erase sweep can take
   * a block of the object between its last block and its record.
   */
  async close(options: {whilePinned?: () => void} = {}): Promise<void> {
    try {
      if (this.rolling) await this.rolling.catch(() => {})
      this.closed = true
      if (this.checkpointing) await this.checkpointing
      if (this.failed) throw this.failed
      await this.checkpoint()
      options.whilePinned?.()
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
      try { this.store.release(this.pack.id, this.pack.holder) } catch {}
      this.pack = undefined
      this.fd = -1
    }
    if (this.pinned) {
      this.pinned = false
      try { this.store.unpin(this.pins) } catch {}
    }
  }
}

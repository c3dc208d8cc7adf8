import {constants as fsc, existsSync, readdirSync, statSync, unlinkSync} from 'node:fs'
import {writeFully} from '../util/staged-writer.js'
import {open, type FileHandle} from 'node:fs/promises'
import {fsyncDir} from '../util/fs.js'
import {HOLDER} from '../util/process.js'
import {LEASE_MS, leaseIsStale, type BlockStore} from './block-store.js'
import type {Database} from './db.js'
import {encodeFrame} from './pack-manifest.js'

/** A pack is rewritten when at least this share of its bytes is dead (erased blocks). */
export const COMPACT_DEAD_RATIO = 0.5
/** ... and at least this many bytes are dead (small packs are not worth the copy). */
export const COMPACT_MIN_DEAD_BYTES = 1024 * 1024

export interface CompactOptions {
  deadRatio?: number
  minDeadBytes?: number
  signal?: AbortSignal
}

export interface CompactResult {
  /** Packs rewritten or dropped. */
  packs: number
  /** Bytes of pack files given back to the filesystem. */
  reclaimed: number
  /** Packs dead enough to rewrite but left for later (leased by a live writer, or changed under the copy). */
  deferred: number
}

/**
 * Records that compaction is owed (docs/storage.md "Compaction"): called
 * before an erase deletes blocks, so that a process killed before or during
 * the compaction that follows leaves the intent behind, and the next store
 * open (`polar` without a node) or node start finishes it (issue 20 point 4).
 */
export function markCompactionDue(db: Database): void {
  db.prepare(`INSERT INTO maintenance (task, gen) VALUES ('compact', 1)
    ON CONFLICT (task) DO UPDATE SET gen = gen + 1`).run()
}

/** The generation of the owed compaction, undefined when none is owed. */
export function compactionDue(db: Database): number | undefined {
  return db.prepare("SELECT gen FROM maintenance WHERE task = 'compact'").pluck().get() as number | undefined
}

/**
 * Runs the owed compaction, if any, and clears the intent once a pass went
 * through every pack with none deferred — and only the generation it saw, so
 * an erase that deleted blocks meanwhile leaves it owed for the next pass.
 */
export async function finishCompaction(blocks: BlockStore, options: CompactOptions = {}): Promise<CompactResult & {due: boolean}> {
  const gen = compactionDue(blocks.db)
  if (gen === undefined) return {packs: 0, reclaimed: 0, deferred: 0, due: false}
  const r = await compactPacks(blocks, options)
  if (r.deferred === 0) blocks.db.prepare("DELETE FROM maintenance WHERE task = 'compact' AND gen = ?").run(gen)
  return {...r, due: true}
}

const PACK_FILE = /^pack-(\d{6,})$/

/**
 * Reclaims the space of erased blocks (docs/storage.md "Compaction"). For each
 * pack that is mostly dead and not leased by a live writer:
 *
 * 1. lease it (no writer appends to it meanwhile) and create a new pack row;
 * 2. copy its live blocks into the new pack file, fdatasync it and fsync the
 *    directory;
 * 3. in one IMMEDIATE transaction, point the live blocks' index rows at the
 *    new pack (only rows still pointing at the old one: an erase or a heal
 *    meanwhile wins), set the new pack's size, and delete the old pack's row
 *    if no block points at it any more;
 * 4. unlink the old file and fsync the directory.
 *
 * A crash before 3 leaves the old pack as it was and the new one at size 0
 * (its bytes are crash garbage, cut off by the next writer). A crash between
 * 3 and 4 leaves a pack file with no row, which removeOrphanPacks unlinks.
 * So at every instant each index row points at whole, fsynced bytes.
 */
export async function compactPacks(blocks: BlockStore, options: CompactOptions = {}): Promise<CompactResult> {
  const ratio = options.deadRatio ?? COMPACT_DEAD_RATIO
  const minDead = options.minDeadBytes ?? COMPACT_MIN_DEAD_BYTES
  // Pack files the index does not know (a lost polar.db) are never touched, and a new pack
  // row could take one of their ids: nothing is compacted until `polar repair` (issue 20, point 2).
  if (blocks.unknownPacks().length > 0) return {packs: 0, reclaimed: 0, deferred: 0}
  const result: CompactResult = {packs: 0, reclaimed: removeOrphanPacks(blocks), deferred: 0}
  const rows = blocks.db.prepare(`SELECT p.id, p.size, coalesce(sum(b.length), 0) AS live FROM packs p
    LEFT JOIN blocks b ON b.pack = p.id GROUP BY p.id ORDER BY p.id`).all() as Array<{id: number; size: number; live: number}>
  for (const row of rows) {
    options.signal?.throwIfAborted()
    // Bytes past the committed size (a crashed writer's or compactor's) are dead too.
    let fileSize = row.size
    try {
      fileSize = statSync(blocks.packPath(row.id)).size
    } catch {
      fileSize = -1
    }
    // A missing or cut-short pack is damage for `polar repair` to report, not space to reclaim.
    if (fileSize < row.size) continue
    const dead = fileSize - row.live
    if (dead < minDead || dead < fileSize * ratio) continue
    const reclaimed = await compactPack(blocks, row.id, fileSize)
    if (reclaimed !== undefined) {
      result.packs++
      result.reclaimed += reclaimed
    } else {
      result.deferred++
    }
  }
  return result
}

/**
 * Unlinks the files of packs compaction retired (what a crash between the swap
 * and the unlink leaves); returns their bytes. Only ids in retired_packs: a
 * file with no row that was never retired is one the index does not know (a
 * lost polar.db), never an orphan to delete.
 */
export function removeOrphanPacks(blocks: BlockStore): number {
  // The directory first, then the rows: a writer commits a pack's row before it creates
  // the file, so every file listed here whose pack is live has its row in the later read.
  const names = readdirSync(blocks.dir)
  const ids = new Set(blocks.db.prepare('SELECT id FROM packs').pluck().all() as number[])
  const retired = new Set(blocks.db.prepare('SELECT id FROM retired_packs').pluck().all() as number[])
  let n = 0
  let bytes = 0
  for (const name of names) {
    const m = PACK_FILE.exec(name)
    if (!m || ids.has(Number(m[1])) || !retired.has(Number(m[1]))) continue
    try {
      const path = blocks.packPath(Number(m[1]))
      const size = statSync(path).size
      unlinkSync(path)
      n++
      bytes += size
    } catch {}
  }
  if (n > 0) fsyncDir(blocks.dir)
  // Retired ids whose file is gone, or that a new row took again, need no more watching.
  const forget = blocks.db.prepare('DELETE FROM retired_packs WHERE id = ?')
  for (const id of retired) if (ids.has(id) || !existsSync(blocks.packPath(id))) forget.run(id)
  return bytes
}

/** Rewrites one pack; undefined when it is leased by a live writer (left for later). */
async function compactPack(blocks: BlockStore, id: number, fileSize: number): Promise<number | undefined> {
  const db = blocks.db
  // The same holder form as writers (host:pid), so a compactor that died is seen dead at once.
  const me = HOLDER
  const until = Date.now() + LEASE_MS
  const leased = db.transaction((): {into: number} | 'gone' | undefined => {
    const row = db.prepare('SELECT id, size, holder, lease_until FROM packs WHERE id = ?').get(id) as {id: number; size: number; holder: string | null; lease_until: number} | undefined
    if (!row || (row.holder !== null && !leaseIsStale(row))) return undefined
    if (db.prepare('SELECT 1 FROM blocks WHERE pack = ?').get(id) === undefined) {
      // Nothing live: the row goes now, the file right after (or as an orphan if we die first).
      db.prepare('DELETE FROM packs WHERE id = ?').run(id)
      return 'gone'
    }
    db.prepare('UPDATE packs SET holder = ?, lease_until = ? WHERE id = ?').run(me, until, id)
    const into = Number(db.prepare('INSERT INTO packs (size, holder, lease_until) VALUES (0, ?, ?)').run(me, until).lastInsertRowid)
    return {into}
  }).immediate()
  if (!leased) return undefined
  if (leased === 'gone') {
    blocks.forgetPack(id)
    try {
      unlinkSync(blocks.packPath(id))
    } catch {}
    fsyncDir(blocks.dir)
    return fileSize
  }
  const {into} = leased
  const live = db.prepare('SELECT cid, offset, length, codec FROM blocks WHERE pack = ? ORDER BY offset').all(id) as Array<{cid: Buffer; offset: number; length: number; codec: number}>
  let src: FileHandle | undefined
  let dst: FileHandle | undefined
  const moved: Array<[Buffer, number]> = []
  try {
    src = await open(blocks.packPath(id), 'r')
    dst = await open(blocks.packPath(into), fsc.O_RDWR | fsc.O_CREAT | fsc.O_TRUNC, 0o600)
    fsyncDir(blocks.dir)
    let pos = 0
    const buf = Buffer.allocUnsafe(2 * 1024 * 1024)
    for (const b of live) {
      // Bytes are copied as they are: a block that is corrupt here stays corrupt (and is
      // refused on read and healed from a peer), it is not silently dropped.
      const chunk = b.length <= buf.length ? buf.subarray(0, b.length) : Buffer.allocUnsafe(b.length)
      const {bytesRead} = await src.read(chunk, 0, b.length, b.offset)
      if (bytesRead !== b.length) throw new Error(`pack ${id} is shorter than its index says`)
      await writeFully(dst.fd, chunk, pos)
      moved.push([b.cid, pos])
      pos += b.length
    }
    // The new pack's manifest (pack-manifest.ts), so polar repair can read it without the index.
    const frame = encodeFrame(0, live.map((b, i) => ({cid: b.cid, offset: moved[i][1], length: b.length, codec: b.codec})))
    await writeFully(dst.fd, frame, pos)
    pos += frame.length
    await dst.datasync()
    const size = pos
    const swap = db.prepare('UPDATE blocks SET pack = ?, offset = ? WHERE cid = ? AND pack = ?')
    const dropped = db.transaction((): boolean => {
      for (const [cid, offset] of moved) swap.run(into, offset, cid, id)
      db.prepare('UPDATE packs SET size = ?, holder = NULL WHERE id = ? AND holder = ?').run(size, into, me)
      const left = db.prepare('SELECT count(*) FROM blocks WHERE pack = ?').pluck().get(id) as number
      if (left > 0) {
        db.prepare('UPDATE packs SET holder = NULL WHERE id = ? AND holder = ?').run(id, me)
        return false
      }
      db.prepare('DELETE FROM packs WHERE id = ?').run(id)
      return true
    }).immediate()
    if (!dropped) return undefined
    blocks.forgetPack(id)
    try {
      unlinkSync(blocks.packPath(id))
    } catch {}
    fsyncDir(blocks.dir)
    return fileSize - size
  } catch (err) {
    // Nothing was swapped: the old pack stays as it was; the new one is given back.
    db.transaction(() => {
      db.prepare('UPDATE packs SET holder = NULL WHERE id IN (?, ?) AND holder = ?').run(id, into, me)
    }).immediate()
    throw err
  } finally {
    await src?.close()
    await dst?.close()
  }
}


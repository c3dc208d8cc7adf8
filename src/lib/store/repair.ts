import {closeSync, mkdirSync, openSync, renameSync} from 'node:fs'
import {join} from 'node:path'
import {CID} from 'multiformats/cid'
import {CODEC_RAW, isDelta, parseEncoded} from '../codec/index.js'
import {DAG_PB_CODE} from '../content/constants.js'
import {dagPbLinks, holdsWholeDag} from '../content/dag-links.js'
import {IntegrityError, PolarError} from '../errors.js'
import {fsyncDir} from '../util/fs.js'
import {holderIsDead} from '../util/process.js'
import {leaseIsStale} from './block-store.js'
import {nodeLockHolder} from './node-lock.js'
import {fileSize, type UnknownPack} from './pack-files.js'
import {entryCid, readFrames, type ManifestEntry} from './pack-manifest.js'
import type {Store} from './store.js'

export interface RepairOptions {
  /** Check and report only: the transaction is rolled back and no file is moved. */
  dryRun?: boolean
  /** Called as each pack is done. */
  onProgress?: (event: {pack: number; packs: number; bytes: number}) => void
}

export interface RepairReport {
  dryRun: boolean
  /** Pack files read. */
  packs: number
  /** Bytes of blocks hashed. */
  bytes: number
  /** Indexed blocks hashed, and of those the ones that verified. */
  checked: number
  good: number
  /** Index rows dropped: bytes that no longer hash to their CID, or that are gone (missing or cut-short pack). */
  lost: string[]
  /** Pack rows whose file is missing (their blocks are in `lost`). */
  missingPacks: number[]
  /** Pack files the index did not know, read back from their manifests. */
  recoveredPacks: number[]
  /** Blocks indexed again from manifests (each one hashed). */
  recovered: number
  /** Blocks a manifest names whose bytes do not verify (not indexed). */
  unrecoverable: number
  /** Bytes of unknown packs that no manifest covers (written before packs had manifests): not indexed. */
  unframedBytes: number
  /** Unknown pack files with no manifest at all, moved to POLAR_HOME/lost+found/ (never deleted). */
  movedAside: string[]
  /** Roots of object records that now miss a block (push the file again, or pull it through a node). */
  incomplete: string[]
  /** Top-level blocks no record names and no other block links to: objects whose record is gone (pull them by CID, or push the file again to sign a new record). */
  unreferenced: string[]
}

class DryRun extends Error {}

/**
 * `polar repair` (issue 20, points 2 and 10): makes the index true to the
 * packs again, hashing every block.
 *
 * 1. Every indexed block is read and verified (encoded ones decoded); a row
 *    whose bytes are gone (missing or cut-short pack) or do not hash to its
 *    CID is dropped, and so is the row of a pack whose file is missing.
 * 2. Pack files the index does not know (a lost or emptied polar.db) are read
 *    back from their manifests (pack-manifest.ts): each block they name is
 *    hashed and indexed, and the pack gets its row. A pack with no manifest
 *    (written before manifests existed) cannot be split into blocks without
 *    the index: it is moved to lost+found/, never deleted. A known pack's
 *    bytes past its committed size are read the same way when they hold
 *    manifests (an index restored from an older copy).
 * 3. Every object record's DAG is walked: roots that miss a block are
 *    reported, and so are top-level blocks that no record names.
 *
 * Records live only in polar.db: repair brings back blocks, not records
 * (docs/storage.md "Repair"). Everything is one IMMEDIATE transaction: a
 * repair that fails or is killed changes nothing, and no writer can slip in.
 */
export function repairStore(store: Store, options: RepairOptions = {}): RepairReport {
  const db = store.db
  const blocks = store.blocks
  const report: RepairReport = {
    dryRun: Boolean(options.dryRun), packs: 0, bytes: 0, checked: 0, good: 0, lost: [], missingPacks: [],
    recoveredPacks: [], recovered: 0, unrecoverable: 0, unframedBytes: 0, movedAside: [], incomplete: [], unreferenced: [],
  }
  const aside: UnknownPack[] = []
  try {
    db.transaction(() => {
      const node = nodeLockHolder(db)
      if (node && !holderIsDead(node)) throw new PolarError(`a node (${node}) is running on ${store.home}; stop it first (polar repair works on the store directly)`, {code: 'NODE_RUNNING'})
      const busy = db.prepare('SELECT id, size, holder, lease_until FROM packs WHERE holder IS NOT NULL').all() as Array<{id: number; size: number; holder: string; lease_until: number}>
      const live = busy.find((row) => !leaseIsStale(row))
      if (live) throw new PolarError(`a writer (${live.holder}) is appending to pack ${live.id}; run polar repair when no other polar process uses ${store.home}`, {code: 'STORE_BUSY'})
      const unknown = blocks.unknownPacks()
      const rows = db.prepare('SELECT id, size, holder FROM packs ORDER BY id').all() as Array<{id: number; size: number; holder: string | null}>
      const total = rows.length + unknown.length
      for (const row of rows) {
        checkPack(store, row, report)
        options.onProgress?.({pack: ++report.packs, packs: total, bytes: report.bytes})
      }
      const pending: Pending[] = []
      for (const pack of unknown) {
        if (!recoverPack(store, pack, report, pending)) aside.push(pack)
        options.onProgress?.({pack: ++report.packs, packs: total, bytes: report.bytes})
      }
      indexEncoded(store, pending, report)
      checkObjects(store, report)
      if (options.dryRun) throw new DryRun()
    }).immediate()
  } catch (err) {
    if (!(err instanceof DryRun)) throw err
  }
  if (!options.dryRun && aside.length > 0) {
    const dir = join(store.home, 'lost+found')
    mkdirSync(dir, {recursive: true, mode: 0o700})
    for (const pack of aside) {
      const to = join(dir, `${pack.path.slice(pack.path.lastIndexOf('/') + 1)}.${Date.now()}`)
      renameSync(pack.path, to)
      report.movedAside.push(to)
    }
    fsyncDir(dir)
    fsyncDir(blocks.dir)
  } else {
    report.movedAside = aside.map((p) => p.path)
  }
  return report
}

/** A block to index once the bases it is a delta of are indexed. */
interface Pending {
  cid: CID
  pack: number
  entry: ManifestEntry
}

/** Step 1 for one pack row: verify every block indexed in it; drop what is gone or bad. */
function checkPack(store: Store, row: {id: number; size: number; holder: string | null}, report: RepairReport): void {
  const db = store.db
  const blocks = store.blocks
  const onDisk = fileSize(blocks.packPath(row.id))
  const cids = db.prepare('SELECT cid FROM blocks WHERE pack = ? ORDER BY offset').pluck().all(row.id) as Uint8Array[]
  if (onDisk === undefined) {
    report.missingPacks.push(row.id)
    for (const bytes of cids) drop(store, CID.decode(bytes), report)
    db.prepare('DELETE FROM packs WHERE id = ?').run(row.id)
    return
  }
  for (const bytes of cids) {
    const cid = CID.decode(bytes)
    report.checked++
    if (verify(store, cid, report)) report.good++
    else drop(store, cid, report)
  }
  // Cut short: what is left is all the pack holds; writers may use it again from there.
  if (onDisk < row.size) db.prepare('UPDATE packs SET size = ? WHERE id = ?').run(onDisk, row.id)
  // Past the committed size: manifests there name blocks an older copy of the index never saw.
  else if (onDisk > row.size && (row.holder === null || holderIsDead(row.holder))) {
    const fd = openSync(blocks.packPath(row.id), 'r')
    try {
      const {frames} = readFrames(fd, onDisk, row.size)
      const tail = frames.filter((f) => f.regionStart >= row.size)
      if (tail.length > 0 && tail[0].regionStart === row.size) {
        const pending: Pending[] = []
        for (const f of tail) for (const e of f.entries) indexEntry(store, row.id, e, report, pending)
        indexEncoded(store, pending, report)
        db.prepare('UPDATE packs SET size = ? WHERE id = ?').run(tail.at(-1)!.end, row.id)
      }
    } finally {
      closeSync(fd)
    }
  }
}

/** Step 2 for one unknown pack: its row and its manifests' blocks; false when it has no manifest at all. */
function recoverPack(store: Store, pack: UnknownPack, report: RepairReport, pending: Pending[]): boolean {
  const fd = openSync(pack.path, 'r')
  let frames
  let unframed
  try {
    ;({frames, unframed} = readFrames(fd, pack.bytes))
  } finally {
    closeSync(fd)
  }
  if (frames.length === 0) {
    report.unframedBytes += pack.bytes
    return false
  }
  report.unframedBytes += unframed
  store.db.prepare('INSERT INTO packs (id, size, holder, lease_until) VALUES (?, ?, NULL, 0)').run(pack.id, frames.at(-1)!.end)
  store.db.prepare('DELETE FROM retired_packs WHERE id = ?').run(pack.id)
  report.recoveredPacks.push(pack.id)
  for (const f of frames) for (const e of f.entries) indexEntry(store, pack.id, e, report, pending)
  return true
}

/** Indexes one manifest entry if its CID is not indexed yet and its bytes verify (encoded ones wait in `pending`). */
function indexEntry(store: Store, pack: number, e: ManifestEntry, report: RepairReport, pending: Pending[]): void {
  const cid = entryCid(e)
  if (!cid) {
    report.unrecoverable++
    return
  }
  if (store.blocks.has(cid)) return // a copy is indexed already (a heal or a duplicate)
  if (e.codec !== CODEC_RAW) {
    pending.push({cid, pack, entry: e})
    return
  }
  insertRow(store, cid, pack, e)
  if (verify(store, cid, report)) report.recovered++
  else {
    store.db.prepare('DELETE FROM blocks WHERE cid = ?').run(cid.bytes)
    report.unrecoverable++
  }
}

/** Encoded blocks, in rounds: one whose bases are all indexed gets its row, codec and depth, then is decoded and hashed. */
function indexEncoded(store: Store, pending: Pending[], report: RepairReport): void {
  let left = pending
  while (left.length > 0) {
    const next: Pending[] = []
    for (const p of left) {
      if (store.blocks.has(p.cid)) continue
      let bases: CID[] = []
      try {
        bases = parseEncoded(store.blocks.readAt(p.cid, {pack: p.pack, offset: p.entry.offset, length: p.entry.length}, {verify: false})).bases
      } catch {
        report.unrecoverable++
        continue
      }
      if (!bases.every((b) => store.blocks.has(b))) {
        next.push(p)
        continue
      }
      insertRow(store, p.cid, p.pack, p.entry)
      const depth = isDelta(p.entry.codec) ? store.blocks.codecs.depthFor(bases) : 0
      store.blocks.codecs.indexEncoding(p.cid.bytes, false, true, {codec: p.entry.codec, depth, bases})
      if (verify(store, p.cid, report)) report.recovered++
      else {
        store.blocks.codecs.deleted(p.cid)
        store.db.prepare('DELETE FROM blocks WHERE cid = ?').run(p.cid.bytes)
        report.unrecoverable++
      }
    }
    if (next.length === left.length) {
      // Bases that are nowhere: these deltas cannot be decoded.
      report.unrecoverable += next.length
      return
    }
    left = next
  }
}

function insertRow(store: Store, cid: CID, pack: number, e: ManifestEntry): void {
  store.db.prepare('INSERT INTO blocks (cid, pack, offset, length) VALUES (?, ?, ?, ?)').run(cid.bytes, pack, e.offset, e.length)
}

/** True when the indexed block reads back and hashes (decoded) to its CID; I/O errors other than "gone" propagate. */
function verify(store: Store, cid: CID, report: RepairReport): boolean {
  try {
    report.bytes += store.blocks.get(cid).length
    return true
  } catch (err) {
    if (err instanceof IntegrityError) return false
    throw err
  }
}

function drop(store: Store, cid: CID, report: RepairReport): void {
  store.blocks.codecs.deleted(cid)
  store.db.prepare('DELETE FROM blocks WHERE cid = ?').run(cid.bytes)
  report.lost.push(cid.toString())
}

/** Step 3: object records whose DAG misses a block, and top-level blocks no record names. */
function checkObjects(store: Store, report: RepairReport): void {
  const roots = store.records.liveRoots()
  const named = new Set(roots)
  for (const text of roots) {
    if (!holdsWholeDag(store.blocks, CID.parse(text))) report.incomplete.push(text)
  }
  const linked = new Set<string>()
  const all = store.db.prepare('SELECT cid FROM blocks').pluck().all() as Uint8Array[]
  for (const bytes of all) {
    const cid = CID.decode(bytes)
    if (cid.code !== DAG_PB_CODE) continue
    try {
      for (const l of dagPbLinks(store.blocks.get(cid))) linked.add(l.cid.toString())
    } catch {}
  }
  for (const bytes of all) {
    const key = CID.decode(bytes).toString()
    if (!linked.has(key) && !named.has(key)) report.unreferenced.push(key)
  }
}

import {CID} from 'multiformats/cid'
import {decodeFileNode} from '../content/dag-node.js'
import {DAG_PB_CODE, MAX_DAG_DEPTH, RAW_CODE} from '../content/constants.js'
import {walkSync} from '../content/dag-walk.js'
import type {BlockSink} from '../content/builder.js'
import type {Encoding} from './block.js'
import {isDelta, MAX_DELTA_DEPTH} from './constants.js'
import {BaseIndex} from './delta.js'
import {encodeBest, type BaseBlock} from './encoder.js'

/** How far (bytes) before and after a leaf's own offset base leaves are matched against: insertions shift data by this much at most. */
export const MATCH_WINDOW = 1024 * 1024
/** At most this many base leaves per delta block. */
export const WINDOW_LEAVES = 4

/** Where versions are read: verified block bytes by CID (BlockStore). */
export interface VersionBlocks {
  has(cid: CID): boolean
  get(cid: CID): Uint8Array
}

/** What EncodingSink asks of the store it writes into (BlockStore): the blocks, and how deep a delta on these bases would sit. */
export interface EncodingStore extends VersionBlocks {
  codecs: {depthFor(bases: CID[]): number}
}

/** Where EncodingSink puts blocks (PackWriter): raw or encoded, each once. */
export interface EncodedBlockSink {
  put(cid: CID, bytes: Uint8Array): Promise<void>
  putEncoded(cid: CID, bytes: Uint8Array, encoding: Encoding): Promise<void>
  /** True when this sink already took `cid`. */
  took(cid: CID): boolean
}

interface Leaf {
  cid: CID
  offset: number
  size: number
}

/**
 * The leaves of an earlier version of a file, in order, with their offsets:
 * what a new version is delta-encoded against. Only dag-pb nodes are read to
 * build it; leaf bytes are read (and indexed) as the window reaches them.
 */
export class BaseVersion {
  private readonly indexes = new Map<number, BaseIndex>()
  private first = 0

  private constructor(readonly root: CID, private readonly blocks: VersionBlocks, private readonly leaves: Leaf[]) {}

  /** Lists the leaves of `root` in this store; undefined when the store does not hold its DAG. */
  static open(blocks: VersionBlocks, root: CID): BaseVersion | undefined {
    const leaves: Leaf[] = []
    let offset = 0
    try {
      if (!blocks.has(root)) return undefined
      // Only file nodes are read: a leaf's size is its parent's `blocksizes` entry (dag-walk.ts).
      walkSync<number>({cid: root}, {maxDepth: MAX_DAG_DEPTH + 1}, ({cid, note: size, depth}) => {
        if (cid.code === RAW_CODE) {
          leaves.push({cid, offset, size: size ?? blocks.get(cid).length})
          offset += leaves[leaves.length - 1].size
          return
        }
        if (cid.code !== DAG_PB_CODE || depth > MAX_DAG_DEPTH) throw new Error(`not a UnixFS file block: ${cid}`)
        const node = decodeFileNode(cid, blocks.get(cid))
        if (node.data) offset += node.data.length
        return node.links.map((l, i) => ({cid: l, note: node.blockSizes[i]}))
      })
    } catch {
      return undefined
    }
    return new BaseVersion(root, blocks, leaves)
  }

  get size(): number {
    const last = this.leaves[this.leaves.length - 1]
    return last ? last.offset + last.size : 0
  }

  /** Base leaves overlapping [offset - MATCH_WINDOW, offset + size + MATCH_WINDOW), indexed, nearest first at most WINDOW_LEAVES. */
  window(offset: number, size: number): BaseBlock[] {
    const lo = offset - MATCH_WINDOW
    const hi = offset + size + MATCH_WINDOW
    const picked: number[] = []
    // Leaves are sorted by offset: binary search the first that ends after `lo`.
    let a = 0
    let b = this.leaves.length
    while (a < b) {
      const m = (a + b) >> 1
      if (this.leaves[m].offset + this.leaves[m].size <= lo) a = m + 1
      else b = m
    }
    for (let i = a; i < this.leaves.length && this.leaves[i].offset < hi; i++) picked.push(i)
    // Nearest to the leaf's own offset first; keep WINDOW_LEAVES, in file order (copies may run on from one into the next).
    const mid = offset + size / 2
    const dist = (i: number) => Math.abs(this.leaves[i].offset + this.leaves[i].size / 2 - mid)
    const chosen = picked.sort((x, y) => dist(x) - dist(y)).slice(0, WINDOW_LEAVES).sort((x, y) => x - y)
    // Indexes of leaves behind the window are dropped (bounded memory on long files).
    if (chosen.length > 0) {
      for (; this.first < chosen[0]; this.first++) this.indexes.delete(this.first)
    }
    const out: BaseBlock[] = []
    for (const i of chosen) {
      let index = this.indexes.get(i)
      if (!index) {
        try {
          index = new BaseIndex(this.blocks.get(this.leaves[i].cid))
        } catch {
          continue // a base leaf this store cannot read is simply not used
        }
        this.indexes.set(i, index)
      }
      out.push({cid: this.leaves[i].cid, index})
    }
    return out
  }
}

export interface EncodeStats {
  /** Leaves stored as deltas / gzip / raw by this sink. */
  delta: number
  gzip: number
  raw: number
  /** Bytes written for the new leaves, and their raw size. */
  storedBytes: number
  rawBytes: number
  /** Wall time spent choosing encodings (reading and indexing bases, delta matching, gzip), ms. */
  encodeMs: number
  /**
   * CPU time (user + system, this process) over the same spans, ms: the
   * encoder's speed is rawBytes / encodeCpuMs. On a busy machine wall time
   * also counts waiting for a core or for base reads from disk.
   */
  encodeCpuMs: number
}

/**
 * A BlockSink for the builder that stores each new raw leaf in its smallest
 * encoding: a delta against the window of the base version around the same
 * file offset, else gzip, else raw. A delta that would pass MAX_DELTA_DEPTH
 * is not made (the block is stored whole: the draft's prune). dag-pb nodes
 * (hashes, incompressible) go raw.
 */
export class EncodingSink implements BlockSink {
  private offset = 0
  readonly stats: EncodeStats = {delta: 0, gzip: 0, raw: 0, storedBytes: 0, rawBytes: 0, encodeMs: 0, encodeCpuMs: 0}

  constructor(private readonly store: EncodingStore, private readonly writer: EncodedBlockSink, private readonly base?: BaseVersion, private readonly options: {gzip?: boolean} = {}) {}

  async put(cid: CID, bytes: Uint8Array): Promise<void> {
    if (cid.code !== RAW_CODE) return this.writer.put(cid, bytes)
    const offset = this.offset
    this.offset += bytes.length
    if (this.writer.took(cid) || this.store.has(cid)) return this.writer.put(cid, bytes)
    const started = performance.now()
    const cpu = process.cpuUsage()
    const window = this.base ? this.base.window(offset, bytes.length) : []
    let enc = encodeBest(bytes, window, this.options)
    let depth = 0
    if (enc && isDelta(enc.codec)) {
      depth = this.store.codecs.depthFor(enc.bases)
      if (depth > MAX_DELTA_DEPTH) {
        enc = encodeBest(bytes, [], this.options)
        depth = 0
      }
    }
    this.stats.encodeMs += performance.now() - started
    const used = process.cpuUsage(cpu)
    this.stats.encodeCpuMs += (used.user + used.system) / 1000
    this.stats.rawBytes += bytes.length
    if (!enc) {
      this.stats.raw++
      this.stats.storedBytes += bytes.length
      return this.writer.put(cid, bytes)
    }
    if (depth > 0) this.stats.delta++
    else this.stats.gzip++
    this.stats.storedBytes += enc.bytes.length
    return this.writer.putEncoded(cid, enc.bytes, {codec: enc.codec, depth, bases: enc.bases})
  }
}

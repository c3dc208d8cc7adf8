import * as dagPb from '@ipld/dag-pb'
import {UnixFS} from 'ipfs-unixfs'
import type {CID} from 'multiformats/cid'
import {fixedSizeChunks} from './chunker.js'
import {cidOf} from './cid.js'
import {CHUNK_SIZE, DAG_PB_CODE, MAX_LINKS, RAW_CODE} from './constants.js'

/** Where the builder puts blocks; awaiting `put` is the builder's back-pressure. */
export interface BlockSink {
  put(cid: CID, bytes: Uint8Array): void | Promise<void>
}

export interface BuildProgress {
  bytes: number
}

export interface BuildOptions {
  chunkSize?: number
  maxLinks?: number
  signal?: AbortSignal
  onProgress?: (event: BuildProgress) => void
}

export interface BuildResult {
  cid: CID
  /** File size in bytes. */
  size: number
  /** Number of blocks (leaves and dag-pb nodes). */
  blocks: number
}

/** A finished node of the DAG, as its parent links to it. */
interface DagNode {
  cid: CID
  /** Bytes of file data under this node (UnixFS blocksizes entry). */
  fileSize: number
  /** Cumulative DAG size (dag-pb link Tsize). */
  dagSize: number
}

/**
 * Builds a UnixFS file DAG exactly as the IPFS `unixfs-v1-2025` profile
 * (IPIP-499) does: CIDv1, sha2-256, raw leaves of 1 MiB, balanced layout with
 * at most 1024 links per dag-pb node, and a one-chunk file is its own raw
 * leaf. Streaming: memory holds one chunk plus at most 1024 links per level.
 *
 * The balanced layout of the IPFS importer groups the nodes of each level
 * into runs of `maxLinks` from the left and repeats until one node is left.
 * Reducing a level as soon as it holds `maxLinks` nodes, and the partial
 * levels at the end from the bottom up, builds the same tree.
 */
export async function buildFile(source: AsyncIterable<Uint8Array>, sink: BlockSink, options: BuildOptions = {}): Promise<BuildResult> {
  const chunkSize = options.chunkSize ?? CHUNK_SIZE
  const maxLinks = options.maxLinks ?? MAX_LINKS
  const levels: DagNode[][] = [[]]
  let size = 0
  let blocks = 0

  const reduce = async (children: DagNode[]): Promise<DagNode> => {
    const unixfs = new UnixFS({type: 'file'})
    for (const c of children) unixfs.addBlockSize(BigInt(c.fileSize))
    const node = dagPb.prepare({Data: unixfs.marshal(), Links: children.map((c) => ({Name: '', Tsize: c.dagSize, Hash: c.cid}))})
    const bytes = dagPb.encode(node)
    const cid = cidOf(DAG_PB_CODE, bytes)
    await sink.put(cid, bytes)
    blocks++
    let dagSize = bytes.length
    let fileSize = 0
    for (const c of children) {
      dagSize += c.dagSize
      fileSize += c.fileSize
    }
    return {cid, fileSize, dagSize}
  }

  const push = async (level: number, node: DagNode): Promise<void> => {
    levels[level] ??= []
    levels[level].push(node)
    if (levels[level].length === maxLinks) {
      const parent = await reduce(levels[level])
      levels[level] = []
      await push(level + 1, parent)
    }
  }

  for await (const chunk of fixedSizeChunks(source, chunkSize)) {
    options.signal?.throwIfAborted()
    const cid = cidOf(RAW_CODE, chunk)
    await sink.put(cid, chunk)
    blocks++
    size += chunk.length
    options.onProgress?.({bytes: size})
    await push(0, {cid, fileSize: chunk.length, dagSize: chunk.length})
  }
  options.signal?.throwIfAborted()

  for (let level = 0; ; level++) {
    const nodes = levels[level] ?? []
    const higher = levels.slice(level + 1).some((l) => l.length > 0)
    if (!higher && nodes.length === 1) return {cid: nodes[0].cid, size, blocks}
    if (nodes.length > 0) {
      const parent = await reduce(nodes)
      levels[level] = []
      levels[level + 1] ??= []
      levels[level + 1].push(parent)
    }
  }
}

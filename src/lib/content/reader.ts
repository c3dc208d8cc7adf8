import type {CID} from 'multiformats/cid'
import {IntegrityError} from '../errors.js'
import {assertSupportedCid, verifyBlock} from './cid.js'
import {DAG_PB_CODE, MAX_DAG_DEPTH, RAW_CODE} from './constants.js'
import type {FileNode} from './dag-node.js'
import {walkAsync, type DagFrame, type Visited} from './dag-walk.js'

/**
 * Where the reader gets blocks. The reader hash-checks every block itself
 * unless the source declares `verifiesBlocks` — a source that already checks
 * each block against its CID (and the size cap) before returning it, so the
 * bytes are not hashed twice.
 */
export interface BlockSource {
  get(cid: CID, options?: {signal?: AbortSignal}): Promise<Uint8Array> | Uint8Array
  readonly verifiesBlocks?: boolean
  /** Told the children of each dag-pb node before they are fetched (a network source can ask about them in one batch). */
  onLinks?(links: CID[]): void
}

export interface ReadOptions {
  signal?: AbortSignal
  /** Blocks fetched ahead of the one being written (network sources gain from more). */
  prefetch?: number
}

let decodeFileNode: ((cid: CID, bytes: Uint8Array) => FileNode) | undefined

/**
 * Walks a UnixFS file DAG in order (dag-walk.ts) and yields its bytes. Every
 * block is hash-checked before any of its bytes are yielded, and the sizes
 * each node declares are checked against what its children really hold: a
 * child's size against its parent's `blocksizes` entry, as each child is
 * read, and a node's own size against its data and `blocksizes` before any
 * child is read. File nodes sit at most MAX_DAG_DEPTH links below the root,
 * so their leaves one more.
 */
export async function * readFile(root: CID, source: BlockSource, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
  assertSupportedCid(root)
  const load = async (cid: CID): Promise<Uint8Array> => {
    options.signal?.throwIfAborted()
    const bytes = await source.get(cid, {signal: options.signal})
    return source.verifiesBlocks ? bytes : verifyBlock(cid, bytes)
  }
  yield * walkAsync<number, Uint8Array>({cid: root}, {
    load,
    visit: (frame, bytes) => (frame.cid.code === DAG_PB_CODE && !decodeFileNode ? loadDecoder().then(() => visitBlock(root, frame, bytes)) : visitBlock(root, frame, bytes)),
    onLinks: source.onLinks && ((links) => source.onLinks!(links)),
    prefetch: options.prefetch ?? 4,
    maxDepth: MAX_DAG_DEPTH + 1,
  })
}

/** dag-pb is imported only when the reader meets a dag-pb node: raw-leaf pulls never load it. */
async function loadDecoder(): Promise<void> {
  decodeFileNode ??= (await import('./dag-node.js')).decodeFileNode
}

/** One block of a file: its bytes (a raw leaf) or its inline data and children (a file node), checked. */
function visitBlock(root: CID, {cid, note: expected, depth}: DagFrame<number>, bytes: Uint8Array): Visited<number, Uint8Array> {
  if (cid.code === RAW_CODE) {
    if (expected !== undefined && bytes.length !== expected) {
      throw new IntegrityError(`block ${cid} holds ${bytes.length} bytes but its parent declares ${expected}`)
    }
    return {out: bytes.length > 0 ? bytes : undefined}
  }
  if (cid.code !== DAG_PB_CODE) throw new IntegrityError(`block ${cid} has codec 0x${cid.code.toString(16)}, not part of a UnixFS file`)
  if (depth > MAX_DAG_DEPTH) throw new IntegrityError(`DAG under ${root} is deeper than ${MAX_DAG_DEPTH} levels`)
  const node = decodeFileNode!(cid, bytes)
  if (expected !== undefined && node.fileSize !== expected) {
    throw new IntegrityError(`node ${cid} declares ${node.fileSize} bytes but its parent declares ${expected}`)
  }
  // What the node holds is its data and what its children hold, each checked against its
  // `blocksizes` entry as it is read: so the sizes must add up to the node's own.
  let total = node.data?.length ?? 0
  for (const size of node.blockSizes) total += size
  if (total !== node.fileSize) throw new IntegrityError(`node ${cid} declares ${node.fileSize} bytes but its data and children add up to ${total}`)
  return {links: node.links.map((cid, i) => ({cid, note: node.blockSizes[i]})), out: node.data}
}

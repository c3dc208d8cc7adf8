import type {CID} from 'multiformats/cid'
import {IntegrityError} from '../errors.js'
import {assertSupportedCid, verifyBlock} from './cid.js'
import {DAG_PB_CODE, MAX_DAG_DEPTH, RAW_CODE} from './constants.js'
import type {FileNode} from './dag-node.js'

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

async function decodeNode(cid: CID, bytes: Uint8Array): Promise<FileNode> {
  decodeFileNode ??= (await import('./dag-node.js')).decodeFileNode
  return decodeFileNode(cid, bytes)
}

/**
 * Walks a UnixFS file DAG in order and yields its bytes. Every block is
 * hash-checked before any of its bytes are yielded, and the sizes each node
 * declares are checked against what its children really hold.
 */
export async function * readFile(root: CID, source: BlockSource, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
  assertSupportedCid(root)
  const prefetch = Math.max(1, options.prefetch ?? 4)
  const fetch = async (cid: CID): Promise<Uint8Array> => {
    options.signal?.throwIfAborted()
    const bytes = await source.get(cid, {signal: options.signal})
    return source.verifiesBlocks ? bytes : verifyBlock(cid, bytes)
  }

  async function * walk(cid: CID, bytes: Uint8Array, depth: number, expected: number | undefined): AsyncGenerator<Uint8Array, number> {
    if (cid.code === RAW_CODE) {
      if (expected !== undefined && bytes.length !== expected) {
        throw new IntegrityError(`block ${cid} holds ${bytes.length} bytes but its parent declares ${expected}`)
      }
      if (bytes.length > 0) yield bytes
      return bytes.length
    }
    if (cid.code !== DAG_PB_CODE) throw new IntegrityError(`block ${cid} has codec 0x${cid.code.toString(16)}, not part of a UnixFS file`)
    if (depth > MAX_DAG_DEPTH) throw new IntegrityError(`DAG under ${root} is deeper than ${MAX_DAG_DEPTH} levels`)
    const node = await decodeNode(cid, bytes)
    if (expected !== undefined && node.fileSize !== expected) {
      throw new IntegrityError(`node ${cid} declares ${node.fileSize} bytes but its parent declares ${expected}`)
    }
    let total = 0
    if (node.data) {
      yield node.data
      total += node.data.length
    }
    source.onLinks?.(node.links)
    // Ordered prefetch window over the children.
    const pending: Promise<Uint8Array>[] = []
    let next = 0
    const fill = () => {
      while (next < node.links.length && pending.length < prefetch) {
        const p = fetch(node.links[next++])
        p.catch(() => {}) // handled when awaited in order
        pending.push(p)
      }
    }
    for (let i = 0; i < node.links.length; i++) {
      fill()
      const childBytes = await pending.shift()!
      total += yield * walk(node.links[i], childBytes, depth + 1, node.blockSizes[i])
    }
    if (total !== node.fileSize) throw new IntegrityError(`node ${cid} declares ${node.fileSize} bytes but holds ${total}`)
    return total
  }

  yield * walk(root, await fetch(root), 0, undefined)
}

// The IPFS importer as an oracle for polar's DAG builder, and cheap
// deterministic test data. Not a test file itself (no .test.ts).
import {importer} from 'ipfs-unixfs-importer'
import {fixedSize} from 'ipfs-unixfs-importer/chunker'
import {balanced} from 'ipfs-unixfs-importer/layout'
import type {CID} from 'multiformats/cid'
import {buildFile} from '../../src/lib/content/builder.js'

export const MiB = 1024 * 1024

export interface OracleOptions {
  /** Small parameters for property tests; default: the unixfs-v1-2025 profile's own. */
  chunkSize?: number
  maxLinks?: number
  /** Collects the CID of every block the importer writes. */
  blocks?: Set<string>
}

/** Root CID that ipfs-unixfs-importer's `unixfs-v1-2025` profile gives `content`; blocks are discarded. */
export async function oracleCid(content: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: OracleOptions = {}): Promise<CID> {
  const blockstore = {
    put: async (cid: CID) => {
      options.blocks?.add(cid.toString())
      return cid
    },
  }
  const custom = options.chunkSize !== undefined || options.maxLinks !== undefined
  const opts: Record<string, unknown> = {profile: 'unixfs-v1-2025', rawLeaves: true, cidVersion: 1, reduceSingleLeafToSelf: true}
  if (custom) {
    opts.chunker = fixedSize({chunkSize: options.chunkSize ?? MiB})
    opts.layout = balanced({maxChildrenPerNode: options.maxLinks ?? 1024})
  }
  let root: CID | undefined
  for await (const entry of importer([{content}], blockstore as any, opts as any)) root = entry.cid
  if (!root) throw new Error('importer yielded nothing')
  return root
}

/** A BlockSink that keeps nothing (optionally counts and records CIDs). */
export function discardSink(blocks?: Set<string>): {put(cid: CID, bytes: Uint8Array): void; count: number; bytes: number} {
  const sink = {
    count: 0,
    bytes: 0,
    put(cid: CID, bytes: Uint8Array) {
      sink.count++
      sink.bytes += bytes.length
      blocks?.add(cid.toString())
    },
  }
  return sink
}

/** Deterministic pseudo-random bytes (xorshift32), for a fixed base block. */
export function prng(length: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(length)
  const words = new Uint32Array(out.buffer, 0, Math.floor(length / 4))
  let x = seed >>> 0 || 1
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    words[i] = x
  }
  for (let i = words.length * 4; i < length; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24
  return out
}

const BASE = prng(MiB)

/**
 * `total` bytes of deterministic data, streamed: every 1 MiB block is the same
 * random buffer with its index written into the first bytes (so no two
 * blocks are equal), handed out in pieces of `piece` bytes (fresh buffers:
 * consumers may keep them). Never holds more than one block.
 */
export async function * blocksOf(total: number, piece = MiB): AsyncGenerator<Uint8Array> {
  let block = -1
  let current: Uint8Array = new Uint8Array(0)
  let pos = 0 // offset in the stream
  while (pos < total) {
    const n = Math.min(piece, total - pos)
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      const at = pos + filled
      const b = Math.floor(at / MiB)
      if (b !== block) {
        block = b
        current = BASE.slice()
        new DataView(current.buffer).setUint32(0, b)
        new DataView(current.buffer).setUint32(MiB - 4, b ^ 0xa5a5a5a5)
      }
      const off = at - b * MiB
      const take = Math.min(n - filled, MiB - off)
      out.set(current.subarray(off, off + take), filled)
      filled += take
    }
    pos += n
    yield out
  }
}

/** Splits `data` at the given (sorted or not, possibly repeated) offsets, giving empty pieces too. */
export function * splitAt(data: Uint8Array, cuts: number[]): Generator<Uint8Array> {
  const points = [...cuts.map((c) => Math.max(0, Math.min(data.length, c)))].sort((a, b) => a - b)
  let prev = 0
  for (const p of points) {
    yield data.slice(prev, p)
    prev = p
  }
  yield data.slice(prev)
}

export async function * asAsync<T>(it: Iterable<T>): AsyncGenerator<T> {
  for (const x of it) yield x
}

/** polar's DAG of `data`: the root and every block by CID string (for fake peers in tests). */
export async function dagOf(data: Uint8Array): Promise<{root: CID; blocks: Map<string, Uint8Array>}> {
  const blocks = new Map<string, Uint8Array>()
  const built = await buildFile(asAsync([data]), {put: (cid, bytes) => { blocks.set(cid.toString(), bytes.slice()) }})
  return {root: built.cid, blocks}
}

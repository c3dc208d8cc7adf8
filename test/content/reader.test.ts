import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import fc from 'fast-check'
import {UnixFS} from 'ipfs-unixfs'
import {CID} from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import {identity} from 'multiformats/hashes/identity'
import {sha512} from 'multiformats/hashes/sha2'
import {buildFile} from '../../src/lib/content/builder.js'
import {cidOf} from '../../src/lib/content/cid.js'
import {DAG_CBOR_CODE, DAG_PB_CODE, MAX_BLOCK_SIZE, MAX_DAG_DEPTH, RAW_CODE} from '../../src/lib/content/constants.js'
import {readFile, type BlockSource} from '../../src/lib/content/reader.js'
import {InputError, IntegrityError} from '../../src/lib/errors.js'
import {asAsync, blocksOf, MiB, prng} from './oracle.js'

type Blocks = Map<string, Uint8Array>

async function build(data: Uint8Array, options: {chunkSize?: number; maxLinks?: number} = {}): Promise<{root: CID; blocks: Blocks}> {
  const blocks: Blocks = new Map()
  const built = await buildFile(asAsync([data]), {put: (cid, bytes) => { blocks.set(cid.toString(), bytes.slice()) }}, options)
  return {root: built.cid, blocks}
}

function sourceOf(blocks: Blocks, log?: string[]): BlockSource {
  return {
    async get(cid) {
      log?.push(cid.toString())
      const b = blocks.get(cid.toString())
      if (!b) throw new Error(`test source has no ${cid}`)
      return b
    },
  }
}

/** Reads until the end or an error; returns what was yielded and what was thrown. */
async function drain(root: CID, source: BlockSource, options = {}): Promise<{out: Buffer; err?: unknown}> {
  const parts: Uint8Array[] = []
  try {
    for await (const chunk of readFile(root, source, options)) parts.push(chunk.slice())
    return {out: Buffer.concat(parts)}
  } catch (err) {
    return {out: Buffer.concat(parts), err}
  }
}

/** File offset of the first byte under each block of an intact DAG. */
function firstOffsets(root: CID, blocks: Blocks): Map<string, number> {
  const at = new Map<string, number>()
  let pos = 0
  const walk = (cid: CID) => {
    at.set(cid.toString(), pos)
    const bytes = blocks.get(cid.toString())!
    if (cid.code === RAW_CODE) {
      pos += bytes.length
      return
    }
    for (const l of dagPb.decode(bytes).Links) walk(l.Hash)
  }
  walk(root)
  return at
}

/** A dag-pb UnixFS node over `links`; blocksizes as given (honest by default: a raw child's length, an inner node's file size). */
function fileNode(links: Array<{cid: CID; size?: number; bytes?: Uint8Array; tsize?: number}>, blockSizes?: number[], type: 'file' | 'directory' = 'file'): {cid: CID; bytes: Uint8Array; size: number} {
  const sizeOf = (l: {cid: CID; size?: number; bytes?: Uint8Array}) => l.size ?? (l.cid.code === RAW_CODE ? l.bytes!.length : Number(UnixFS.unmarshal(dagPb.decode(l.bytes!).Data!).fileSize()))
  const unixfs = new UnixFS({type})
  const sizes = blockSizes ?? links.map(sizeOf)
  for (const s of sizes) unixfs.addBlockSize(BigInt(s))
  const bytes = dagPb.encode(dagPb.prepare({Data: unixfs.marshal(), Links: links.map((l) => ({Name: '', Hash: l.cid, Tsize: l.tsize ?? l.bytes?.length ?? 0}))}))
  return {cid: cidOf(DAG_PB_CODE, bytes), bytes, size: sizes.reduce((a, b) => a + b, 0)}
}

function raw(bytes: Uint8Array): {cid: CID; bytes: Uint8Array} {
  return {cid: cidOf(RAW_CODE, bytes), bytes}
}

function mapOf(...entries: Array<{cid: CID; bytes: Uint8Array}>): Blocks {
  return new Map(entries.map((e) => [e.cid.toString(), e.bytes]))
}

describe('readFile', () => {
  it('round-trips files built with the real profile', async () => {
    for (const size of [0, 1, MiB, 3 * MiB + 1]) {
      const parts: Uint8Array[] = []
      for await (const p of blocksOf(size)) parts.push(p)
      const data = Buffer.concat(parts)
      const {root, blocks} = await build(data)
      const {out, err} = await drain(root, sourceOf(blocks))
      assert.equal(err, undefined)
      assert.ok(out.equals(data), `size ${size}`)
    }
  })

  it('round-trips random files and DAG shapes, for any prefetch window', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({min: 1, max: 64}), fc.integer({min: 3, max: 8}), fc.integer({min: 0, max: 3000}), fc.integer({min: 1, max: 8}), async (chunkSize, maxLinks, length, prefetch) => {
        const data = prng(length, length + chunkSize)
        const {root, blocks} = await build(data, {chunkSize, maxLinks})
        const {out, err} = await drain(root, sourceOf(blocks), {prefetch})
        assert.equal(err, undefined)
        assert.ok(out.equals(Buffer.from(data)))
      }),
      {numRuns: 100},
    )
  })

  it('accepts a synchronous source', async () => {
    const data = prng(1000)
    const {root, blocks} = await build(data, {chunkSize: 64, maxLinks: 4})
    const {out, err} = await drain(root, {get: (cid) => blocks.get(cid.toString())!})
    assert.equal(err, undefined)
    assert.ok(out.equals(Buffer.from(data)))
  })

  it('stops with IntegrityError at a corrupted leaf or node, before any byte of it is yielded', async () => {
    const data = prng(2000, 7)
    const {root, blocks} = await build(data, {chunkSize: 50, maxLinks: 3})
    const offsets = firstOffsets(root, blocks)
    assert.ok(blocks.size > 40)
    let nodes = 0
    for (const [key, bytes] of blocks) {
      for (const how of ['flip', 'truncate', 'extend'] as const) {
        const bad = how === 'flip' ? bytes.slice() : how === 'truncate' ? bytes.slice(0, -1) : Uint8Array.from([...bytes, 0])
        if (how === 'flip') bad[(key.length * 7) % bad.length] ^= 0x01
        const corrupt = new Map(blocks)
        corrupt.set(key, bad)
        const {out, err} = await drain(root, sourceOf(corrupt))
        assert.ok(err instanceof IntegrityError, `${how} ${key}: ${err}`)
        assert.equal((err as IntegrityError).code, 'INTEGRITY')
        // Nothing of the bad block (or past it) came out; what did come out is the file's prefix.
        assert.ok(out.length <= offsets.get(key)!, `${how} ${key}: ${out.length} bytes out, block starts at ${offsets.get(key)}`)
        assert.ok(out.equals(Buffer.from(data.subarray(0, out.length))))
      }
      if (CID.parse(key).code === DAG_PB_CODE) nodes++
    }
    assert.ok(nodes > 5, 'corrupted intermediate nodes too')
  })

  it('rejects a block the source swaps for another valid block', async () => {
    const a = raw(prng(30, 1))
    const b = raw(prng(30, 2))
    const root = fileNode([a, b])
    const blocks = mapOf(root, a, b)
    blocks.set(b.cid.toString(), a.bytes)
    const {out, err} = await drain(root.cid, sourceOf(blocks))
    assert.ok(err instanceof IntegrityError)
    assert.equal(out.length, 30)
  })

  it('rejects a node whose blocksizes lie about its children', async () => {
    const a = raw(prng(10, 1))
    const b = raw(prng(20, 2))
    const c = raw(prng(5, 3))
    // Swapped sizes (the total still adds up): nothing may come out, not even A.
    let node = fileNode([a, b], [20, 10])
    let r = await drain(node.cid, sourceOf(mapOf(node, a, b)))
    assert.ok(r.err instanceof IntegrityError, String(r.err))
    assert.equal(r.out.length, 0)
    // The second size is too big: A is fine, nothing of B comes out.
    node = fileNode([a, b], [10, 25])
    r = await drain(node.cid, sourceOf(mapOf(node, a, b)))
    assert.ok(r.err instanceof IntegrityError, String(r.err))
    assert.ok(r.out.equals(Buffer.from(a.bytes)))
    // Too small.
    node = fileNode([a, b], [10, 19])
    r = await drain(node.cid, sourceOf(mapOf(node, a, b)))
    assert.ok(r.err instanceof IntegrityError, String(r.err))
    // Fewer sizes than links.
    node = fileNode([a, b], [30])
    r = await drain(node.cid, sourceOf(mapOf(node, a, b)))
    assert.ok(r.err instanceof IntegrityError, String(r.err))
    assert.equal(r.out.length, 0)
    // An inner node's size in its parent disagrees with what the inner node declares.
    const inner = fileNode([a, b])
    node = fileNode([{cid: inner.cid, size: 31, bytes: inner.bytes}, c])
    r = await drain(node.cid, sourceOf(mapOf(node, inner, a, b, c)))
    assert.ok(r.err instanceof IntegrityError, String(r.err))
    assert.equal(r.out.length, 0)
    // Honest sizes read fine (Tsize is advisory and may be anything).
    node = fileNode([{cid: inner.cid, bytes: inner.bytes, tsize: 1}, c])
    r = await drain(node.cid, sourceOf(mapOf(node, inner, a, b, c)))
    assert.equal(r.err, undefined)
    assert.ok(r.out.equals(Buffer.concat([a.bytes, b.bytes, c.bytes])))
  })

  it('rejects links to blocks that cannot be part of a file', async () => {
    const a = raw(prng(10, 1))
    const cbor = {cid: cidOf(DAG_CBOR_CODE, Uint8Array.of(0xa0)), bytes: Uint8Array.of(0xa0)}
    let node = fileNode([a, {cid: cbor.cid, size: 1}])
    let r = await drain(node.cid, sourceOf(mapOf(node, a, cbor)))
    assert.ok(r.err instanceof IntegrityError, String(r.err))
    // A link hashed with sha2-512: the reader cannot verify it, so it must not trust it.
    const other = {cid: CID.createV1(RAW_CODE, await sha512.digest(a.bytes)), bytes: a.bytes}
    node = fileNode([a, {cid: other.cid, size: 10}])
    r = await drain(node.cid, sourceOf(mapOf(node, a, other)))
    assert.ok(r.err instanceof IntegrityError, String(r.err))
    assert.ok(r.out.length <= 10)
    // Garbage under a dag-pb CID that hashes right.
    const junk = {cid: cidOf(DAG_PB_CODE, Uint8Array.of(0xff, 0xff, 0xff)), bytes: Uint8Array.of(0xff, 0xff, 0xff)}
    r = await drain(junk.cid, sourceOf(mapOf(junk)))
    assert.ok(r.err instanceof IntegrityError, String(r.err))
  })

  it('rejects an oversized block and a DAG deeper than the limit', async () => {
    const big = raw(new Uint8Array(MAX_BLOCK_SIZE + 1))
    let r = await drain(big.cid, sourceOf(mapOf(big)))
    assert.ok(r.err instanceof IntegrityError, String(r.err))
    assert.equal(r.out.length, 0)

    const leaf = raw(prng(3, 9))
    const chain = [leaf]
    for (let i = 0; i < MAX_DAG_DEPTH + 2; i++) chain.push(fileNode([{cid: chain.at(-1)!.cid, size: 3}]))
    r = await drain(chain.at(-1)!.cid, sourceOf(mapOf(...chain)))
    assert.ok(r.err instanceof IntegrityError, String(r.err))
    assert.equal(r.out.length, 0)
    // The same chain within the limit reads.
    const ok = chain[MAX_DAG_DEPTH]
    r = await drain(ok.cid, sourceOf(mapOf(...chain)))
    assert.equal(r.err, undefined)
    assert.ok(r.out.equals(Buffer.from(leaf.bytes)))
  })

  it('refuses a UnixFS directory as an input error', async () => {
    const dir = fileNode([], [], 'directory')
    const r = await drain(dir.cid, sourceOf(mapOf(dir)))
    assert.ok(r.err instanceof InputError, String(r.err))
  })

  it('rejects non-sha2-256 and unsupported-codec roots as InputError without fetching', async () => {
    const bytes = new TextEncoder().encode('hello world')
    const log: string[] = []
    const anything: BlockSource = {get: (cid) => { log.push(cid.toString()); return bytes }}
    const roots = [
      CID.createV1(RAW_CODE, await sha512.digest(bytes)),
      CID.createV1(RAW_CODE, identity.digest(bytes)),
      CID.createV1(0x0129, Digest.create(0x12, cidOf(RAW_CODE, bytes).multihash.digest)), // dag-json
      CID.createV1(0x78, cidOf(RAW_CODE, bytes).multihash), // git-raw
    ]
    for (const root of roots) {
      const r = await drain(root, anything)
      assert.ok(r.err instanceof InputError, `${root}: ${r.err}`)
      assert.equal((r.err as InputError).code, 'BAD_INPUT')
      assert.equal(r.out.length, 0)
    }
    assert.deepEqual(log, [])
  })

  it('rejects at once with a pre-aborted signal, and stops when aborted mid-way', async () => {
    const data = prng(5000)
    const {root, blocks} = await build(data, {chunkSize: 100, maxLinks: 4})
    const log: string[] = []
    const it1 = readFile(root, sourceOf(blocks, log), {signal: AbortSignal.abort()})
    await assert.rejects(it1.next(), {name: 'AbortError'})
    assert.deepEqual(log, [])

    const ctl = new AbortController()
    const it2 = readFile(root, sourceOf(blocks), {signal: ctl.signal})
    const first = await it2.next()
    assert.equal(first.done, false)
    ctl.abort()
    let err: unknown
    try {
      for (;;) if ((await it2.next()).done) break
    } catch (e) {
      err = e
    }
    assert.equal((err as Error)?.name, 'AbortError')
  })
})

// The network block source with pooled block memory (util/block-pool.ts), in
// process against a peer that answers batches as the bulk client does (each
// block in memory from `alloc`): a read writes the exact bytes, stores every
// block, and gives every pool slot back — also when checkpoints store blocks
// before the reader gets to them (they were then read back from disk and
// their slots never returned), and when a peer sends a bad block.
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {CID} from 'multiformats/cid'
import {readFile} from '../../src/lib/content/reader.js'
import {NetworkBlockSource} from '../../src/lib/node/fetcher.js'
import {openStore} from '../../src/lib/store/store.js'
import {writeChunks} from '../../src/lib/util/output.js'
import {dagOf, MiB, prng} from '../content/oracle.js'
import {tmpHome} from '../helpers.js'

const {home: dir, cleanup} = tmpHome('polar-fetcher-pool-')
after(cleanup)

/**
 * A peer holding `blocks`; `corrupt` names blocks it sends damaged (in batches
 * only). `hashed`: each batched block comes with the sha-256 of the bytes that
 * arrived, as the bulk client gives it (net/peer/bulk.ts); else the fetcher hashes.
 */
function fakePeer(blocks: Map<string, Uint8Array>, corrupt = new Set<string>(), hashed = false, wrongDigest = new Set<string>()) {
  const stats = {batches: 0, singles: 0}
  const client = {blocks: {
    async getManyUnverified(cids: CID[], options: {alloc?: (size: number, cid: CID) => Buffer}) {
      stats.batches++
      return cids.map((cid) => {
        const src = blocks.get(cid.toString())!
        const bytes = options.alloc!(src.length, cid)
        bytes.set(src)
        if (corrupt.has(cid.toString())) bytes[0] ^= 1
        // wrongDigest: the right bytes with a digest that does not match them (only the digest can refuse them).
        const sha256 = wrongDigest.has(cid.toString()) ? Buffer.alloc(32) : hashed ? createHash('sha256').update(bytes).digest() : undefined
        return {cid, bytes, sha256}
      })
    },
    async get(cid: CID) {
      stats.singles++
      return blocks.get(cid.toString())!.slice()
    },
  }}
  return {client, stats}
}

const peers = {markFailure() {}, markBadBlock() { return false }}

async function pull(name: string, data: Uint8Array, options: {checkpointMs?: number; corrupt?: (leaves: string[]) => string[]; hashed?: boolean; wrongDigest?: (leaves: string[]) => string[]} = {}) {
  const {root, blocks} = await dagOf(data)
  const leaves = [...blocks.keys()].filter((k) => k !== root.toString())
  const {client, stats} = fakePeer(blocks, new Set(options.corrupt?.(leaves) ?? []), options.hashed, new Set(options.wrongDigest?.(leaves) ?? []))
  const store = openStore(join(dir, name))
  try {
    const writer = store.blocks.writer({checkpointMs: options.checkpointMs ?? 250})
    const logs: string[] = []
    const source = new NetworkBlockSource(store, [{did: 'did:key:zpeer', client: client as any}], writer, peers as any, (m) => logs.push(m), root)
    source.batching = true
    const out = join(dir, `${name}.out`)
    await writeChunks(root.toString(), readFile(root, source, {prefetch: 16}), {output: out})
    await source.finish()
    await writer.close()
    const got = readFileSync(out)
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(data).digest('hex'), 'output bytes')
    for (const k of blocks.keys()) assert.ok(store.blocks.has(CID.parse(k)), `block ${k} kept`)
    return {source, stats, logs}
  } finally {
    store.close()
  }
}

describe('network reads with pooled block memory', () => {
  it('writes the exact bytes, keeps every block and gives every slot back', async () => {
    const {source, stats} = await pull('plain', prng(40 * MiB + 12345, 7))
    assert.ok(stats.batches > 0, 'blocks came in batches')
    assert.ok(source.pool, 'raw leaves used the pool')
    assert.equal(source.pool!.out, 0, 'every pool slot came back')
  })

  it('takes batched blocks from memory even when checkpoints stored them first', async () => {
    // A checkpoint at every put: blocks are indexed long before the reader asks for them.
    const {source, stats} = await pull('early-checkpoints', prng(24 * MiB + 1, 8), {checkpointMs: 0})
    assert.equal(stats.singles, 1, 'only the root was fetched singly')
    assert.equal(source.pool!.out, 0, 'every pool slot came back')
  })

  for (const hashed of [false, true]) {
    it(`a bad block in a batch is fetched again singly, and its slot comes back (${hashed ? 'hashed as it arrived' : 'hashed by the fetcher'})`, async () => {
      const {source, stats, logs} = await pull(`bad-${hashed}`, prng(12 * MiB, 9), {corrupt: (leaves) => [leaves[3]], hashed})
      assert.equal(stats.singles, 2, 'the root and the bad block came singly')
      assert.ok(logs.some((l) => /sent a bad block/.test(l)))
      assert.equal(source.pool!.out, 0, 'every pool slot came back')
    })
  }

  it('blocks hashed as they arrived are judged by that digest, not hashed again', async () => {
    const {source, stats} = await pull('hashed', prng(20 * MiB + 7, 10), {hashed: true})
    assert.ok(stats.batches > 0, 'blocks came in batches')
    assert.equal(stats.singles, 1, 'only the root was fetched singly')
    assert.equal(source.pool!.out, 0, 'every pool slot came back')
    // The right bytes under a digest that does not match: refused, so the digest is what decides.
    const wrong = await pull('wrong-digest', prng(12 * MiB, 11), {hashed: true, wrongDigest: (leaves) => [leaves[2], leaves[7]]})
    assert.equal(wrong.stats.singles, 3, 'the root and the two blocks with a wrong digest came singly')
    assert.equal(wrong.logs.filter((l) => /sent a bad block/.test(l)).length, 2)
  })
})

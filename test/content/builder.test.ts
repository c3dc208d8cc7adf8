import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {buildFile} from '../../src/lib/content/builder.js'
import {CHUNK_SIZE, DAG_PB_CODE, MAX_LINKS, RAW_CODE} from '../../src/lib/content/constants.js'
import {asAsync, blocksOf, discardSink, MiB, oracleCid, prng, splitAt} from './oracle.js'

describe('buildFile against the IPFS importer (unixfs-v1-2025)', () => {
  it('uses the profile constants: 1 MiB leaves, 1024 links', () => {
    assert.equal(CHUNK_SIZE, 1048576)
    assert.equal(MAX_LINKS, 1024)
  })

  it('gives the known CID of "hello world" and of the empty file', async () => {
    const hello = await buildFile(asAsync([new TextEncoder().encode('hello world')]), discardSink())
    assert.equal(hello.cid.toString(), 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e')
    assert.equal(hello.size, 11)
    assert.equal(hello.blocks, 1)
    // The empty raw block: sha2-256 of nothing (e3b0c442...).
    const empty = await buildFile(asAsync([]), discardSink())
    assert.equal(empty.cid.toString(), 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
    assert.equal(empty.size, 0)
  })

  for (const size of [0, 1, 100, MiB - 1, MiB, MiB + 1, 2 * MiB, 2 * MiB + 1, 3 * MiB - 1]) {
    it(`matches the importer block for block at ${size} bytes`, async () => {
      const ours = new Set<string>()
      const sink = discardSink(ours)
      const built = await buildFile(blocksOf(size), sink)
      const theirs = new Set<string>()
      const want = await oracleCid(blocksOf(size), {blocks: theirs})
      assert.equal(built.cid.toString(), want.toString())
      assert.deepEqual([...ours].sort(), [...theirs].sort(), 'the same set of blocks')
      assert.equal(built.size, size)
      assert.equal(built.blocks, sink.count)
      // A one-chunk file (and the empty file) is its own raw leaf; more is a dag-pb root.
      assert.equal(built.cid.code, size <= MiB ? RAW_CODE : DAG_PB_CODE)
      assert.equal(built.cid.version, 1)
      const leaves = Math.max(1, Math.ceil(size / MiB))
      assert.equal(built.blocks, leaves === 1 ? 1 : leaves + 1)
    })
  }

  it('does not depend on how the input is split', async () => {
    const size = 2 * MiB + 3
    const want = (await buildFile(blocksOf(size), discardSink())).cid.toString()
    for (const piece of [1000003, 65536, 4096 + 1, MiB + 1, 3 * MiB]) {
      const got = await buildFile(blocksOf(size, piece), discardSink())
      assert.equal(got.cid.toString(), want, `pieces of ${piece}`)
    }
  })

  it('matches the importer for random sizes, split points and small parameters (deep trees)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({min: 1, max: 48}),
        fc.integer({min: 2, max: 9}),
        fc.integer({min: 0, max: 1500}),
        fc.array(fc.nat(), {maxLength: 10}),
        fc.integer({min: 1, max: 0xffffffff}),
        async (chunkSize, maxLinks, length, cuts, seed) => {
          const data = prng(length, seed)
          const pieces = [...splitAt(data, cuts.map((c) => c % (length + 1)))]
          const ours = new Set<string>()
          const built = await buildFile(asAsync(pieces), discardSink(ours), {chunkSize, maxLinks})
          const theirs = new Set<string>()
          const want = await oracleCid(asAsync(pieces), {chunkSize, maxLinks, blocks: theirs})
          assert.equal(built.cid.toString(), want.toString())
          assert.deepEqual([...ours].sort(), [...theirs].sort())
          assert.equal(built.size, length)
        },
      ),
      {numRuns: 120},
    )
  })

  it('matches the importer on trees many levels deep (tiny chunks, 2-3 links)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({min: 1, max: 3}), fc.integer({min: 2, max: 3}), fc.integer({min: 0, max: 700}), async (chunkSize, maxLinks, length) => {
        const data = prng(length, length + 1)
        const built = await buildFile(asAsync([data]), discardSink(), {chunkSize, maxLinks})
        const want = await oracleCid(asAsync([data]), {chunkSize, maxLinks})
        assert.equal(built.cid.toString(), want.toString())
      }),
      {numRuns: 40},
    )
  })

  it('reports progress up to the file size', async () => {
    const seen: number[] = []
    await buildFile(blocksOf(3 * MiB + 5, 100_000), discardSink(), {onProgress: (e) => seen.push(e.bytes)})
    assert.ok(seen.length >= 4)
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1])
    assert.equal(seen.at(-1), 3 * MiB + 5)
  })

  it('awaits the sink: at most one put in flight', async () => {
    let inFlight = 0
    let max = 0
    let puts = 0
    const sink = {
      async put() {
        inFlight++
        max = Math.max(max, inFlight)
        await new Promise((r) => setTimeout(r, 1))
        inFlight--
        puts++
      },
    }
    const built = await buildFile(asAsync([prng(5000)]), sink, {chunkSize: 100, maxLinks: 4})
    assert.equal(max, 1)
    assert.equal(puts, built.blocks)
  })

  it('passes a failing sink\'s error on', async () => {
    const boom = new Error('disk on fire')
    const sink = {put: () => { throw boom }}
    await assert.rejects(buildFile(blocksOf(10), sink), (err) => err === boom)
  })

  it('rejects with a pre-aborted signal and stops when aborted mid-way', async () => {
    await assert.rejects(buildFile(blocksOf(10), discardSink(), {signal: AbortSignal.abort()}), {name: 'AbortError'})
    const ctl = new AbortController()
    const sink = discardSink()
    await assert.rejects(
      buildFile(blocksOf(8 * MiB), sink, {signal: ctl.signal, onProgress: (e) => { if (e.bytes >= 2 * MiB) ctl.abort() }}),
      {name: 'AbortError'},
    )
    assert.ok(sink.count < 8, `stopped early (${sink.count} blocks put)`)
  })
})

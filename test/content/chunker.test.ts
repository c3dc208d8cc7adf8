import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {fixedSizeChunks} from '../../src/lib/content/chunker.js'
import {asAsync, prng, splitAt} from './oracle.js'

async function collect(pieces: Iterable<Uint8Array>, size: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  // Keep every chunk as handed out: a chunker that reuses its buffer would corrupt earlier ones.
  for await (const c of fixedSizeChunks(asAsync(pieces), size)) out.push(c)
  return out
}

function concat(chunks: Uint8Array[]): Buffer {
  return Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)))
}

describe('fixedSizeChunks', () => {
  it('yields one empty chunk for empty input, however it arrives', async () => {
    for (const pieces of [[], [new Uint8Array(0)], [new Uint8Array(0), new Uint8Array(0)]]) {
      const chunks = await collect(pieces, 4)
      assert.equal(chunks.length, 1)
      assert.equal(chunks[0].length, 0)
    }
  })

  it('cuts exact multiples without a trailing empty chunk', async () => {
    const data = prng(12)
    const chunks = await collect([data], 4)
    assert.deepEqual(chunks.map((c) => c.length), [4, 4, 4])
    assert.deepEqual(concat(chunks), Buffer.from(data))
  })

  it('re-chunks odd splits: every chunk full but the last, bytes unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({min: 1, max: 40}), fc.integer({min: 0, max: 400}), fc.array(fc.nat(), {maxLength: 30}), async (size, length, cuts) => {
        const data = prng(length, length * 31 + size)
        const chunks = await collect(splitAt(data, cuts.map((c) => c % (length + 1))), size)
        assert.deepEqual(concat(chunks), Buffer.from(data))
        assert.equal(chunks.length, Math.max(1, Math.ceil(length / size)))
        for (const c of chunks.slice(0, -1)) assert.equal(c.length, size)
        const last = chunks.at(-1)!
        assert.ok(length === 0 ? last.length === 0 : last.length >= 1 && last.length <= size)
      }),
      {numRuns: 300},
    )
  })

  it('handles pieces larger than a chunk, aligned and not', async () => {
    const data = prng(1000)
    for (const pieces of [[data.slice(0, 3), data.slice(3)], [data.slice(0, 64), data.slice(64, 65), data.slice(65)], [data]]) {
      const chunks = await collect(pieces, 64)
      assert.deepEqual(concat(chunks), Buffer.from(data))
      assert.deepEqual(chunks.map((c) => c.length), [...Array(15).fill(64), 40])
    }
  })

  it('uses the 1 MiB default', async () => {
    const chunks: Uint8Array[] = []
    for await (const c of fixedSizeChunks(asAsync([new Uint8Array(1048576 + 1)]))) chunks.push(c)
    assert.deepEqual(chunks.map((c) => c.length), [1048576, 1])
  })
})

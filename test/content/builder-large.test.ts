// The 1024-link boundary at the real profile parameters: 1 GiB streamed
// through both builders (never buffered whole). About 5 s on 2 cores.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {buildFile} from '../../src/lib/content/builder.js'
import {DAG_PB_CODE} from '../../src/lib/content/constants.js'
import {blocksOf, discardSink, MiB, oracleCid} from './oracle.js'

describe('buildFile at the 1024-link boundary (1 GiB, streamed)', {timeout: 180_000}, () => {
  for (const [size, piece, blocks] of [
    // 1024 leaves under one root.
    [1024 * MiB, MiB, 1025],
    // 1025 leaves: a full 1024-link node, a one-link node over the last leaf, and a root over both.
    [1024 * MiB + 1, MiB + 7, 1028],
  ] as const) {
    it(`${size} bytes in pieces of ${piece}: same root as the importer`, async () => {
      const sink = discardSink()
      const rssBefore = process.memoryUsage().rss
      const built = await buildFile(blocksOf(size, piece), sink)
      const rssGrowth = process.memoryUsage().rss - rssBefore
      const want = await oracleCid(blocksOf(size, piece))
      assert.equal(built.cid.toString(), want.toString())
      assert.equal(built.cid.code, DAG_PB_CODE)
      assert.equal(built.size, size)
      assert.equal(built.blocks, blocks)
      assert.equal(sink.bytes > size, true)
      // Streaming: nowhere near the 1 GiB it went through.
      assert.ok(rssGrowth < 200 * MiB, `rss grew by ${Math.round(rssGrowth / MiB)} MiB`)
    })
  }
})

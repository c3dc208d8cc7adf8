import assert from 'node:assert/strict'
import {fstatSync, truncateSync, unlinkSync} from 'node:fs'
import {after, describe, it} from 'node:test'
import {cidOf} from '../../src/lib/content/cid.js'
import {RAW_CODE} from '../../src/lib/content/constants.js'
import {IntegrityError} from '../../src/lib/errors.js'
import {openStore} from '../../src/lib/store/store.js'
import {tmpHome} from '../helpers.js'
import {prng} from '../content/oracle.js'

const block = (n: number, len: number) => {
  const bytes = prng(len, n + 1)
  return {cid: cidOf(RAW_CODE, bytes), bytes}
}

/** True when `fd` is an open descriptor of this process. */
const isOpen = (fd: number) => {
  try {
    fstatSync(fd)
    return true
  } catch {
    return false
  }
}

// The serving node reads blocks through the thread pool, several at once (issue 15 point 1).
describe('PackReader: reads through the thread pool', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)
  const store = openStore(home)
  after(() => store.close())
  const blocks = Array.from({length: 12}, (_, i) => block(i, 300_000 + i * 1000))

  it('reads many blocks at once, each into its own place, with the bytes a synchronous read gives', async () => {
    const w = store.blocks.writer()
    for (const b of blocks) await w.put(b.cid, b.bytes)
    await w.close()
    const got = await Promise.all(blocks.map(async (b) => {
      const loc = store.blocks.locate(b.cid)!
      const buf = Buffer.alloc(loc.length + 7)
      await store.blocks.readIntoAsync(loc, buf, 7)
      return buf.subarray(7)
    }))
    for (let i = 0; i < blocks.length; i++) assert.deepEqual(new Uint8Array(got[i]), blocks[i].bytes)
    for (const b of blocks) assert.deepEqual(new Uint8Array(await store.blocks.getAsync(b.cid)), b.bytes)
  })

  it('keeps a forgotten pack\'s descriptor open until the reads in flight on it are done', async () => {
    const loc = store.blocks.locate(blocks[0].cid)!
    const reads = blocks.map((b) => {
      const l = store.blocks.locate(b.cid)!
      const buf = Buffer.alloc(l.length)
      return store.blocks.readIntoAsync(l, buf, 0).then(() => buf)
    })
    // The descriptor the reads use: the one the reader has cached for this pack.
    const fd = (store.blocks.packs as any).fds.get(loc.pack) as number
    store.blocks.forgetPack(loc.pack) // as compaction does, while the reads are queued
    assert.ok(isOpen(fd), 'closed under reads in flight: its number could be reused by another file')
    const got = await Promise.all(reads)
    for (let i = 0; i < blocks.length; i++) assert.deepEqual(new Uint8Array(got[i]), blocks[i].bytes)
    assert.ok(!isOpen(fd), 'left open after the last read')
    // The pack is opened again on the next read.
    assert.deepEqual(new Uint8Array(await store.blocks.getAsync(blocks[1].cid)), blocks[1].bytes)
  })

  it('reports a truncated pack and a missing one as integrity errors, as the synchronous path does', async () => {
    const loc = store.blocks.locate(blocks[11].cid)!
    store.blocks.forgetPack(loc.pack)
    truncateSync(store.blocks.packPath(loc.pack), loc.offset + 10)
    await assert.rejects(store.blocks.getAsync(blocks[11].cid), (e: unknown) => e instanceof IntegrityError && /shorter than its index says/.test(e.message))
    store.blocks.forgetPack(loc.pack)
    unlinkSync(store.blocks.packPath(loc.pack))
    await assert.rejects(store.blocks.getAsync(blocks[0].cid), (e: unknown) => e instanceof IntegrityError && (e as IntegrityError).code === 'PACK_MISSING')
  })
})

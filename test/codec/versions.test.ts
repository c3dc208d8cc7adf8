import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {CID} from 'multiformats/cid'
import {cidOf} from '../../src/lib/content/cid.js'
import {RAW_CODE} from '../../src/lib/content/constants.js'
import {decodeFileNode} from '../../src/lib/content/dag-node.js'
import {MAX_DELTA_DEPTH} from '../../src/lib/codec/index.js'
import {KeyStore} from '../../src/lib/identity/index.js'
import {pullObject, pushObject} from '../../src/lib/objects/index.js'
import {openStore, type Store} from '../../src/lib/store/store.js'
import {tmpHome} from '../helpers.js'
import {Writable} from 'node:stream'

const MiB = 1024 * 1024

/** A new version: `runs` scattered overwrites of 100 bytes and one small insertion. */
function mutate(prev: Buffer, runs = 20, seed = 1): Buffer {
  const next = Buffer.from(prev)
  for (let i = 0; i < runs; i++) randomBytes(100).copy(next, Math.floor(((i * 7919 + seed * 104729) % 1000) / 1000 * (next.length - 100)))
  const at = Math.floor(next.length / 3) + seed
  return Buffer.concat([next.subarray(0, at), Buffer.from(`insert ${seed}`), next.subarray(at)])
}

async function pullBytes(store: Store, cid: string): Promise<Buffer> {
  const parts: Buffer[] = []
  await pullObject(store, {cid, stdout: new Writable({write(c, _e, cb) { parts.push(c); cb() }})})
  return Buffer.concat(parts)
}

describe('versions: push with a base, pull exact', () => {
  const cleanups: Array<() => void> = []
  after(() => { for (const c of cleanups) c() })

  it('stores later versions as deltas, pulls every version back exact, prunes deep chains and guards bases', async () => {
    const {home, cleanup} = tmpHome('polar-versions-')
    cleanups.push(cleanup)
    const store = openStore(home)
    const identity = new KeyStore(home).loadOrCreate('default')
    try {
      const versions: Buffer[] = [randomBytes(3 * MiB + 12345)]
      for (let i = 1; i < 4; i++) versions.push(mutate(versions[i - 1], 20, i))
      const cids: string[] = []
      const file = join(home, 'data.bin')
      for (const v of versions) {
        writeFileSync(file, v)
        const r = await pushObject(store, identity, {file, name: 'data.bin'})
        cids.push(r.cid)
        if (cids.length > 1) {
          assert.equal(r.base, cids[cids.length - 2], 'the previous version is the automatic base')
          assert.ok(r.encoding!.delta >= 3, `leaves as deltas: ${JSON.stringify(r.encoding)}`)
          assert.ok(r.encoding!.storedBytes < v.length * 0.05, `stored ${r.encoding!.storedBytes} of ${v.length}`)
        }
      }
      for (let i = 0; i < versions.length; i++) assert.ok((await pullBytes(store, cids[i])).equals(versions[i]), `version ${i} pulls exact`)
      const counts = store.blocks.codecs.counts()
      assert.ok((counts['delta'] ?? counts['delta+gzip']) !== undefined)
      // An explicit --base; and --base of something not here is "not found".
      writeFileSync(file, mutate(versions[0], 5, 99))
      const r = await pushObject(store, identity, {file, name: 'other', base: cids[0]})
      assert.equal(r.base, cids[0])
      assert.ok(r.encoding!.delta > 0)
      await assert.rejects(pushObject(store, identity, {file, name: 'x', base: cidOf(RAW_CODE, Buffer.from('nope')).toString()}), (e: Error) => e.name === 'NotFoundError')

      // Deleting a base: dependents are found, rewritten whole, and stay readable.
      const leaf0 = BaseLeaf(store, cids[0])
      const deps = store.blocks.codecs.dependentsOf(leaf0)
      assert.ok(deps.length > 0)
      assert.throws(() => store.blocks.codecs.assertDeletable([leaf0]), (e: Error) => (e as any).code === 'BASE_IN_USE')
      const rewritten = await store.blocks.codecs.rewriteDependents([leaf0])
      assert.equal(rewritten.length, deps.length)
      assert.deepEqual(store.blocks.codecs.dependentsOf(leaf0), [])
      store.blocks.codecs.assertDeletable([leaf0])
      store.db.prepare('DELETE FROM blocks WHERE cid = ?').run(leaf0.bytes)
      store.blocks.codecs.clearCache()
      for (let i = 1; i < versions.length; i++) assert.ok((await pullBytes(store, cids[i])).equals(versions[i]), `version ${i} still pulls after its base went`)
    } finally {
      store.close()
    }
  })

  it('deleteBlocks keeps a base while a kept block is a delta of it, and frees it with its dependents', async () => {
    const {home, cleanup} = tmpHome('polar-versions-')
    cleanups.push(cleanup)
    const store = openStore(home)
    const identity = new KeyStore(home).loadOrCreate('default')
    try {
      const v1 = randomBytes(2 * MiB + 100)
      const v2 = mutate(v1, 10, 5)
      const file = join(home, 'f')
      writeFileSync(file, v1)
      const c1 = (await pushObject(store, identity, {file, name: 'f'})).cid
      writeFileSync(file, v2)
      const c2 = (await pushObject(store, identity, {file, name: 'f'})).cid
      const leaves = (root: string) => decodeFileNode(CID.parse(root), store.blocks.get(CID.parse(root))).links
      const l1 = leaves(c1)
      const l2 = leaves(c2)
      // Erasing v1 alone: the leaves v2 is built on stay, everything else of v1 goes.
      const r = store.blocks.deleteBlocks([CID.parse(c1), ...l1])
      assert.ok(r.kept.length > 0 && r.kept.every((k) => l1.some((l) => l.equals(k))), `kept ${r.kept.length}`)
      assert.equal(r.deleted, 1 + l1.length - r.kept.length)
      store.blocks.codecs.clearCache()
      assert.ok((await pullBytes(store, c2)).equals(v2), 'v2 still pulls exact')
      // Erasing v2 as well frees the bases it held.
      const r2 = store.blocks.deleteBlocks([CID.parse(c2), ...l2, ...r.kept])
      assert.deepEqual(r2.kept, [])
      assert.equal(store.db.prepare('SELECT count(*) FROM block_bases').pluck().get(), 0)
    } finally {
      store.close()
    }
  })

  it('stores a block whole once its chain would pass the depth limit', async () => {
    const {home, cleanup} = tmpHome('polar-versions-')
    cleanups.push(cleanup)
    const store = openStore(home)
    const identity = new KeyStore(home).loadOrCreate('default')
    try {
      let v = randomBytes(200_000)
      const file = join(home, 'f')
      let maxDepth = 0
      const cids: Array<[string, Buffer]> = []
      for (let i = 0; i < MAX_DELTA_DEPTH + 3; i++) {
        writeFileSync(file, v)
        const r = await pushObject(store, identity, {file, name: 'f'})
        const d = store.blocks.codecs.depthOf(CID.parse(r.cid))!
        assert.ok(d <= MAX_DELTA_DEPTH)
        maxDepth = Math.max(maxDepth, d)
        cids.push([r.cid, v])
        v = mutate(v, 3, i + 1)
      }
      assert.equal(maxDepth, MAX_DELTA_DEPTH)
      for (const [cid, bytes] of cids) assert.ok((await pullBytes(store, cid)).equals(bytes))
    } finally {
      store.close()
    }
  })
})

function BaseLeaf(store: Store, root: string): CID {
  return decodeFileNode(CID.parse(root), store.blocks.get(CID.parse(root))).links[0]
}

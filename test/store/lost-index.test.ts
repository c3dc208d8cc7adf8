// Issue 20, points 2 and 10: a lost, emptied or replaced polar.db, and a pack
// file that disappeared. No writer may truncate, refill or unlink a pack file
// the index does not describe; `polar repair` reads packs back from their
// manifests (hashing every block) and drops what is gone.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {appendFileSync, copyFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {CID} from 'multiformats/cid'
import {generateSecretKey, identityFromSecret} from '../../src/lib/identity/index.js'
import {pushObject} from '../../src/lib/objects/index.js'
import {compactPacks} from '../../src/lib/store/compact.js'
import {repairStore} from '../../src/lib/store/repair.js'
import {openStore, type Store} from '../../src/lib/store/store.js'
import {IntegrityError} from '../../src/lib/errors.js'
import {json, runPolar, tmpHome} from '../helpers.js'

const MiB = 1024 * 1024
const alice = identityFromSecret('alice', generateSecretKey())

/** Every pack file of a home with its size and a digest of its bytes. */
function packFiles(home: string): Record<string, string> {
  const dir = join(home, 'blocks')
  const out: Record<string, string> = {}
  for (const f of readdirSync(dir).sort()) out[f] = `${statSync(join(dir, f)).size}:${readFileSync(join(dir, f)).subarray(0, 1 << 16).toString('base64').slice(0, 40)}`
  return out
}

/** Every block of the store hashes to its CID (get verifies). */
function allVerify(store: Store): number {
  const cids = store.db.prepare('SELECT cid FROM blocks').pluck().all() as Uint8Array[]
  for (const c of cids) store.blocks.get(CID.decode(c))
  return cids.length
}

describe('a lost or emptied polar.db', () => {
  const homes: Array<() => void> = []
  after(() => homes.forEach((c) => c()))
  const home = () => {
    const h = tmpHome('polar-lost-')
    homes.push(h.cleanup)
    return h.home
  }

  for (const how of ['emptied', 'deleted'] as const) {
    it(`${how}: the next push touches no pack (exit 4, UNKNOWN_PACKS); repair indexes every block again and the object pulls`, async () => {
      const h = home()
      const data = randomBytes(5 * MiB + 123)
      const file = join(h, 'a.bin')
      writeFileSync(file, data)
      const first = await runPolar(['push', file, '--json'], {home: h})
      assert.equal(first.code, 0, first.stderr)
      const {cid} = json(first)
      const before = packFiles(h)
      if (how === 'emptied') writeFileSync(join(h, 'polar.db'), '')
      else for (const f of ['polar.db', 'polar.db-wal', 'polar.db-shm']) rmSync(join(h, f), {force: true})

      const other = join(h, 'b.bin')
      writeFileSync(other, randomBytes(3 * MiB))
      const push = await runPolar(['push', other, '--json'], {home: h})
      assert.equal(push.code, 4, push.stderr)
      assert.equal(json(push).error.code, 'UNKNOWN_PACKS')
      assert.match(json(push).error.message, /polar repair/)
      assert.deepEqual(packFiles(h), before, 'no pack byte changed')
      // Reads say why the object is not there.
      const lost = await runPolar(['pull', cid], {home: h})
      assert.equal(lost.code, 3)
      assert.match(lost.stderr, /not in the index.*polar repair/)

      const dry = await runPolar(['repair', '--dry-run', '--json'], {home: h})
      assert.equal(dry.code, 0, dry.stderr)
      assert.equal(json(dry).recovered, 7, '6 leaves and the root would be indexed')
      assert.equal((await runPolar(['push', other], {home: h})).code, 4, 'a dry run changes nothing')

      const repair = await runPolar(['repair', '--json'], {home: h})
      assert.equal(repair.code, 0, repair.stderr)
      const report = json(repair)
      assert.equal(report.recovered, 7)
      assert.equal(report.unrecoverable, 0)
      assert.deepEqual(report.recoveredPacks, [1])
      assert.deepEqual(report.unreferenced, [cid], 'the object is back as blocks, without its record')
      const pull = await runPolar(['pull', cid], {home: h})
      assert.equal(pull.code, 0, pull.stderr)
      assert.ok(pull.stdout.equals(data))
      assert.deepEqual(packFiles(h), before, 'repair read the pack; it did not change it')
      const again = await runPolar(['push', other, '--json'], {home: h})
      assert.equal(again.code, 0, again.stderr)
      assert.ok((await runPolar(['pull', cid], {home: h})).stdout.equals(data), 'the new push left the old pack whole')
    })
  }

  it('repair reads back many packs and checkpoints, gzip and delta blocks included, and every block verifies', async () => {
    const h = home()
    let store = openStore(h)
    const objects: Array<{cid: string; data: Buffer}> = []
    try {
      // Small packs and checkpoints: many frames, several packs, blocks put across pack moves.
      const make = store.blocks.writer.bind(store.blocks)
      store.blocks.writer = (o) => make({...o, checkpointBytes: 3 * MiB, maxPackBytes: 5 * MiB})
      const text = Buffer.from('polar '.repeat(700_000)) // compressible: gzip leaves
      const random = randomBytes(9 * MiB + 7)
      const edited = Buffer.concat([random.subarray(0, 4 * MiB), Buffer.from('an edit'), random.subarray(4 * MiB)]) // a new version: delta leaves
      for (const [name, data] of [['t.txt', text], ['r.bin', random], ['r.bin', edited]] as const) {
        writeFileSync(join(h, 'in'), data)
        const r = await pushObject(store, alice, {file: join(h, 'in'), name})
        objects.push({cid: r.cid, data})
      }
      const codecs = store.blocks.codecs.counts()
      assert.ok(codecs.gzip && codecs.delta, `gzip and delta blocks are stored (${JSON.stringify(codecs)})`)
      const blocks = store.blocks.stats().blocks
      assert.ok(store.blocks.stats().packs >= 2, `${store.blocks.stats().packs} packs`)
      store.close()
      for (const f of ['polar.db', 'polar.db-wal', 'polar.db-shm']) rmSync(join(h, f), {force: true})
      store = openStore(h)
      const report = repairStore(store)
      assert.equal(report.recovered, blocks, 'every block indexed again')
      assert.equal(report.unrecoverable, 0)
      assert.equal(allVerify(store), blocks)
      assert.deepEqual(store.blocks.codecs.counts(), codecs, 'with the same encodings')
      for (const o of objects) {
        const out = join(h, 'out')
        const {pullObject} = await import('../../src/lib/objects/index.js')
        await pullObject(store, {cid: o.cid, output: out})
        assert.ok(readFileSync(out).equals(o.data))
      }
      // New writes go to new pack files; the recovered ones stay as they are.
      writeFileSync(join(h, 'in'), randomBytes(2 * MiB))
      await pushObject(store, alice, {file: join(h, 'in'), name: 'new'})
      assert.equal(allVerify(store), blocks + 3)
    } finally {
      store.close()
    }
  })

  it('bytes past the last manifest (a crashed writer\'s) are not indexed; a pack with no manifest is moved aside, never deleted', async () => {
    const h = home()
    const store = openStore(h)
    try {
      writeFileSync(join(h, 'in'), randomBytes(2 * MiB + 1))
      const r = await pushObject(store, alice, {file: join(h, 'in')})
      const pack = store.blocks.packPath(1)
      const size = statSync(pack).size
      appendFileSync(pack, randomBytes(5000)) // crash garbage
      writeFileSync(join(h, 'blocks', 'pack-000007'), randomBytes(100_000)) // an unknown pack with no manifest
      store.db.prepare('DELETE FROM blocks').run()
      store.db.prepare('DELETE FROM packs').run()
      store.db.prepare('DELETE FROM retired_packs').run() // as a lost database would have it
      const report = repairStore(store)
      assert.equal(report.recovered, 4, 'three leaves and the root')
      assert.deepEqual(report.recoveredPacks, [1])
      assert.equal(store.db.prepare('SELECT size FROM packs WHERE id = 1').pluck().get(), size, 'the committed size ends at the last manifest')
      assert.equal(report.movedAside.length, 1)
      assert.ok(existsSync(report.movedAside[0]) && statSync(report.movedAside[0]).size === 100_000, 'in lost+found, whole')
      assert.ok(report.movedAside[0].startsWith(join(h, 'lost+found')))
      assert.equal(existsSync(join(h, 'blocks', 'pack-000007')), false)
      assert.equal(store.blocks.has(CID.parse(r.cid)), true)
    } finally {
      store.close()
    }
  })

  it('compaction never takes a pack file the index does not know for an orphan', async () => {
    const h = home()
    const store = openStore(h)
    try {
      writeFileSync(join(h, 'in'), randomBytes(2 * MiB))
      await pushObject(store, alice, {file: join(h, 'in')})
      // A pack of this home that an older copy of polar.db does not know.
      copyFileSync(store.blocks.packPath(1), store.blocks.packPath(2))
      const size = statSync(store.blocks.packPath(2)).size
      assert.deepEqual(await compactPacks(store.blocks, {minDeadBytes: 1, deadRatio: 0.01}), {packs: 0, reclaimed: 0, deferred: 0})
      assert.equal(statSync(store.blocks.packPath(2)).size, size, 'left whole')
      // Nor does a writer reuse its id.
      const w = store.blocks.writer()
      await assert.rejects(w.put(CID.parse('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'), Buffer.from('x')), (e: unknown) => e instanceof IntegrityError && e.code === 'UNKNOWN_PACKS')
      await w.abort()
      assert.equal(statSync(store.blocks.packPath(2)).size, size)
    } finally {
      store.close()
    }
  })

  it('a pack longer than its committed size with no writer\'s lease over the tail is not truncated', async () => {
    const h = home()
    const store = openStore(h)
    try {
      writeFileSync(join(h, 'in'), randomBytes(MiB + 1))
      await pushObject(store, alice, {file: join(h, 'in'), name: 'one'})
      // An index restored from an older copy: the pack holds more than its row says, and no lease covers it.
      const extra = randomBytes(70_000)
      appendFileSync(store.blocks.packPath(1), extra)
      const size = statSync(store.blocks.packPath(1)).size
      writeFileSync(join(h, 'in'), randomBytes(MiB + 2))
      await pushObject(store, alice, {file: join(h, 'in'), name: 'two'})
      assert.equal(statSync(store.blocks.packPath(1)).size, size, 'pack 1 left as it was')
      assert.ok(existsSync(store.blocks.packPath(2)), 'the push went to a new pack')
    } finally {
      store.close()
    }
  })
})

describe('a pack file that disappeared', () => {
  const {home, cleanup} = tmpHome('polar-gone-')
  after(cleanup)

  it('pull exits 4 (PACK_MISSING); a push never re-creates the pack; repair drops its blocks and names the object', async () => {
    const data = randomBytes(3 * MiB + 3)
    writeFileSync(join(home, 'a.bin'), data)
    const first = await runPolar(['push', join(home, 'a.bin'), '--json'], {home})
    assert.equal(first.code, 0, first.stderr)
    const {cid} = json(first)
    rmSync(join(home, 'blocks', 'pack-000001'))

    for (const args of [['pull', cid], ['pull', cid, '-o', join(home, 'out'), '--json']]) {
      const r = await runPolar(args, {home})
      assert.equal(r.code, 4, r.stderr)
      assert.match(r.stderr + r.stdout.toString(), /pack-000001 is missing/)
    }
    assert.equal(json(await runPolar(['pull', cid, '-o', join(home, 'out'), '--json'], {home})).error.code, 'PACK_MISSING')

    writeFileSync(join(home, 'b.bin'), randomBytes(2 * MiB))
    const push = await runPolar(['push', join(home, 'b.bin'), '--json'], {home})
    assert.equal(push.code, 0, push.stderr)
    assert.equal(existsSync(join(home, 'blocks', 'pack-000001')), false, 'not re-created (as zeros)')

    const repair = await runPolar(['repair', '--json'], {home})
    assert.equal(repair.code, 0, repair.stderr)
    const report = json(repair)
    assert.deepEqual(report.missingPacks, [1])
    assert.equal(report.lost.length, 5, 'four leaves and the root')
    assert.deepEqual(report.incomplete, [cid])
    const pull = await runPolar(['pull', cid], {home})
    assert.equal(pull.code, 3, 'now simply not here')
    // Pushing the file again brings it back.
    assert.equal((await runPolar(['push', join(home, 'a.bin')], {home})).code, 0)
    assert.ok((await runPolar(['pull', cid], {home})).stdout.equals(data))
  })

  it('a writer never extends a cut-short pack with zeros', async () => {
    const h = tmpHome('polar-short-')
    const store = openStore(h.home)
    try {
      writeFileSync(join(h.home, 'in'), randomBytes(2 * MiB))
      await pushObject(store, alice, {file: join(h.home, 'in'), name: 'one'})
      truncateSync(store.blocks.packPath(1), 1000)
      writeFileSync(join(h.home, 'in'), randomBytes(MiB))
      await pushObject(store, alice, {file: join(h.home, 'in'), name: 'two'})
      assert.equal(statSync(store.blocks.packPath(1)).size, 1000, 'left as it is, for repair')
    } finally {
      store.close()
      h.cleanup()
    }
  })
})

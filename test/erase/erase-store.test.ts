// Erase on one store (no node): mark and sweep keeps what other objects need,
// only the owner can erase, replays change nothing, and a sweep cut short is
// finished later. Plus `polar erase` with no node running (embedded store).
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import {CID} from 'multiformats/cid'
import {eraseLocal, Erasures, signErasures} from '../../src/lib/erase/index.js'
import {NotAllowedError, NotFoundError} from '../../src/lib/errors.js'
import {generateSecretKey, identityFromSecret} from '../../src/lib/identity/index.js'
import {pushObject} from '../../src/lib/objects/index.js'
import {signObjectRecord} from '../../src/lib/records/index.js'
import {signEraseRecord, verifyErase} from '../../src/lib/records/erase-record.js'
import {openStore, type Store} from '../../src/lib/store/store.js'
import {json, runPolar, tmpHome} from '../helpers.js'

const MiB = 1024 * 1024
const alice = identityFromSecret('alice', generateSecretKey())
const bob = identityFromSecret('bob', generateSecretKey())

function leaves(store: Store, root: string): CID[] {
  return dagPb.decode(store.blocks.get(CID.parse(root))).Links.map((l) => l.Hash)
}

describe('erase on one store', () => {
  const {home, cleanup} = tmpHome('polar-erase-')
  let store: Store
  const shared = randomBytes(MiB)
  before(() => {
    store = openStore(home)
  })
  after(() => {
    store.close()
    cleanup()
  })

  async function push(name: string, bytes: Uint8Array, who = alice) {
    const file = join(home, name)
    writeFileSync(file, bytes)
    return pushObject(store, who, {file})
  }

  it('deletes the record and the blocks only it needed; a block another object shares stays', async () => {
    const x = await push('x', Buffer.concat([shared, randomBytes(MiB + 5)]))
    const y = await push('y', Buffer.concat([shared, randomBytes(100)]))
    const xl = leaves(store, x.cid)
    assert.equal(xl.length, 3)
    const before = store.blocks.stats().blocks
    const r = eraseLocal(store, alice, x.cid)
    assert.deepEqual(r.records, [x.record])
    assert.equal(r.blocks, 3, 'root and the two unshared leaves')
    assert.equal(store.blocks.stats().blocks, before - 3)
    assert.equal(store.blocks.has(CID.parse(x.cid)), false)
    assert.equal(store.blocks.has(xl[0]), true, 'the shared leaf')
    assert.equal(store.blocks.has(xl[1]), false)
    assert.equal(store.records.objectsByRoot(x.cid).length, 0)
    assert.equal(store.records.objectsByRoot(y.cid).length, 1)
    for (const l of leaves(store, y.cid)) assert.ok(store.blocks.has(l))
    // Erased: exit 3 with code ERASED, by root and by record CID.
    assert.throws(() => eraseLocal(store, alice, x.cid), (e) => e instanceof NotFoundError && e.code === 'ERASED')
    assert.throws(() => eraseLocal(store, alice, x.record), (e) => e instanceof NotFoundError && e.code === 'ERASED')
    assert.ok(new Erasures(store).isErased(x.record))
    assert.ok(new Erasures(store).rootIsErased(x.cid))
  })

  it('the same content held by another owner keeps every block', async () => {
    const data = randomBytes(2 * MiB)
    const a = await push('a', data, alice)
    const b = await push('b', data, bob)
    assert.equal(a.cid, b.cid)
    const r = eraseLocal(store, alice, a.record)
    assert.equal(r.blocks, 0)
    assert.ok(store.blocks.has(CID.parse(a.cid)))
    assert.equal(store.records.objectsByRoot(a.cid).length, 1)
    assert.equal(new Erasures(store).rootIsErased(a.cid), false, "bob's object is still live")
  })

  it("refuses someone else's object (exit 6) and unknown CIDs (exit 3), deleting nothing", async () => {
    const z = await push('z', randomBytes(3000), alice)
    const blocks = store.blocks.stats().blocks
    assert.throws(() => eraseLocal(store, bob, z.cid), (e) => e instanceof NotAllowedError && e.code === 'NOT_OWNER')
    assert.throws(() => eraseLocal(store, bob, z.record), (e) => e instanceof NotAllowedError)
    assert.throws(() => eraseLocal(store, alice, 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'), NotFoundError)
    assert.equal(store.blocks.stats().blocks, blocks)
    assert.equal(store.records.objectsByRoot(z.cid).length, 1)
  })

  it('a replay changes nothing; a sweep cut short is finished by finishPending', async () => {
    const w = await push('w', randomBytes(MiB + 1), alice)
    const erasures = new Erasures(store)
    const [v] = signErasures(erasures.recordsFor(w.cid), alice)
    // As if the process died after the tombstone transaction and before the sweep.
    store.db.transaction(() => {
      store.db.prepare(`INSERT INTO erasures (cid, target, root, owner, time, bytes, record, received, sweep) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'record')`)
        .run(v.erase.cid.toString(), w.record, w.cid, alice.did, v.erase.record.time, v.erase.bytes, v.object.bytes, Date.now())
      store.db.prepare('DELETE FROM records WHERE cid = ?').run(w.record)
    }).immediate()
    assert.ok(store.blocks.has(CID.parse(w.cid)))
    assert.equal(erasures.finishPending(), 3)
    assert.equal(store.blocks.has(CID.parse(w.cid)), false)
    assert.equal(erasures.finishPending(), 0, 'nothing left owed')
    const again = erasures.apply(v)
    assert.deepEqual(again, {applied: false, records: 0, blocks: 0, bytes: 0, cacheUndecided: false})
    assert.equal(erasures.page(0).filter((e) => Buffer.from(e.erase).equals(Buffer.from(v.erase.bytes))).length, 1, 'one tombstone')
  })

  it("a stranger's erase of a record not held here takes nothing from a pulled copy until the network has answered", async () => {
    // A pulled copy: the blocks of someone else's object, no record here (as a pull through a node leaves them).
    const carol = identityFromSecret('carol', generateSecretKey())
    const y = await push('pulled-y', Buffer.concat([shared, randomBytes(MiB + 3)]), carol)
    store.db.prepare('DELETE FROM records WHERE cid = ?').run(y.record)
    const erasures = new Erasures(store)
    erasures.notePulled(CID.parse(y.cid))
    const yl = leaves(store, y.cid)
    const held = () => [CID.parse(y.cid), ...yl].map((c) => store.blocks.has(c))
    const strangerErase = (root: CID) => {
      const made = signObjectRecord({root, size: 1, name: 'mine', mime: 'application/octet-stream', tags: [], time: Date.now()}, bob)
      return verifyErase(signEraseRecord(made, bob).bytes, made.bytes)
    }
    // Its root: nothing goes yet, the decision waits for the network.
    const r = erasures.apply(strangerErase(CID.parse(y.cid)))
    assert.deepEqual({blocks: r.blocks, open: r.cacheUndecided}, {blocks: 0, open: true})
    assert.deepEqual(erasures.undecidedCaches().map(String), [y.cid])
    assert.equal(erasures.finishPending(), 0, 'an open decision is not swept at open')
    assert.deepEqual(held(), [true, true, true, true])
    // One of its leaves, named as a root: nothing at all, nothing open.
    const leaf = erasures.apply(strangerErase(yl[1]))
    assert.deepEqual({blocks: leaf.blocks, open: leaf.cacheUndecided}, {blocks: 0, open: false})
    assert.deepEqual(held(), [true, true, true, true])
    // The network knows a live record of it: the copy stays, and the decision is closed.
    assert.deepEqual(erasures.decideCache(CID.parse(y.cid), true), {blocks: 0, bytes: 0})
    assert.deepEqual(erasures.undecidedCaches(), [])
    assert.deepEqual(held(), [true, true, true, true])
    assert.ok(erasures.isPulled(y.cid))
    assert.ok(erasures.keptCopy(CID.parse(y.cid)), 'a kept copy is served without asking again')
    // Later no live record is known (say, its owner erased theirs): the copy goes, except its
    // first leaf (`shared`), which alice's live object y also has.
    const again = erasures.apply(strangerErase(CID.parse(y.cid)))
    assert.equal(again.cacheUndecided, true)
    assert.equal(erasures.keptCopy(CID.parse(y.cid)), false, 'open again: a pull asks the peers')
    const swept = erasures.decideCache(CID.parse(y.cid), false)
    assert.equal(swept.blocks, 3, 'the root and the two unshared leaves')
    assert.deepEqual(held(), [false, true, false, false])
    assert.equal(erasures.isPulled(y.cid), false)
  })

  it('deleteBlocks keeps a block neededAsBases names', async () => {
    const k = await push('k', randomBytes(500), alice)
    const cid = CID.parse(k.cid)
    const orig = store.blocks.neededAsBases
    store.blocks.neededAsBases = () => new Set([cid.toString()])
    try {
      const r = store.blocks.deleteBlocks([cid])
      assert.equal(r.deleted, 0)
      assert.deepEqual(r.kept.map(String), [k.cid])
      assert.ok(store.blocks.has(cid))
    } finally {
      store.blocks.neededAsBases = orig
    }
    assert.equal(store.blocks.deleteBlocks([cid]).deleted, 1)
  })
})

describe('polar erase with no node running', () => {
  const {home, cleanup} = tmpHome('polar-erase-cli-')
  after(cleanup)

  it('erases its own object, exit 3 for unknown or erased, 6 for a stranger, 2 for a malformed CID', async () => {
    const file = join(home, 'f.txt')
    writeFileSync(file, 'hello erase\n')
    const p = await runPolar(['push', file, '--json'], {home})
    assert.equal(p.code, 0, p.stderr)
    const {cid} = json(p)
    assert.equal((await runPolar(['keygen', '--name', 'other', '--json'], {home})).code, 0)
    const s = await runPolar(['erase', cid, '--key', 'other', '--json'], {home})
    assert.equal(s.code, 6, s.stderr + s.stdout)
    const bad = await runPolar(['erase', 'not-a-cid', '--json'], {home})
    assert.equal(bad.code, 2, bad.stderr + bad.stdout)
    const r = await runPolar(['erase', cid, '--json'], {home})
    assert.equal(r.code, 0, r.stderr + r.stdout)
    assert.equal(json(r).erased, true)
    assert.equal(json(r).cid, cid)
    const pull = await runPolar(['pull', cid], {home})
    assert.equal(pull.code, 3, pull.stderr)
    const again = await runPolar(['erase', cid], {home})
    assert.equal(again.code, 3)
    assert.match(again.stderr, /already erased/)
  })
})

import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {cidOf} from '../../src/lib/content/cid.js'
import {RAW_CODE} from '../../src/lib/content/constants.js'
import {IntegrityError} from '../../src/lib/errors.js'
import {identityFromSecret} from '../../src/lib/identity/keys.js'
import {decodeObjectRecord, signObjectRecord} from '../../src/lib/records/object-record.js'
import {openStore} from '../../src/lib/store/store.js'
import {tmpHome} from '../helpers.js'

describe('RecordStore', () => {
  const {home, cleanup} = tmpHome()
  const store = openStore(home)
  after(() => {
    store.close()
    cleanup()
  })
  const alice = identityFromSecret('alice', new Uint8Array(32).fill(7))
  const root = cidOf(RAW_CODE, new TextEncoder().encode('x'))
  const count = () => (store.db.prepare('SELECT count(*) FROM records').pluck().get() as number)

  it('stores a verified record, indexes it by root with its tags, and keeps its exact bytes', () => {
    const s = signObjectRecord({root, size: 1, name: 'x.txt', mime: 'text/plain', tags: ['b', 'a'], time: 1000}, alice)
    const got = store.records.putObject(s.bytes)
    assert.equal(got.cid.toString(), s.cid.toString())
    const rows = store.records.objectsByRoot(root.toString())
    assert.equal(rows.length, 1)
    assert.deepEqual(rows[0], {cid: s.cid.toString(), root: root.toString(), owner: alice.did, name: 'x.txt', mime: 'text/plain', size: 1, time: 1000, tags: ['a', 'b']})
    assert.ok(Buffer.from(store.records.bytesOf(s.cid.toString())!).equals(Buffer.from(s.bytes)))
    assert.equal(decodeObjectRecord(store.records.bytesOf(s.cid.toString())!).record.owner, alice.did)
  })

  it('is idempotent, and lists newer records first', () => {
    const s1 = signObjectRecord({root, size: 1, name: 'x.txt', mime: 'text/plain', tags: ['b', 'a'], time: 1000}, alice)
    const before = count()
    store.records.putObject(s1.bytes)
    assert.equal(count(), before)
    const s2 = signObjectRecord({root, size: 1, name: 'y.txt', mime: 'text/plain', tags: [], time: 2000}, alice)
    store.records.putObject(s2.bytes)
    const rows = store.records.objectsByRoot(root.toString())
    assert.deepEqual(rows.map((r) => r.name), ['y.txt', 'x.txt'])
    assert.deepEqual(rows[0].tags, [])
  })

  it('never stores a record that does not verify', () => {
    const s = signObjectRecord({root, size: 1, name: 'z', mime: 'text/plain', tags: [], time: 3000}, alice)
    const bad = s.bytes.slice()
    bad[bad.length - 1] ^= 1
    const before = count()
    assert.throws(() => store.records.putObject(bad), IntegrityError)
    assert.equal(count(), before)
    assert.equal(store.records.bytesOf(cidOf(0x71, bad).toString()), undefined)
  })

  it('answers the queries the sweep, repair, versions and erase make, and deletes a record', () => {
    const other = cidOf(RAW_CODE, new TextEncoder().encode('other'))
    const bob = identityFromSecret('bob', new Uint8Array(32).fill(9))
    const older = signObjectRecord({root: other, size: 5, name: 'v', mime: 'text/plain', tags: [], time: 4000}, bob)
    const newer = signObjectRecord({root, size: 1, name: 'v', mime: 'text/plain', tags: [], time: 5000}, bob)
    store.records.putObject(older.bytes)
    store.records.putObject(newer.bytes)
    assert.deepEqual(store.records.liveRoots().sort(), [root.toString(), other.toString()].sort())
    assert.equal(store.records.hasRoot(other.toString()), true)
    // The newest of an owner's objects by that name; another owner's name is not seen.
    assert.equal(store.records.latestRoot(bob.did, 'v'), root.toString())
    assert.equal(store.records.latestRoot(alice.did, 'v'), undefined)
    assert.deepEqual(store.records.objectBytes(older.cid.toString()).map((b) => Buffer.from(b).toString('hex')), [Buffer.from(older.bytes).toString('hex')])
    assert.equal(store.records.objectBytesByRoot(root.toString()).length, store.records.objectsByRoot(root.toString()).length)
    // The repair loop's list: one row per root, with the replica target once one is set.
    store.records.setReplicaTarget(other.toString(), 5)
    const held = new Map(store.records.heldObjects().map((h) => [h.root, h]))
    assert.equal(held.size, 2)
    assert.equal(held.get(other.toString())!.k, 5)
    assert.equal(held.get(other.toString())!.record, older.cid.toString())
    assert.equal(held.get(root.toString())!.k, null)
    // An erase deletes the record; the root is no longer live, and its target goes with it.
    assert.equal(store.records.delete(older.cid.toString()), 1)
    assert.equal(store.records.delete(older.cid.toString()), 0)
    store.records.dropReplicaTarget(other.toString())
    assert.equal(store.records.hasRoot(other.toString()), false)
    assert.deepEqual(store.records.liveRoots(), [root.toString()])
    assert.equal(store.db.prepare('SELECT count(*) FROM object_replicas').pluck().get(), 0)
  })
})

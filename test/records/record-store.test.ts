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
})

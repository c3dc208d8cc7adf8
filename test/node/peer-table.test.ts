import assert from 'node:assert/strict'
import {after, it} from 'node:test'
import {openDatabase} from '../../src/lib/store/db.js'
import {PeerTable} from '../../src/lib/node/peer-table.js'
import {tmpHome} from '../helpers.js'

const {home, cleanup} = tmpHome()
const db = openDatabase(home)
after(() => {
  db.close()
  cleanup()
})
const DID = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'

it('pings back off with failures: suspect, then dead and retried rarely, then forgotten', () => {
  const table = new PeerTable(db, 'did:key:self')
  table.schedule = {pingIntervalMs: 1_000, maxBackoffMs: 8_000, deadRetryMs: 60_000}
  const t0 = 1_000_000
  table.putRecord({did: DID, url: 'http://127.0.0.1:1', urls: ['http://127.0.0.1:1'], services: 'polar/1', record: Uint8Array.of(1), recordTime: t0, address: '127.0.0.1', learnedFrom: 'test'}, t0)
  assert.equal(table.get(DID)!.nextPing, t0 + 1_000)
  assert.equal(table.duePings(t0).length, 0)
  assert.equal(table.duePings(t0 + 1_000).length, 1)
  const gaps: number[] = []
  const states: string[] = []
  let now = t0 + 1_000
  for (let i = 0; i < 6; i++) {
    table.markFailure(DID, now)
    const p = table.get(DID)!
    gaps.push(p.nextPing - now)
    states.push(p.state)
    now = p.nextPing
  }
  assert.deepEqual(states, ['alive', 'suspect', 'suspect', 'dead', 'dead', 'dead'])
  assert.deepEqual(gaps, [1_000, 2_000, 4_000, 60_000, 60_000, 60_000])
  const deadSince = table.get(DID)!.deadSince!
  assert.equal(table.forgetDead(deadSince), 0)
  table.markAlive(DID, 5, now)
  assert.equal(table.get(DID)!.state, 'alive')
  assert.equal(table.get(DID)!.deadSince, null)
  for (let i = 0; i < 4; i++) table.markFailure(DID, now)
  assert.equal(table.forgetDead(now + 1), 1)
  assert.equal(table.get(DID), undefined)
})

it('an older record never replaces a newer one in the served list; records() is bounded', () => {
  const table = new PeerTable(db, 'did:key:self')
  table.putRecord({did: DID, url: 'http://127.0.0.1:1', urls: ['http://127.0.0.1:1'], services: 'a', record: Uint8Array.of(2), recordTime: 5_000, address: null, learnedFrom: 'test'})
  assert.equal(table.records(0, 10).length, 1)
  assert.equal(table.records(0, 0).length, 0)
  assert.equal(table.records(5_000, 10).length, 0, 'only records newer than `since`')
  // Then an older record of the same peer (a replay, or a registration that crossed a newer one): it must not win.
  table.putRecord({did: DID, url: 'http://127.0.0.1:2', urls: ['http://127.0.0.1:2'], services: 'old', record: Uint8Array.of(1), recordTime: 4_000, address: '127.0.0.2', learnedFrom: 'test'})
  const held = table.get(DID)!
  assert.equal(held.recordTime, 5_000, 'the newer record time stays')
  assert.deepEqual([...table.recordOf(DID)!], [2], 'the newer record bytes stay')
  assert.equal(held.url, 'http://127.0.0.1:1')
  assert.equal(held.services, 'a')
  assert.equal(held.address, null, 'the older record\'s address is not taken either')
  assert.deepEqual(table.records(0, 10).map((r) => [...r.record]), [[2]])
  // A newer one still replaces it.
  table.putRecord({did: DID, url: 'http://127.0.0.1:3', urls: ['http://127.0.0.1:3'], services: 'b', record: Uint8Array.of(3), recordTime: 6_000, address: null, learnedFrom: 'test'})
  assert.equal(table.get(DID)!.recordTime, 6_000)
  assert.equal(table.get(DID)!.url, 'http://127.0.0.1:3')
  assert.deepEqual([...table.recordOf(DID)!], [3])
})

it('an address belongs to its URL: a peer re-added at another URL without one is not left with the old URL\'s address', () => {
  // The node's client dials a peer at its table address (net/peer, node.ts): a stale one would send it elsewhere.
  const table = new PeerTable(db, 'did:key:self')
  const did = 'did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2'
  table.upsert(did, 'http://peer-a.test:1', 'register', Date.now(), 'polar/1', '192.0.2.1')
  assert.equal(table.get(did)!.address, '192.0.2.1')
  table.upsert(did, 'http://peer-a.test:1', 'peers add')
  assert.equal(table.get(did)!.address, '192.0.2.1', 'the same URL keeps its address')
  table.upsert(did, 'http://peer-b.test:1', 'peers add')
  assert.equal(table.get(did)!.address, null, 'a new URL drops the old address')
  table.upsert(did, 'http://peer-b.test:1', 'register', Date.now(), 'polar/1', '192.0.2.7')
  assert.equal(table.get(did)!.address, '192.0.2.7')
})

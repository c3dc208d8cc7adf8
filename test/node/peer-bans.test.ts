// The ban list of peers dropped for bad blocks (issue 20): persistent, by did
// and by address, and longer after each drop. The end-to-end case (a real
// node, a peer serving wrong bytes, re-registering refused) is in
// test/net/protocol.test.ts; this one checks the table itself.
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {BAN_BASE_MS, BAN_MAX_MS, MAX_BAD_BLOCKS, PeerTable} from '../../src/lib/node/peer-table.js'
import {openStore} from '../../src/lib/store/store.js'
import {tmpHome} from '../helpers.js'

describe('peer bans', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)

  it('a drop bans the did and its address, twice as long each time, and survives a reopen', () => {
    let store = openStore(home)
    let peers = new PeerTable(store.db, 'did:key:z6MkSelf')
    const t0 = 1_000_000_000_000
    const drop = (now: number) => {
      peers.upsert('did:key:z6MkBad', 'http://198.51.100.9:7477', 'test', now, 'polar/1', '198.51.100.9')
      let dropped = false
      for (let i = 0; i < MAX_BAD_BLOCKS; i++) dropped = peers.markBadBlock('did:key:z6MkBad', now)
      assert.equal(dropped, true)
      assert.equal(peers.get('did:key:z6MkBad'), undefined)
    }
    drop(t0)
    assert.equal(peers.bannedUntil('did:key:z6MkBad', null, t0 + 1), t0 + BAN_BASE_MS)
    // Another did from the same address is kept out too; another address is not.
    assert.equal(peers.bannedUntil('did:key:z6MkOther', '198.51.100.9', t0 + 1), t0 + BAN_BASE_MS)
    assert.equal(peers.bannedUntil('did:key:z6MkOther', '198.51.100.10', t0 + 1), null)
    assert.equal(peers.bannedUntil('did:key:z6MkBad', null, t0 + BAN_BASE_MS + 1), null, 'over after its time')
    // A restart does not lift it.
    store.close()
    store = openStore(home)
    peers = new PeerTable(store.db, 'did:key:z6MkSelf')
    assert.equal(peers.bannedUntil('did:key:z6MkBad', null, t0 + 1), t0 + BAN_BASE_MS)
    // Second and third drops: twice and four times as long; never more than BAN_MAX_MS.
    const t1 = t0 + 2 * BAN_BASE_MS
    drop(t1)
    assert.equal(peers.bannedUntil('did:key:z6MkBad', null, t1), t1 + 2 * BAN_BASE_MS)
    const t2 = t1 + 4 * BAN_BASE_MS
    drop(t2)
    assert.equal(peers.bannedUntil('did:key:z6MkBad', null, t2), t2 + 4 * BAN_BASE_MS)
    for (let i = 0; i < 20; i++) peers.ban('did:key:z6MkBad', '198.51.100.9', t2)
    assert.equal(peers.bannedUntil('did:key:z6MkBad', null, t2), t2 + BAN_MAX_MS)
    // The operator takes it back (peers add): lifted now, strikes kept.
    peers.unban('did:key:z6MkBad', t2 + 1)
    assert.equal(peers.bannedUntil('did:key:z6MkBad', '198.51.100.9', t2 + 2), null)
    assert.equal(peers.ban('did:key:z6MkBad', null, t2 + 3), t2 + 3 + BAN_MAX_MS, 'the next drop starts from the strikes it had')
    store.close()
  })
})

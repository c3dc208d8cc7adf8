// Unit tests of replication placement and repair (node/replicator.ts) with
// fake peers and clients over a real store in a temporary home: no node
// process, no socket. Who is asked, in which order, and what a failure does.
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import type {CID} from 'multiformats/cid'
import type {ReplicatorComponents} from '../../src/lib/node/replicator.js'
import {placeReplicas, repairOnce, REPAIR_DEFER_PASSES, setReplicaTarget} from '../../src/lib/node/replicator.js'
import {rankNodes} from '../../src/lib/node/placement.js'
import type {Peer} from '../../src/lib/node/peer-table.js'
import {memoryLog, newIdentity, peer, storeObject, tempStore} from './fakes.js'

/** How each fake peer behaves: holds the object (answers `has` yes), takes a replica, or fails. */
interface Behaviour {holds?: boolean; replicate?: 'held' | 'not-held' | 'fail'; hasFails?: boolean}

function components(store: ReplicatorComponents['store'], peers: Peer[], behave: Record<string, Behaviour>, self = 'did:key:zself') {
  const {log, lines} = memoryLog()
  const asked: string[] = []
  const failures: string[] = []
  const sent: Array<{did: string; sources: string[]; replicas: number}> = []
  const c: ReplicatorComponents = {
    store,
    peers: {live: () => peers, markFailure: (did: string) => void failures.push(did), markBadBlock: () => false} as any,
    client: (p) => {
      const did = peers.find((x) => x.url === p.url)!.did
      const b = behave[did] ?? {}
      return {
        hello: async () => ({did}),
        blocks: {has: async (cids: CID[]) => {
          if (b.hasFails) throw new Error('connect ECONNREFUSED')
          return cids.map(() => b.holds ?? false)
        }},
        objects: {replicate: async (_record: Uint8Array, sources: string[], o: {replicas: number}) => {
          asked.push(did)
          sent.push({did, sources, replicas: o.replicas})
          if (b.replicate === 'fail') throw new Error('HTTP 502')
          return {held: b.replicate !== 'not-held', blocks: 1}
        }},
      } as any
    },
    sources: () => [],
    log,
    did: self,
    url: 'http://self.test:1',
  }
  return {c, asked, failures, sent, lines}
}

const peers = Array.from({length: 5}, (_, i) => peer(`did:key:zpeer${i}`, {url: `http://p${i}.test:1`}))

describe('placeReplicas (unit, fakes)', () => {
  const {store, cleanup} = tempStore()
  after(cleanup)
  const owner = newIdentity()

  it('asks peers in rendezvous order; one that fails is marked and the next in order is asked', async () => {
    const {root, record} = await storeObject(store, owner)
    const order = rankNodes(root, peers).map((p) => p.did)
    const {c, asked, failures, sent, lines} = components(store, peers, {[order[0]]: {replicate: 'fail'}})
    const placed = await placeReplicas(c, record.bytes, 3)
    assert.equal(placed.replicas, 3)
    assert.deepEqual(placed.nodes.sort(), ['did:key:zself', order[1], order[2]].sort())
    assert.deepEqual(asked, [order[0], order[1], order[2]], 'the first two in order, then the next after the failure')
    assert.deepEqual(failures, [order[0]])
    assert.ok(sent.every((s) => s.sources[0] === 'http://self.test:1' && s.replicas === 3), 'each peer pulls from this node, told the replica count')
    assert.match(lines.join('\n'), /replica of \S+ on http:\/\/p\d\.test:1 failed: HTTP 502/)
  })

  it('a peer that answers not held is not counted; with too few peers it places what it can', async () => {
    const {record, root} = await storeObject(store, owner)
    const two = peers.slice(0, 2)
    const first = rankNodes(root, two)[0].did
    const {c} = components(store, two, {[first]: {replicate: 'not-held'}})
    const placed = await placeReplicas(c, record.bytes, 4)
    assert.equal(placed.replicas, 2)
    assert.ok(!placed.nodes.includes(first))
  })
})

describe('repairOnce (unit, fakes)', () => {
  const owner = newIdentity()

  it('an object short of its replica count is placed on the peers that lack it; a peer that cannot be asked is marked', async () => {
    const {store, cleanup} = tempStore()
    try {
      const {root} = await storeObject(store, owner)
      setReplicaTarget({store}, root, 3)
      // No peer holds it: this node is the only holder, so it leads the repair at once.
      const order = rankNodes(root, peers.slice(1)).map((p) => p.did)
      const {c, asked, failures} = components(store, peers, {[peers[0].did]: {hasFails: true}, [order[0]]: {replicate: 'fail'}})
      const r = await repairOnce(c, 2)
      assert.deepEqual(r, {checked: 1, repaired: 1})
      assert.deepEqual(asked, order.slice(0, 3), 'rendezvous order among the reachable peers, past the failure')
      assert.deepEqual(failures.sort(), [peers[0].did, order[0]].sort(), 'the unreachable peer and the failed replica')
      // Its target (3) counts, not the default passed in (2).
      const again = components(store, peers, Object.fromEntries(peers.map((p) => [p.did, {holds: [order[1], order[2]].includes(p.did)}])))
      assert.deepEqual(await repairOnce(again.c, 2), {checked: 1, repaired: 0})
      assert.deepEqual(again.asked, [], 'enough holders: nobody is asked')
    } finally {
      cleanup()
    }
  })

  it('a holder ranked behind another defers for REPAIR_DEFER_PASSES passes per place, then repairs itself', async () => {
    const {store, cleanup} = tempStore()
    try {
      const {root} = await storeObject(store, owner)
      // A peer that holds the object and ranks ahead of this node: it leads.
      let leader: Peer | undefined
      for (let i = 0; !leader; i++) {
        const p = peer(`did:key:zlead${i}`, {url: `http://lead${i}.test:1`})
        if (rankNodes(root, [p, {did: 'did:key:zself'}])[0] === p) leader = p
      }
      const all = [leader, ...peers.slice(0, 3)]
      const {c, asked} = components(store, all, {[leader.did]: {holds: true}})
      for (let pass = 1; pass <= REPAIR_DEFER_PASSES; pass++) {
        assert.deepEqual(await repairOnce(c, 3), {checked: 1, repaired: 0}, `pass ${pass}: the leader's turn`)
      }
      assert.deepEqual(asked, [])
      assert.deepEqual(await repairOnce(c, 3), {checked: 1, repaired: 1}, 'the leader stayed short: this node acts')
      assert.equal(asked.length, 1)
      assert.ok(asked[0] !== leader.did)
    } finally {
      cleanup()
    }
  })
})

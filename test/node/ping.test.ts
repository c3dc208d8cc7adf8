import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {json} from '../helpers.js'
import {Cluster, type NodeProcess} from './cluster.js'

describe('peers ping', {timeout: 60_000}, () => {
  const cluster = new Cluster()
  let nodes: NodeProcess[]
  before(async () => {
    nodes = await cluster.startMany(2)
    await Cluster.mesh(nodes)
  })
  after(() => cluster.stop())

  it('prints the round trip to a live peer and records it', async () => {
    const [a, b] = nodes
    const r = await a.polar(['peers', 'ping', b.did, '--json'])
    assert.equal(r.code, 0, r.stderr)
    const out = json(r)
    assert.equal(out.did, b.did)
    assert.equal(out.url, b.url)
    assert.ok(typeof out.rttMs === 'number' && out.rttMs >= 0 && out.rttMs < 5_000)
    const peers = json(await a.polar(['peers', '--json']))
    assert.equal(peers.find((p: any) => p.did === b.did).state, 'alive')
  })

  it('exits 3 for a did not in the table and 2 for a malformed did', async () => {
    const [a] = nodes
    const unknown = await a.polar(['peers', 'ping', 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK', '--json'])
    assert.equal(unknown.code, 3)
    assert.equal(json(unknown).error.code, 'NOT_FOUND')
    const bad = await a.polar(['peers', 'ping', 'did:key:nope', '--json'])
    assert.equal(bad.code, 2)
  })
})

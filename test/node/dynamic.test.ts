// Dynamic block mode across real nodes (issue 6): a node that holds version N
// of a file gets version N+1's leaves as deltas against its own blocks, stores
// them encoded, and pulls back the exact bytes; static mode (/v1/blocks/CID
// and the IPFS gateway) still serves every block raw under its original CID.
import assert from 'node:assert/strict'
import {createHash, randomBytes} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {CID} from 'multiformats/cid'
import {decodeFileNode} from '../../src/lib/content/dag-node.js'
import {openStore} from '../../src/lib/store/store.js'
import {json} from '../helpers.js'
import {Cluster, type NodeProcess} from './cluster.js'

const MiB = 1024 * 1024
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest()

describe('dynamic block mode between two nodes', {timeout: 120_000}, () => {
  const cluster = new Cluster()
  let a: NodeProcess
  let b: NodeProcess
  let work: string
  const v1 = randomBytes(3 * MiB + 777)
  const v2 = Buffer.concat([v1.subarray(0, 5000), Buffer.from('a small insertion'), v1.subarray(5000)])
  randomBytes(300).copy(v2, 2 * MiB)
  let c1: string
  let c2: string

  before(async () => {
    work = cluster.home('polar-dyn-work-')
    writeFileSync(join(work, 'v1'), v1)
    writeFileSync(join(work, 'v2'), v2)
    ;[a, b] = await Promise.all([cluster.start(), cluster.start()])
    await Cluster.join(a, b)
  })
  after(() => cluster.stop())

  it('a node holding v1 pulls v2 as deltas and gets the exact bytes', async () => {
    let r = await a.polar(['push', join(work, 'v1'), '--name', 'data.bin', '--replicas', '1', '--json'])
    assert.equal(r.code, 0, r.stderr)
    c1 = json(r).cid
    r = await b.polar(['pull', c1, '-o', join(work, 'b-v1'), '--json'])
    assert.equal(r.code, 0, r.stderr + cluster.logs())
    r = await a.polar(['push', join(work, 'v2'), '--name', 'data.bin', '--replicas', '1', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const pushed = json(r)
    c2 = pushed.cid
    assert.equal(pushed.base, c1)
    assert.ok(pushed.encoding.delta >= 3, JSON.stringify(pushed.encoding))
    r = await b.polar(['pull', c2, '-o', join(work, 'b-v2'), '--json'])
    assert.equal(r.code, 0, r.stderr + cluster.logs())
    assert.ok(readFileSync(join(work, 'b-v2')).equals(v2))
    const store = openStore(b.home)
    try {
      const counts = store.blocks.codecs.counts()
      const deltas = (counts['delta']?.blocks ?? 0) + (counts['delta+gzip']?.blocks ?? 0)
      assert.ok(deltas >= 3, `B stored v2's leaves as deltas: ${JSON.stringify(counts)}`)
    } finally {
      store.close()
    }
    // And through B's node the bytes come back exact again (decoded from B's own store).
    r = await b.polar(['pull', c2])
    assert.equal(r.code, 0)
    assert.ok(r.stdout.equals(v2))
  })

  it('static mode and the IPFS gateway serve delta-stored blocks raw, under their CIDs', async () => {
    const store = openStore(a.home)
    let leaves: CID[]
    try {
      leaves = decodeFileNode(CID.parse(c2), store.blocks.get(CID.parse(c2))).links
      assert.ok(store.blocks.codecs.codecOf(leaves[0])! >= 2, 'the first leaf of v2 is a delta on A')
    } finally {
      store.close()
    }
    for (const node of [a, b]) {
      for (const leaf of leaves) {
        for (const path of [`/v1/blocks/${leaf}`, `/ipfs/${leaf}?format=raw`]) {
          const res = await fetch(node.url + path)
          assert.equal(res.status, 200, path)
          const body = Buffer.from(await res.arrayBuffer())
          assert.ok(sha(body).equals(Buffer.from(leaf.multihash.digest)), `${path} from ${node.url} is the raw block`)
        }
      }
    }
    // A peer that accepts nothing but raw gets codec 0 and the raw bytes.
    const res = await fetch(`${a.url}/v1/blocks/${leaves[0]}/encoded?accept=raw`)
    const body = Buffer.from(await res.arrayBuffer())
    assert.equal(body[0], 0)
    assert.ok(sha(body.subarray(1)).equals(Buffer.from(leaves[0].multihash.digest)))
  })
})

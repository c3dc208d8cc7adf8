// serve --max-storage (issue 19, point 5): a write that would pass the cap is refused with NO_SPACE,
// the error of a full disk, before anything is written; a replica a capped node refuses goes elsewhere.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {readdirSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {CID} from 'multiformats/cid'
import {sha256} from 'multiformats/hashes/sha2'
import {openDatabase} from '../../src/lib/store/db.js'
import {toPolarError} from '../../src/lib/errors.js'
import {rankNodes} from '../../src/lib/node/placement.js'
import {parseSize} from '../../src/lib/util/size.js'
import {Cluster, hasBlocks, type NodeProcess} from './cluster.js'
import {json, runPolar} from '../helpers.js'

const KiB = 1024
const MiB = 1024 * KiB

function store(home: string): {blocks: number; packBytes: number} {
  const db = openDatabase(home, {readonly: true})
  try {
    const blocks = db.prepare('SELECT count(*) FROM blocks').pluck().get() as number
    const dir = join(home, 'blocks')
    return {blocks, packBytes: readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0)}
  } finally {
    db.close()
  }
}

describe('serve --max-storage', {timeout: 300_000}, () => {
  const cluster = new Cluster()
  after(() => cluster.stop())

  it('parses sizes as people write them, and refuses the rest (exit 2)', async () => {
    assert.equal(parseSize('500M'), 500 * MiB)
    assert.equal(parseSize('10G'), 10 * 1024 ** 3)
    assert.equal(parseSize('1.5k'), 1536)
    assert.equal(parseSize('4096'), 4096)
    assert.equal(parseSize('2GiB'), 2 * 1024 ** 3)
    for (const bad of ['', 'G', '-1G', '0', '10X', '1e9']) assert.throws(() => parseSize(bad), /not a size/, bad)
    const r = await runPolar(['serve', '--listen', '127.0.0.1:0', '--max-storage', 'lots', '--json'], {home: cluster.home()})
    assert.equal(r.code, 2, r.stderr)
    assert.match(json(r).error.message, /--max-storage "lots" is not a size/)
  })

  describe('a node capped at 4 MiB', () => {
    let node: NodeProcess
    before(async () => { node = await cluster.start(cluster.home(), ['--max-storage', '4M']) })

    it('takes a push under the cap, refuses one over it before a byte is written: exit 1, NO_SPACE, as a full disk', async () => {
      const small = join(node.home, 'small')
      writeFileSync(small, randomBytes(2 * MiB))
      const ok = await node.polar(['push', small, '--json'])
      assert.equal(ok.code, 0, ok.stderr)
      const was = store(node.home)
      const big = join(node.home, 'big')
      writeFileSync(big, randomBytes(3 * MiB))
      const r = await node.polar(['push', big, '--json'])
      const full = toPolarError(Object.assign(new Error('ENOSPC: no space left on device, write'), {code: 'ENOSPC'}))
      assert.equal(r.code, full.exit, r.stderr)
      assert.equal(json(r).error.code, full.code)
      assert.match(json(r).error.message, /no space left under this node's storage cap \(--max-storage 4\.0 MiB\)/)
      assert.deepEqual(store(node.home), was, 'nothing written')
      // The plain form says the same on stderr.
      const plain = await node.polar(['push', big])
      assert.equal(plain.code, 1)
      assert.match(plain.stderr, /no space left under this node's storage cap/)
    })

    it('refuses a stream at the block that would pass the cap, and never passes it', async () => {
      const r = await node.polar(['push', '-', '--json'], {input: randomBytes(3 * MiB)})
      assert.equal(r.code, 1, r.stderr)
      assert.equal(json(r).error.code, 'NO_SPACE')
      assert.ok(store(node.home).packBytes <= 4 * MiB, `${store(node.home).packBytes} bytes of packs under a 4 MiB cap`)
    })
  })

  it('a replica a full node refuses goes to another node', async () => {
    const [a, c, d] = await cluster.startMany(3)
    const b = await cluster.start(cluster.home(), ['--max-storage', '256K'])
    await Cluster.mesh([a, b, c, d])
    // Content the rendezvous order gives to B first among A's peers, so A must ask B and move on.
    let data: Buffer
    let cid: CID
    do {
      data = randomBytes(600 * KiB) // one raw leaf: its CID is the raw CID of the bytes
      cid = CID.create(1, 0x55, await sha256.digest(data))
    } while (rankNodes(cid, [b, c, d].map((n) => ({did: n.did})))[0].did !== b.did)
    const file = join(a.home, 'f')
    writeFileSync(file, data)
    const r = await a.polar(['push', file, '--replicas', '2', '--min-replicas', '2', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const out = json(r)
    assert.equal(out.cid, cid.toString())
    assert.equal(out.replicas, 2)
    assert.ok(!out.nodes.includes(b.did), `the full node is not a holder: ${out.nodes}`)
    assert.deepEqual(await hasBlocks(b.url, [out.cid]), [false])
    assert.equal(store(b.home).blocks, 0, 'the full node stored nothing')
    assert.match(a.stderr(), /NO_SPACE|no space left under this node's storage cap/)
  })
})

// Erase across three real nodes (issue 5, "Done when"): a stranger's erase
// changes nothing anywhere; the owner's erase removes the object from all
// three (pull exit 3 everywhere) while a block another object shares
// survives; a node that was offline applies the erase when it is back.
import assert from 'node:assert/strict'
import {createHash, randomBytes} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import {DEFAULT_KEY_NAME, generateSecretKey, identityFromSecret, KeyStore} from '../../src/lib/identity/index.js'
import {signRequest} from '../../src/lib/net/auth.js'
import {decodeObjectRecord, type ObjectRecord, type SignedRecord} from '../../src/lib/records/index.js'
import {signEraseRecord} from '../../src/lib/records/erase-record.js'
import {json} from '../helpers.js'
import {Cluster, hasBlocks, waitFor, type NodeProcess} from './cluster.js'

const MiB = 1024 * 1024
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

async function postErase(url: string, erase: Uint8Array, record: Uint8Array): Promise<{status: number; body: any}> {
  const res = await fetch(`${url}/v1/erase`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({erase: Buffer.from(erase).toString('base64'), record: Buffer.from(record).toString('base64')}),
    signal: AbortSignal.timeout(10_000),
  })
  return {status: res.status, body: await res.json()}
}

describe('erase over 3 nodes', {timeout: 180_000}, () => {
  const cluster = new Cluster()
  let nodes: NodeProcess[]
  let work: string
  // X and Y share their first 1 MiB leaf (1 MiB chunks): erasing X must keep it for Y.
  const shared = randomBytes(MiB)
  const x = Buffer.concat([shared, randomBytes(MiB + 99)])
  const y = Buffer.concat([shared, randomBytes(MiB / 2)])
  let px: any
  let py: any
  let xLeaves: string[]
  let record: SignedRecord<ObjectRecord>

  before(async () => {
    work = cluster.home('polar-erase-work-')
    writeFileSync(join(work, 'x.bin'), x)
    writeFileSync(join(work, 'y.bin'), y)
    nodes = await cluster.startMany(3)
    await Cluster.mesh(nodes)
    const [a] = nodes
    const rx = await a.polar(['push', join(work, 'x.bin'), '--replicas', '3', '--min-replicas', '3', '--json'])
    assert.equal(rx.code, 0, rx.stderr + rx.stdout + cluster.logs())
    px = json(rx)
    const ry = await a.polar(['push', join(work, 'y.bin'), '--replicas', '3', '--min-replicas', '3', '--json'])
    assert.equal(ry.code, 0, ry.stderr + ry.stdout)
    py = json(ry)
    const root = await fetch(`${a.url}/v1/blocks/${px.cid}`)
    xLeaves = dagPb.decode(new Uint8Array(await root.arrayBuffer())).Links.map((l) => l.Hash.toString())
    assert.equal(xLeaves.length, 3)
    const recs = await (await fetch(`${a.url}/v1/records?root=${px.cid}`)).json() as {records: string[]}
    record = decodeObjectRecord(Buffer.from(recs.records[0], 'base64'))
    assert.equal(record.cid.toString(), px.record)
  })
  after(() => cluster.stop())

  it("refuses a stranger's erase everywhere and changes nothing", async () => {
    const [, b] = nodes
    // Through the CLI with a key that does not own the object: exit 6.
    assert.equal((await b.polar(['keygen', '--name', 'stranger', '--json'])).code, 0)
    const r = await b.polar(['erase', px.cid, '--key', 'stranger', '--json'])
    assert.equal(r.code, 6, r.stderr + r.stdout)
    assert.equal(json(r).error.code, 'NOT_OWNER')
    // The same against a remote node's public API (signed here): exit 6 too.
    const remote = await b.polar(['erase', px.cid, '--key', 'stranger', '--node', nodes[0].url, '--json'])
    assert.equal(remote.code, 6, remote.stderr + remote.stdout)
    // Unknown CID: exit 3.
    const unknown = await b.polar(['erase', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', '--json'])
    assert.equal(unknown.code, 3, unknown.stderr + unknown.stdout)
    // Straight to the peer protocol: a well-signed erase by a stranger (403), and one
    // that claims the owner but carries the stranger's signature (400).
    const stranger = identityFromSecret('stranger', generateSecretKey())
    const forgedOwner = {...record, record: {...record.record, owner: stranger.did}}
    const ownErase = signEraseRecord(forgedOwner as SignedRecord<ObjectRecord>, stranger)
    const claim = dagCbor.decode(ownErase.bytes) as any
    const forged = dagCbor.encode({...claim, owner: record.record.owner})
    for (const n of nodes) {
      const s = await postErase(n.url, ownErase.bytes, record.bytes)
      assert.equal(s.status, 403, JSON.stringify(s.body))
      assert.equal(s.body.error.code, 'NOT_OWNER')
      const f = await postErase(n.url, forged, record.bytes)
      assert.equal(f.status, 400, JSON.stringify(f.body))
      assert.equal(f.body.error.code, 'BAD_RECORD')
    }
    for (const n of nodes) {
      assert.deepEqual(await hasBlocks(n.url, [px.cid, ...xLeaves]), [true, true, true, true], `${n.url} still holds X`)
      const recs = await (await fetch(`${n.url}/v1/records?root=${px.cid}`)).json() as {records: string[]}
      assert.equal(recs.records.length, 1, `${n.url} still has the record`)
    }
    const pull = await nodes[2].polar(['pull', px.cid])
    assert.equal(pull.code, 0, pull.stderr)
    assert.equal(sha(pull.stdout), sha(x))
  })

  it("the owner's erase removes X from every node, keeps Y's shared block, and reaches a node that was offline", async () => {
    const [a, b, c] = nodes
    await c.stop()
    const r = await a.polar(['erase', px.cid, '--json'])
    assert.equal(r.code, 0, r.stderr + r.stdout + cluster.logs())
    const out = json(r)
    assert.equal(out.erased, true)
    assert.deepEqual(out.records, [px.record])
    assert.ok(out.nodes.includes(a.did) && out.nodes.includes(b.did), `a and b confirmed: ${out.nodes}`)
    assert.ok(!out.nodes.includes(c.did), 'c was offline')
    for (const n of [a, b]) {
      const pull = await n.polar(['pull', px.cid, '--json', '-o', join(work, 'gone.bin')])
      assert.equal(pull.code, 3, `pull on ${n.url}: ${pull.stderr}${pull.stdout}`)
      // The leaves only X used are gone; the leaf Y shares is kept, and Y is whole.
      assert.deepEqual(await hasBlocks(n.url, [px.cid, ...xLeaves]), [false, true, false, false], `${n.url} blocks after erase`)
      const py2 = await n.polar(['pull', py.cid])
      assert.equal(py2.code, 0, py2.stderr)
      assert.equal(sha(py2.stdout), sha(y))
    }
    // Replicating the erased record again is refused (410), even by a peer.
    const bKey = new KeyStore(join(b.home, 'node')).load(DEFAULT_KEY_NAME)
    const body = Buffer.from(JSON.stringify({record: Buffer.from(record.bytes).toString('base64'), sources: [b.url]}))
    const rep = await fetch(`${a.url}/v1/replicate`, {method: 'POST', body, headers: {'content-type': 'application/json', ...signRequest(bKey, 'POST', '/v1/replicate', body, Date.now(), a.did)}})
    const repText = await rep.text()
    assert.equal(rep.status, 410, repText)
    assert.equal(JSON.parse(repText).error.code, 'ERASED')
    // Erasing it again: exit 3, it is already gone.
    const again = await a.polar(['erase', px.cid, '--json'])
    assert.equal(again.code, 3, again.stderr + again.stdout)
    assert.equal(json(again).error.code, 'ERASED')

    // c comes back (same home, new port) and learns the erase from its peers.
    const c2 = await cluster.start(c.home)
    await waitFor('c to apply the erase', async () => {
      const have = await hasBlocks(c2.url, [px.cid, ...xLeaves])
      return have.join() === 'false,true,false,false'
    }, {timeoutMs: 30_000})
    const pull = await c2.polar(['pull', px.cid])
    assert.equal(pull.code, 3, pull.stderr)
    const yc = await c2.polar(['pull', py.cid])
    assert.equal(yc.code, 0, yc.stderr)
    assert.equal(sha(yc.stdout), sha(y))
    // Nobody got X back from c's repair loop meanwhile.
    for (const n of [a, b]) assert.deepEqual(await hasBlocks(n.url, [px.cid]), [false])
  })
})

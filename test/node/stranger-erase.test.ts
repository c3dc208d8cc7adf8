// A stranger's erase (issue 20 point 1), played with real nodes on 127.0.0.1:
// an erase removes exactly the record it names. A stranger who pushes the
// same bytes under their own key and erases that record, or who makes up a
// record of their own for someone else's root and posts its erase unsigned,
// must neither remove the owner's object from any node nor make any node
// refuse it; the owner's own erase still removes it everywhere.
import assert from 'node:assert/strict'
import {createHash, randomBytes} from 'node:crypto'
import {copyFileSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import {CID} from 'multiformats/cid'
import {generateSecretKey, identityFromSecret} from '../../src/lib/identity/index.js'
import {signObjectRecord} from '../../src/lib/records/index.js'
import {signEraseRecord} from '../../src/lib/records/erase-record.js'
import {json} from '../helpers.js'
import {Cluster, hasBlocks, type NodeProcess} from './cluster.js'

const MiB = 1024 * 1024
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

async function postErase(url: string, erase: Uint8Array, record: Uint8Array): Promise<{status: number; body: any}> {
  const res = await fetch(`${url}/v1/erase`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify({erase: Buffer.from(erase).toString('base64'), record: Buffer.from(record).toString('base64')}),
    signal: AbortSignal.timeout(20_000),
  })
  return {status: res.status, body: await res.json()}
}

async function recordsOn(url: string, root: string): Promise<string[]> {
  const r = await (await fetch(`${url}/v1/records?root=${root}`, {signal: AbortSignal.timeout(5_000)})).json() as {records: string[]}
  return r.records
}

describe("a stranger's erase", {timeout: 240_000}, () => {
  const cluster = new Cluster()
  // v: the owner's node (its default key owns X and Z); d: pulls X; b: a stranger's node (its default key is the stranger).
  let v: NodeProcess
  let d: NodeProcess
  let b: NodeProcess
  let work: string
  const x = randomBytes(2 * MiB + 4321)
  const z = randomBytes(MiB + 77)
  let blocksOf: (root: string) => Promise<string[]>

  before(async () => {
    work = cluster.home('polar-stranger-work-')
    writeFileSync(join(work, 'x.bin'), x)
    writeFileSync(join(work, 'z.bin'), z)
    ;[v, d, b] = await cluster.startMany(3)
    await Cluster.mesh([v, d, b])
    blocksOf = async (root) => {
      const bytes = new Uint8Array(await (await fetch(`${v.url}/v1/blocks/${root}`)).arrayBuffer())
      return [root, ...dagPb.decode(bytes).Links.map((l) => l.Hash.toString())]
    }
  })
  after(() => cluster.stop())

  async function pulls(n: NodeProcess, root: string, want: Buffer, what: string): Promise<void> {
    const r = await n.polar(['pull', root])
    assert.equal(r.code, 0, `${what}: pull on ${n.url} exited ${r.code}: ${r.stderr}\n${cluster.logs()}`)
    assert.equal(sha(r.stdout), sha(want), `${what}: bytes pulled on ${n.url}`)
  }

  it('who pushes the same bytes and erases their own record neither removes nor hides the owner\'s object', async () => {
    const pv = await v.polar(['push', join(work, 'x.bin'), '--replicas', '1', '--json'])
    assert.equal(pv.code, 0, pv.stderr + pv.stdout)
    const owner = json(pv)
    const blocks = await blocksOf(owner.cid)
    await pulls(d, owner.cid, x, 'd caches X')
    assert.deepEqual(await hasBlocks(d.url, blocks), blocks.map(() => true), 'd holds X (pulled, no record)')
    assert.deepEqual(await recordsOn(d.url, owner.cid), [], 'd holds no record of X')

    // The stranger pushes the same bytes on b under their own key, and erases that record.
    const ps = await b.polar(['push', join(work, 'x.bin'), '--replicas', '1', '--json'])
    assert.equal(ps.code, 0, ps.stderr + ps.stdout)
    const theirs = json(ps)
    assert.equal(theirs.cid, owner.cid, 'same bytes, same root')
    assert.notEqual(theirs.record, owner.record)
    const er = await b.polar(['erase', theirs.cid, '--json'])
    assert.equal(er.code, 0, er.stderr + er.stdout)
    assert.deepEqual(json(er).records, [theirs.record], 'only the stranger\'s own record is erased')
    assert.ok(json(er).nodes.includes(d.did) && json(er).nodes.includes(v.did), `v and d applied it: ${json(er).nodes}`)

    // The owner's record and blocks are untouched on v; d keeps its copy and serves it; b pulls it again.
    assert.deepEqual((await recordsOn(v.url, owner.cid)).length, 1)
    assert.deepEqual(await hasBlocks(v.url, blocks), blocks.map(() => true))
    assert.deepEqual(await hasBlocks(d.url, blocks), blocks.map(() => true), "d's copy of the owner's object stays")
    await pulls(d, owner.cid, x, "after the stranger's erase")
    await pulls(b, owner.cid, x, "after the stranger's erase, on the stranger's own node")

    // The owner's erase still removes X everywhere, the cached copies too.
    const eo = await v.polar(['erase', owner.cid, '--json'])
    assert.equal(eo.code, 0, eo.stderr + eo.stdout)
    assert.deepEqual(json(eo).records, [owner.record])
    for (const n of [v, d, b]) {
      assert.deepEqual(await hasBlocks(n.url, [owner.cid]), [false], `${n.url} dropped X's root`)
      const pull = await n.polar(['pull', owner.cid, '--json', '-o', join(work, 'gone.bin')])
      assert.equal(pull.code, 3, `pull on ${n.url}: ${pull.stderr}${pull.stdout}`)
      assert.equal(json(pull).error.code, 'ERASED')
    }

    // A tombstone stands for the record it names: the owner pushing the same bytes again
    // makes a new record, which every node fetches.
    const again = await v.polar(['push', join(work, 'x.bin'), '--replicas', '1', '--json'])
    assert.equal(again.code, 0, again.stderr + again.stdout)
    assert.notEqual(json(again).record, owner.record)
    await pulls(d, owner.cid, x, 'after the owner pushed X again')
  })

  it('posted unsigned with a record the stranger made for someone else\'s root changes nothing', async () => {
    const pz = await v.polar(['push', join(work, 'z.bin'), '--replicas', '1', '--json'])
    assert.equal(pz.code, 0, pz.stderr + pz.stdout)
    const owner = json(pz)
    const blocks = await blocksOf(owner.cid)
    await pulls(b, owner.cid, z, 'b caches Z')

    // The stranger never held Z: they sign a record of their own naming its root, and its erase.
    const stranger = identityFromSecret('stranger', generateSecretKey())
    const made = signObjectRecord({root: CID.parse(owner.cid), size: z.length, name: 'mine', mime: 'application/octet-stream', tags: [], time: Date.now()}, stranger)
    const erase = signEraseRecord(made, stranger)
    // And one naming a leaf of Z as its root: b holds that block only as part of its copy of Z.
    const leaf = signObjectRecord({root: CID.parse(blocks.at(-1)!), size: 77, name: 'leaf', mime: 'application/octet-stream', tags: [], time: Date.now()}, stranger)
    const leafErase = signEraseRecord(leaf, stranger)
    for (const n of [b, d, v]) {
      for (const [e, r] of [[erase, made], [leafErase, leaf]] as const) {
        const res = await postErase(n.url, e.bytes, r.bytes)
        assert.equal(res.status, 200, JSON.stringify(res.body))
        assert.equal(res.body.records, 0, `${n.url} held no such record`)
        assert.equal(res.body.blocks, 0, `${n.url} deleted nothing`)
      }
    }
    assert.deepEqual(await hasBlocks(b.url, blocks), blocks.map(() => true), "b's copy of Z stays")
    assert.deepEqual(await hasBlocks(v.url, blocks), blocks.map(() => true))
    assert.equal((await recordsOn(v.url, owner.cid)).length, 1)
    await pulls(b, owner.cid, z, "after the made-up record's erase")
    await pulls(d, owner.cid, z, "after the made-up record's erase, on a node that never held Z")

    // The owner can still erase Z through d, which holds no record of it but the stranger's tombstone
    // (the owner's key copied to d's home).
    mkdirSync(join(d.home, 'keys'), {recursive: true, mode: 0o700})
    copyFileSync(join(v.home, 'keys', 'default'), join(d.home, 'keys', 'owner'))
    const ed = await d.polar(['erase', owner.cid, '--key', 'owner', '--json'])
    assert.equal(ed.code, 0, ed.stderr + ed.stdout + cluster.logs())
    assert.deepEqual(json(ed).records, [owner.record])
    for (const n of [v, d, b]) {
      const pull = await n.polar(['pull', owner.cid])
      assert.equal(pull.code, 3, `pull on ${n.url}: ${pull.stderr}`)
      assert.deepEqual(await hasBlocks(n.url, [owner.cid]), [false], `${n.url} dropped Z's root`)
    }
  })
})

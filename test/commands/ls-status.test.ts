// polar ls and polar status (issue 19 point 3), through a real node on
// 127.0.0.1 and on the embedded store: a pushed object is listed with its
// CID and size, and the counts match what was pushed.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {json, runPolar, tmpHome} from '../helpers.js'
import {Cluster, type NodeProcess} from '../node/cluster.js'

describe('ls and status through a node', {timeout: 90_000}, () => {
  const cluster = new Cluster()
  let a: NodeProcess
  before(async () => {
    ;[a] = await cluster.startMany(1)
  })
  after(() => cluster.stop())

  it('ls lists the pushed object with its CID and size; status counts it', async () => {
    const before = json(await a.polar(['status', '--json']))
    assert.equal(before.target, 'node')
    assert.equal(before.did, a.did)
    assert.equal(before.url, a.url)
    assert.equal(before.objects, 0)
    const file = join(a.home, 'notes one.txt')
    writeFileSync(file, randomBytes(3000))
    const pushed = json(await a.polar(['push', file, '--replicas', '1', '--json']))
    const ls = await a.polar(['ls'])
    assert.equal(ls.code, 0, ls.stderr)
    const lines = ls.stdout.toString().trimEnd().split('\n')
    assert.equal(lines[0], 'NAME\tSIZE\tCID\tTIME\tREPLICAS')
    assert.deepEqual(lines.slice(1).map((l) => l.split('\t').slice(0, 3)), [['notes one.txt', '3000', pushed.cid]])
    const lj = json(await a.polar(['ls', '--json']))
    assert.equal(lj[0].cid, pushed.cid)
    assert.equal(lj[0].size, 3000)
    assert.equal(lj[0].owner, pushed.owner)
    assert.deepEqual(json(await a.polar(['ls', '--owner', 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK', '--json'])), [])
    assert.equal((await a.polar(['ls', '--owner', 'nope', '--json'])).code, 2)
    const s = json(await a.polar(['status', '--json']))
    assert.equal(s.objects, 1)
    assert.equal(s.records, 1)
    assert.ok(s.blocks >= 1 && s.bytes >= 3000, JSON.stringify(s))
    assert.equal(typeof s.uptimeS, 'number')
    assert.deepEqual(s.peers, {alive: 0, total: 0})
    const human = (await a.polar(['status'])).stdout.toString()
    assert.match(human, new RegExp(`^did: +${a.did}$`, 'm'))
    assert.match(human, /^objects: +1 /m)
  })

  it('with --node URL both are refused with exit 2', async () => {
    for (const cmd of ['ls', 'status']) {
      const r = await a.polar([cmd, '--node', a.url, '--json'])
      assert.equal(r.code, 2, r.stdout.toString())
    }
  })
})

describe('ls and status on the embedded store', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)
  it('counts and lists what was pushed here', async () => {
    const file = join(home, 'a.bin')
    writeFileSync(file, randomBytes(1234))
    const pushed = json(await runPolar(['push', file, '--json'], {home}))
    const s = json(await runPolar(['status', '--json'], {home}))
    assert.equal(s.target, 'embedded')
    assert.equal(s.did, pushed.owner)
    assert.equal(s.objects, 1)
    assert.ok(s.bytes >= 1234)
    const ls = json(await runPolar(['ls', '--json'], {home}))
    assert.deepEqual(ls.map((o: any) => [o.cid, o.size, o.name]), [[pushed.cid, 1234, 'a.bin']])
    // Nothing unneeded after a whole push; the client defaults `polar config` set are shown.
    assert.deepEqual(s.unreferenced, {blocks: 0, bytes: 0})
    assert.deepEqual(s.config, {})
    assert.equal((await runPolar(['config', 'set', 'replicas', '2'], {home})).code, 0)
    const again = json(await runPolar(['status', '--json'], {home}))
    assert.deepEqual(again.config, {replicas: 2})
    assert.match((await runPolar(['status'], {home})).stdout.toString(), /^config: +replicas=2$/m)
  })
})

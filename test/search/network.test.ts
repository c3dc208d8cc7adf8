// Search and the web of trust across three real nodes (issue 5, "Done when"):
// a record pushed on one node is found from another by a word of its name
// and by tag (through the node, through --node URL, and not at all where
// nothing matches, or once its owner erased it); trust records published through different nodes
// (identities with no node of their own use --node) spread by gossip and the
// trust-sync loop, and scores on a graph with two paths to a key, a 3-hop key
// and a cycle equal the definition; remote writes are admitted by trust or a
// proof-of-work stamp.
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import {generateSecretKey, identityFromSecret} from '../../src/lib/identity/keys.js'
import {signTrustRecord} from '../../src/lib/records/trust-record.js'
import {json} from '../helpers.js'
import {Cluster, runPolar, waitFor, type NodeProcess} from '../node/cluster.js'

const SETTINGS = JSON.stringify({trustSyncIntervalMs: 300, writeStampBits: 10})

describe('search and trust on three nodes', {timeout: 240_000}, () => {
  const cluster = new Cluster()
  let a: NodeProcess, b: NodeProcess, c: NodeProcess
  let cid: string
  const dids: Record<string, string> = {}
  const homes: Record<string, string> = {}

  before(async () => {
    const hs = [cluster.home(), cluster.home(), cluster.home()]
    for (const h of hs) writeFileSync(join(h, 'settings.json'), SETTINGS)
    ;[a, b, c] = await Promise.all(hs.map((h) => cluster.start(h)))
    await Cluster.mesh([a, b, c])
    // Identities with no node of their own.
    for (const n of ['x', 'y', 'z', 'w']) {
      homes[n] = cluster.home()
      const r = await runPolar(['keygen', '--json'], {home: homes[n]})
      assert.equal(r.code, 0, r.stderr)
      dids[n] = json(r).did
    }
    const k = await a.polar(['keygen', '--json'])
    assert.equal(k.code, 0, k.stderr)
    dids.a = json(k).did
  })
  after(() => cluster.stop())

  it('finds a record pushed on one node from another, by a word of its name and by tag', async () => {
    const file = join(a.home, 'Quarterly Holiday Photos.jpg')
    writeFileSync(file, 'not really a jpeg, but bytes all the same')
    const pushed = await a.polar(['push', file, '--tag', 'vacation', '--replicas', '1', '--json'])
    assert.equal(pushed.code, 0, pushed.stderr)
    cid = json(pushed).cid

    const byWord = await c.polar(['search', 'holiday', '--json'])
    assert.equal(byWord.code, 0, byWord.stderr + cluster.logs())
    const rows = json(byWord)
    assert.equal(rows.length, 1)
    assert.equal(rows[0].cid, cid)
    assert.equal(rows[0].name, 'Quarterly Holiday Photos.jpg')
    assert.deepEqual(rows[0].tags, ['vacation'])
    assert.equal(rows[0].owner, dids.a)
    for (const key of ['cid', 'name', 'size', 'tags', 'owner', 'score']) assert.ok(key in rows[0], key)

    const byTag = await b.polar(['search', '--tag', 'vacation', '--json'])
    assert.equal(byTag.code, 0, byTag.stderr)
    assert.deepEqual(json(byTag).map((r: any) => r.cid), [cid])
    const prefixAndTag = await c.polar(['search', 'quart', '--tag', 'vacation', '--owner', dids.a, '--json'])
    assert.deepEqual(json(prefixAndTag).map((r: any) => r.cid), [cid])

    // Against --node from a home with no node: that node's index and its peers, asked from here.
    const remote = await runPolar(['search', 'photos', '--node', c.url, '--json'], {home: homes.x})
    assert.equal(remote.code, 0, remote.stderr)
    assert.deepEqual(json(remote).map((r: any) => r.cid), [cid])
    // Human output: a table row on stdout.
    const table = await c.polar(['search', 'holiday'])
    assert.match(table.stdout.toString(), new RegExp(cid))

    const none = await c.polar(['search', 'zebra', '--json'])
    assert.equal(none.code, 0)
    assert.deepEqual(json(none), [])
    // The owner's erase takes it out of every index (triggers on records), and search stops finding it.
    const scratch = join(a.home, 'scratch pad.txt')
    writeFileSync(scratch, 'short-lived')
    const p2 = await a.polar(['push', scratch, '--tag', 'ephemeral', '--json'])
    assert.equal(p2.code, 0, p2.stderr)
    await waitFor('the scratch pad found from c', async () => json(await c.polar(['search', 'scratch', '--json'])).length === 1)
    const erased = await a.polar(['erase', json(p2).cid, '--json'])
    assert.equal(erased.code, 0, erased.stderr + erased.stdout)
    await waitFor('the erased object gone from every index', async () => {
      const rows = await Promise.all([a, b, c].map(async (n) => json(await n.polar(['search', '--tag', 'ephemeral', '--json'])).length))
      return rows.every((n) => n === 0)
    })
    const bad = await c.polar(['search', 'x', '--owner', 'nobody', '--json'])
    assert.equal(bad.code, 2)
    assert.equal(json(bad).error.code, 'BAD_INPUT')
  })

  it('trust records spread, and scores on a graph with two paths, a 3-hop key and a cycle equal the definition', async () => {
    // a → x (1), a → y (3); x → z (1), x → w (1); y → z (1); z → w (1); w → a (1), w → x (1)
    const add = async (who: string, via: string[], target: string, weight: number) => {
      const r = who === 'a' ? await a.polar(['trust', 'add', dids[target], '--weight', String(weight), '--json']) : await runPolar(['trust', 'add', dids[target], '--weight', String(weight), ...via, '--json'], {home: homes[who]})
      assert.equal(r.code, 0, r.stderr + r.stdout)
      return json(r)
    }
    await add('a', [], 'x', 1)
    await add('a', [], 'y', 3)
    await add('x', ['--node', b.url], 'z', 1)
    await add('x', ['--node', c.url], 'w', 1) // x's current record is read back through c: gossip got it there
    await add('y', ['--node', c.url], 'z', 1)
    await add('z', ['--node', b.url], 'w', 1)
    await add('w', ['--node', c.url], 'a', 1)
    const last = await add('w', ['--node', b.url], 'x', 1)
    assert.deepEqual(last.trusts.map((e: any) => e.did).sort(), [dids.a, dids.x].sort())

    const expected: Record<string, number> = {
      x: 0.25, // a→x; a→…→w→x would be 4 hops
      y: 0.75,
      z: 0.25 * 0.5 + 0.75 * 1, // two paths: a→x→z, a→y→z
      w: 0.25 * 0.5 + 0.75 * 1 * 1 + 0.25 * 0.5 * 1, // a→x→w, and the 3-hop a→y→z→w and a→x→z→w
    }
    const score = async (n: NodeProcess, d: string) => json(await n.polar(['trust', 'score', dids[d], '--json']))
    for (const [d, want] of Object.entries(expected)) {
      const got = await waitFor(`score of ${d} on a`, async () => {
        const s = await score(a, d)
        return Math.abs(s.score - want) < 1e-9 ? s : null
      }, {timeoutMs: 20_000})
      assert.ok(got.paths.every((p: any) => p.path[0] === dids.a && new Set(p.path).size === p.path.length && p.path.length <= 4))
    }
    const w = await score(a, 'w')
    assert.deepEqual(w.paths.map((p: any) => p.path.length - 1).sort(), [2, 3, 3])
    assert.equal((await score(a, 'a')).score, 1)
    // Through --node URL the score is from the caller's own key.
    const viaRemote = await runPolar(['trust', 'score', dids.w, '--node', b.url, '--json'], {home: homes.z})
    assert.equal(viaRemote.code, 0, viaRemote.stderr)
    assert.equal(json(viaRemote).score, 1, 'z → w is z\'s only edge')
    const ls = await runPolar(['trust', 'ls', '--node', c.url, '--json'], {home: homes.x})
    assert.deepEqual(json(ls).map((e: any) => e.did).sort(), [dids.w, dids.z].sort())
  })

  it('a trusted key may write through --node; a stranger pays a stamp, or is refused under --max-stamp-bits', async () => {
    // x has trust 0.25 on a (≥ 0.1): admitted without work.
    const file = join(homes.x, 'from-x.txt')
    writeFileSync(file, 'written remotely by x')
    const ok = await runPolar(['push', file, '--node', a.url, '--max-stamp-bits', '0', '--tag', 'remote', '--json'], {home: homes.x})
    assert.equal(ok.code, 0, ok.stderr + ok.stdout)
    const pushed = json(ok)
    assert.equal(pushed.admittedBy, 'trust')
    assert.equal(pushed.owner, dids.x)
    const pulled = await a.polar(['pull', pushed.cid])
    assert.equal(pulled.stdout.toString(), 'written remotely by x')
    const found = await b.polar(['search', 'from', '--tag', 'remote', '--json'])
    assert.deepEqual(json(found).map((r: any) => r.cid), [pushed.cid])

    const stranger = cluster.home()
    const sfile = join(stranger, 'stranger.txt')
    writeFileSync(sfile, 'a stranger writes')
    const refused = await runPolar(['push', sfile, '--node', a.url, '--max-stamp-bits', '5', '--json'], {home: stranger})
    assert.equal(refused.code, 6, refused.stderr + refused.stdout)
    assert.equal(json(refused).error.code, 'STAMP_REQUIRED')
    const paid = await runPolar(['push', '-', '--name', 'stranger.txt', '--node', a.url, '--json'], {home: stranger, input: 'a stranger writes'})
    assert.equal(paid.code, 0, paid.stderr + paid.stdout)
    assert.equal(json(paid).admittedBy, 'stamp')
  })

  it('a node that joins later fetches the trust records within 3 hops of its owner (trust-sync loop)', async () => {
    const dh = cluster.home()
    writeFileSync(join(dh, 'settings.json'), SETTINGS)
    const d = await cluster.start(dh)
    await Cluster.join(d, b)
    const r = await d.polar(['trust', 'add', dids.x, '--weight', '1', '--json'])
    assert.equal(r.code, 0, r.stderr)
    // d → x → z (1 · 1/2); d → x → w → a is 3 hops (1 · 1/2 · 1/2) and needs w's record, two hops out.
    const score = async (who: string) => json(await d.polar(['trust', 'score', dids[who], '--json'])).score
    await waitFor('x\'s record on the new node', async () => (await score('z')) === 0.5, {timeoutMs: 20_000})
    await waitFor('w\'s record on the new node', async () => (await score('a')) === 0.25, {timeoutMs: 20_000})
  })

  it('over the wire: forged and malformed trust records are 400 and stored nowhere; bad searches are 400', async () => {
    const mallory = identityFromSecret('mallory', generateSecretKey())
    const post = (url: string, path: string, body: unknown) => fetch(url + path, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})
    const good = signTrustRecord([{did: dids.x, weight: 1}], mallory)
    const forged = dagCbor.decode(good.bytes) as any
    forged.trusts = [{did: dids.y, weight: 1}] // changed after signing
    const negative = {...forged, trusts: [{did: dids.y, weight: -5}]}
    for (const bad of [dagCbor.encode(forged), dagCbor.encode(negative), Buffer.from('not cbor'), dagCbor.encode({...forged, owner: dids.a})]) {
      const r = await post(a.url, '/v1/trust', {record: Buffer.from(bad).toString('base64')})
      assert.equal(r.status, 400)
      assert.equal((await r.json() as any).error.code, 'BAD_RECORD')
    }
    for (const body of [{}, {record: 5}, {record: 'x'.repeat(40_000)}]) assert.equal((await post(a.url, '/v1/trust', body)).status, 400)
    for (const n of [a, b, c]) assert.equal((await fetch(`${n.url}/v1/trust/${mallory.did}`)).status, 404)
    // The same record unforged is taken, and gossiped to the other nodes.
    const ok = await post(a.url, '/v1/trust', {record: Buffer.from(good.bytes).toString('base64')})
    assert.equal(ok.status, 200)
    await waitFor('mallory\'s record on c', async () => (await fetch(`${c.url}/v1/trust/${mallory.did}`)).status === 200)
    for (const q of ['limit=0', 'limit=abc', 'owner=x', `q=${Array.from({length: 20}, (_, i) => `w${i}`).join('+')}`, 'from=junk']) assert.equal((await fetch(`${a.url}/v1/search?${q}`)).status, 400, q)
  })
})

// Losing machines loses nothing (issue 3, "Done when"): 5 nodes in a full
// mesh, 5 objects pushed with 3 replicas on node 0, then node 0 and the node
// holding the most copies are SIGKILLed. Every object still pulls intact, and
// the repair loop brings each back to 3 full replicas among the survivors.
import assert from 'node:assert/strict'
import {createHash, randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {CID} from 'multiformats/cid'
import {remotePull} from '../../src/lib/client/remote.js'
import {rankNodes} from '../../src/lib/node/placement.js'
import {json} from '../helpers.js'
import {Cluster, hasBlocks, waitFor, type NodeProcess} from './cluster.js'

const KiB = 1024
const MiB = 1024 * KiB
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

describe('5 nodes, SIGKILL the pushing node and one more', {timeout: 150_000}, () => {
  const cluster = new Cluster()
  let nodes: NodeProcess[]
  let work: string
  // A single-block object, a small one, and multi-block ones (1 MiB leaves).
  const sizes = [100, 300 * KiB, MiB + 1, 2 * MiB + 5, 3 * MiB - 17]
  const objects: Array<{cid: string; sha: string; size: number; nodes: string[]}> = []
  let survivors: NodeProcess[]

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'polar-kill-work-'))
    nodes = await cluster.startMany(5)
    await Cluster.mesh(nodes)
  })
  after(async () => {
    await cluster.stop()
    rmSync(work, {recursive: true, force: true})
  })

  it('places each of 5 objects on 3 nodes', async () => {
    for (const [i, size] of sizes.entries()) {
      const data = randomBytes(size)
      const file = join(work, `obj-${i}`)
      writeFileSync(file, data)
      const r = await nodes[0].polar(['push', file, '--replicas', '3', '--json'])
      assert.equal(r.code, 0, r.stderr + r.stdout + cluster.logs())
      const res = json(r)
      assert.equal(res.replicas, 3)
      assert.equal(new Set(res.nodes).size, 3)
      objects.push({cid: res.cid, sha: sha(data), size, nodes: res.nodes})
    }
  })

  it('SIGKILL node 0 and the node with the most copies: every object pulls intact and gets 3 replicas again', async () => {
    assert.equal(objects.length, 5, 'the push step placed 5 objects')
    const counts = new Map<string, number>()
    for (const o of objects) for (const d of o.nodes) if (d !== nodes[0].did) counts.set(d, (counts.get(d) ?? 0) + 1)
    const victim = nodes.slice(1).sort((a, b) => (counts.get(b.did) ?? 0) - (counts.get(a.did) ?? 0))[0]
    const killed = await Promise.all([nodes[0].kill(), victim.kill()])
    for (const k of killed) assert.equal(k.signal, 'SIGKILL')
    survivors = nodes.filter((n) => n !== nodes[0] && n !== victim)
    // Each object lost at most 2 of its 3 holders.
    for (const o of objects) assert.ok(o.nodes.some((d) => survivors.some((s) => s.did === d)), `${o.cid} has a surviving holder`)

    // Repair (1 s interval) restores 3 holders of every root among the 3 survivors.
    const started = Date.now()
    await waitFor('3 surviving holders of every object', async () => {
      const answers = await Promise.all(survivors.map((s) => hasBlocks(s.url, objects.map((o) => o.cid))))
      return objects.every((_, j) => answers.every((a) => a[j]))
    }, {timeoutMs: 60_000, intervalMs: 250}).catch((err) => {
      throw new Error(`${err.message}\n${cluster.logs()}`)
    })
    const repairMs = Date.now() - started

    // Each survivor holds every block, not only the root: a pull from its public
    // API (blocks verified here, as `pull --node` does) gives the original bytes.
    const dir = mkdtempSync(join(work, 'check-'))
    for (const s of survivors) {
      for (const o of objects) {
        const out = join(dir, `${o.cid}-${s.pid}`)
        const r = await remotePull(s.url, {cid: o.cid, output: out})
        assert.equal(r.size, o.size)
        assert.equal(sha(readFileSync(out)), o.sha, `${o.cid} from ${s.url}`)
      }
    }
    // And through a survivor's socket, as a user would pull it.
    for (const o of objects) {
      const r = await survivors[0].polar(['pull', o.cid])
      assert.equal(r.code, 0, r.stderr)
      assert.equal(sha(r.stdout), o.sha)
    }
    // The repairs were logged by the nodes that led them.
    assert.match(survivors.map((s) => s.stderr()).join('\n'), /repaired \S+: 3 replicas/)
    assert.ok(repairMs < 60_000)
  })

  it('the survivors keep running and mark the killed nodes as not alive', async () => {
    for (const s of survivors) assert.equal(s.running, true, `${s.url} still runs`)
    const dead = new Set(nodes.filter((n) => !survivors.includes(n)).map((n) => n.did))
    assert.equal(dead.size, 2)
    await waitFor('survivors to see the killed nodes fail', async () => {
      for (const s of survivors) {
        const r = await s.polar(['peers', '--json'])
        if (r.code !== 0) return false
        const rows = json(r) as Array<{did: string; state: string}>
        // Both killed nodes must still be in the table (not alive): a table without them would pass vacuously.
        const killedRows = rows.filter((p) => dead.has(p.did))
        assert.equal(killedRows.length, dead.size, `${s.url} still lists both killed nodes: ${JSON.stringify(rows)}`)
        if (!killedRows.every((p) => p.state !== 'alive')) return false
      }
      return true
    }, {timeoutMs: 30_000, intervalMs: 500})
  })
})

// The repair leader is the first holder in rendezvous order; a node that only
// pulled an object (it holds the blocks, not the record) answers `has` like a
// replica but never repairs. When it ranks first, the others must still act.
describe('repair when the first-ranked holder is a node that only pulled the object', {timeout: 120_000}, () => {
  const cluster = new Cluster()
  let nodes: NodeProcess[]

  before(async () => {
    nodes = await cluster.startMany(5)
    await Cluster.mesh(nodes)
  })
  after(() => cluster.stop())

  it('the pushing node repairs after a few passes', async () => {
    const [a] = nodes
    const work = cluster.home('polar-kill-work-')
    // Push until the object's non-holders include one that outranks `a` for it.
    let pushed: any
    let cache: NodeProcess | undefined
    let spare: NodeProcess | undefined
    for (let i = 0; i < 30 && !cache; i++) {
      const data = randomBytes(150_000)
      writeFileSync(join(work, `f${i}`), data)
      const r = await a.polar(['push', join(work, `f${i}`), '--replicas', '3', '--json'])
      assert.equal(r.code, 0, r.stderr)
      pushed = {...json(r), sha: sha(data)}
      const outside = nodes.filter((n) => !pushed.nodes.includes(n.did))
      cache = outside.find((n) => rankNodes(CID.parse(pushed.cid), [n, a])[0] === n)
      spare = outside.find((n) => n !== cache)
    }
    assert.ok(cache && spare, 'found an object for the scenario')
    const viaCache = await cache.polar(['pull', pushed.cid])
    assert.equal(viaCache.code, 0, viaCache.stderr)
    await waitFor('the pull cache to keep the blocks', async () => (await hasBlocks(cache!.url, [pushed.cid]))[0], {timeoutMs: 10_000})
    // Kill the two other replicas: `a` and the pull cache are left holding it.
    await Promise.all(nodes.filter((n) => n !== a && pushed.nodes.includes(n.did)).map((n) => n.kill()))
    await waitFor(`the spare node ${spare.url} to get a replica`, async () => (await hasBlocks(spare!.url, [pushed.cid]))[0], {timeoutMs: 30_000, intervalMs: 250})
      .catch((err) => { throw new Error(`${err.message}\n${cluster.logs()}`) })
    const out = join(work, 'check')
    await remotePull(spare.url, {cid: pushed.cid, output: out})
    assert.equal(sha(readFileSync(out)), pushed.sha)
  })
})

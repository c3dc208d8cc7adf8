// Replication across real nodes (issue 3, "Done when"): an object pushed with
// 3 replicas is held by 3 distinct nodes and pulls intact from a node that
// never had it; --min-replicas above what the network can give fails with
// exit 5 while the object stays stored and placed.
import assert from 'node:assert/strict'
import {createHash, randomBytes} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {spawn} from 'node:child_process'
import {after, before, describe, it} from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import {CID} from 'multiformats/cid'
import {rankNodes} from '../../src/lib/node/placement.js'
import {replicateTo} from '../../src/lib/node/replicator.js'
import {json} from '../helpers.js'
import {CLI, Cluster, hasBlocks, waitFor, type NodeProcess} from './cluster.js'

const MiB = 1024 * 1024
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

describe('replication over 4 nodes joined with `peers add`', {timeout: 120_000}, () => {
  const cluster = new Cluster()
  let nodes: NodeProcess[]
  let work: string
  const data = randomBytes(3 * MiB + 12345)
  let pushed: any

  before(async () => {
    work = cluster.home('polar-repl-work-')
    writeFileSync(join(work, 'data.bin'), data)
    nodes = await cluster.startMany(4)
    await Cluster.mesh(nodes)
  })
  after(() => cluster.stop())

  it('pushes with --replicas 3: three distinct nodes confirm the whole object', async () => {
    const [a] = nodes
    const r = await a.polar(['push', join(work, 'data.bin'), '--replicas', '3', '--json'])
    assert.equal(r.code, 0, r.stderr + r.stdout + cluster.logs())
    pushed = json(r)
    assert.equal(pushed.replicas, 3)
    assert.equal(pushed.size, data.length)
    assert.equal(new Set(pushed.nodes).size, 3, 'three distinct nodes')
    assert.ok(pushed.nodes.includes(a.did), 'the pushing node holds it')
    for (const did of pushed.nodes) assert.ok(nodes.some((n) => n.did === did), `${did} is one of the cluster's nodes`)
    // The nodes named hold the root; the one left out does not.
    for (const n of nodes) {
      const [has] = await hasBlocks(n.url, [pushed.cid])
      assert.equal(has, pushed.nodes.includes(n.did), `${n.url} holds ${pushed.cid}: ${has}`)
    }
  })

  it('pulls byte-identical through a node that did not get a copy', async () => {
    const outsider = nodes.find((n) => !pushed.nodes.includes(n.did))!
    assert.ok(outsider, 'one of the 4 nodes is not among the 3 replicas')
    // Streamed to stdout through the outsider's socket.
    const r = await outsider.polar(['pull', pushed.cid])
    assert.equal(r.code, 0, r.stderr + cluster.logs())
    assert.equal(r.stdout.length, data.length)
    assert.equal(sha(r.stdout), sha(data))
    // And to a file with --json.
    const out = join(work, 'pulled.bin')
    const j = await outsider.polar(['pull', pushed.cid, '-o', out, '--json'])
    assert.equal(j.code, 0, j.stderr)
    assert.deepEqual(json(j), {cid: pushed.cid, size: data.length, path: out})
    assert.equal(sha(readFileSync(out)), sha(data))
    // The blocks it fetched were kept (an interrupted pull resumes from them);
    // they are indexed once the response is done, so the reader may be quicker.
    await waitFor('the outsider to keep the blocks', async () => (await hasBlocks(outsider.url, [pushed.cid]))[0], {timeoutMs: 10_000})
  })

  it('an interrupted pull keeps the blocks that arrived, and the next pull completes', async () => {
    const [a] = nodes
    const big = randomBytes(24 * MiB)
    const file = join(work, 'big.bin')
    writeFileSync(file, big)
    const r = await a.polar(['push', file, '--replicas', '2', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const res = json(r)
    // The repair loop (k = 3 by default) will place a third copy on the first-ranked
    // of the two other nodes; pull through the last-ranked, which it leaves alone.
    const outsider = rankNodes(CID.parse(res.cid), nodes.filter((n) => !res.nodes.includes(n.did))).at(-1)!
    const root = await fetch(`${a.url}/v1/blocks/${res.cid}`)
    const leaves = dagPb.decode(new Uint8Array(await root.arrayBuffer())).Links.map((l) => l.Hash.toString())
    assert.equal(leaves.length, 24)
    // Read 2 MiB of the stream, then kill the reader.
    const child = spawn(process.execPath, [CLI, 'pull', res.cid], {env: {...process.env, POLAR_HOME: outsider.home, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
    const exited = new Promise((resolve) => child.once('exit', resolve))
    let got = 0
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          got += d.length
          if (got >= 2 * MiB) {
            child.stdout.pause()
            resolve()
          }
        })
        child.once('exit', () => reject(new Error(`pull exited after ${got} bytes`)))
        setTimeout(() => reject(new Error('no 2 MiB in 30 s')), 30_000).unref()
      })
    } finally {
      child.kill('SIGKILL')
      await exited
    }
    // The node kept what it had fetched and verified (written when the stream closed).
    const kept = await waitFor('fetched blocks to be kept', async () => {
      const have = await hasBlocks(outsider.url, leaves)
      const n = have.filter(Boolean).length
      return n >= 2 ? n : 0
    }, {timeoutMs: 10_000})
    assert.ok(kept >= 2, `kept ${kept} of 24 leaves`)
    process.stderr.write(`interrupted pull: ${got} bytes read, ${kept} of 24 leaves kept\n`)
    const again = await outsider.polar(['pull', res.cid])
    assert.equal(again.code, 0, again.stderr)
    assert.equal(sha(again.stdout), sha(big))
    await waitFor('every leaf kept', async () => (await hasBlocks(outsider.url, leaves)).every(Boolean), {timeoutMs: 10_000})
  })

  it('--min-replicas 5 with 4 nodes: exit 5 TOO_FEW_REPLICAS, and the object is still stored and placed', async () => {
    const [a] = nodes
    const other = randomBytes(MiB + 7)
    const file = join(work, 'other.bin')
    writeFileSync(file, other)
    const r = await a.polar(['push', file, '--replicas', '5', '--min-replicas', '5', '--json'])
    assert.equal(r.code, 5, r.stderr + r.stdout)
    const err = json(r).error
    assert.equal(err.code, 'TOO_FEW_REPLICAS')
    const cid = /\b(baf[a-z0-9]{50,})\b/.exec(err.message)?.[1]
    assert.ok(cid, `the message names the CID: ${err.message}`)
    assert.match(err.message, /\b4 node/, 'it says how many hold it')
    // Every one of the 4 nodes holds it (placement went as far as it could).
    for (const n of nodes) assert.deepEqual(await hasBlocks(n.url, [cid]), [true], `${n.url} holds ${cid}`)
    const pull = await a.polar(['pull', cid])
    assert.equal(pull.code, 0, pull.stderr)
    assert.equal(sha(pull.stdout), sha(other))
  })

  // The K a push asks for is stored with the object (object_replicas), so the
  // repair loop keeps --replicas 1 at one, not at the node's default of 3.
  it('keeps an object pushed with --replicas 1 at one replica', async () => {
    const [a] = nodes
    const file = join(work, 'single.bin')
    writeFileSync(file, randomBytes(5000))
    const r = await a.polar(['push', file, '--replicas', '1', '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(json(r).replicas, 1)
    const deadline = Date.now() + 3_000
    while (Date.now() < deadline) {
      const held = await Promise.all(nodes.map(async (n) => (await hasBlocks(n.url, [json(r).cid]))[0]))
      assert.equal(held.filter(Boolean).length, 1, 'only the pushing node holds it')
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  })
})

describe('replication with a peer that stops answering (black-holed)', {timeout: 120_000}, () => {
  const cluster = new Cluster()
  after(() => cluster.stop())

  it('gives the silent peer up when its hello goes unanswered (the probe ends it, not the 30 s request time-out)', async () => {
    const [a, b, c] = await cluster.startMany(3)
    await Cluster.mesh([a, b, c])
    const file = join(cluster.home('polar-repl-silent-'), 'data.bin')
    writeFileSync(file, randomBytes(300_000))
    // SIGSTOP: the kernel still accepts c's connections, but nothing answers, as when
    // a partition drops packets. Pushed at once, before a's ping loop could mark c dead.
    process.kill(c.pid, 'SIGSTOP')
    try {
      const r = await a.polar(['push', file, '--replicas', '3', '--json'])
      assert.equal(r.code, 0, r.stderr + cluster.logs())
      assert.equal(json(r).replicas, 2, 'a and b hold it; c never answered')
      assert.deepEqual(json(r).nodes.sort(), [a.did, b.did].sort())
      await waitFor('the probe to be logged', () => /failed a hello while replicating \(within 5 s\)/.test(a.stderr()), {timeoutMs: 5_000})
    } finally {
      process.kill(c.pid, 'SIGCONT')
    }
  })
})

describe('replicateTo: the hello beside a replication', () => {
  /** A peer client whose hello answers (or fails) as told, and whose replicate takes `ms` unless aborted. */
  function fakeCtx(hello: () => Promise<unknown>, ms: number) {
    const client = {
      hello,
      objects: {
        replicate: (_r: Uint8Array, _s: string[], o: {signal: AbortSignal}) => new Promise((resolve, reject) => {
          const t = setTimeout(() => resolve({held: true, blocks: 1}), ms)
          o.signal.addEventListener('abort', () => { clearTimeout(t); reject(o.signal.reason) }, {once: true})
        }),
      },
    }
    return {client: () => client, url: 'http://self'} as any
  }
  const peer = {did: 'did:key:zpeer', url: 'http://peer'}

  it('a peer that answers the hello is left to finish its replication (nothing else ends it)', async () => {
    assert.equal(await replicateTo(fakeCtx(async () => ({did: peer.did}), 150), peer, new Uint8Array(1), 3), true)
  })

  it('a failed hello ends the replication at once, saying why', async () => {
    await assert.rejects(replicateTo(fakeCtx(async () => { throw new Error('connect ECONNREFUSED') }, 60_000), peer, new Uint8Array(1), 3), /http:\/\/peer failed a hello while replicating \(within 5 s\): connect ECONNREFUSED/)
  })

  it('a peer that stops answering part way is given up at its next hello', async () => {
    let hellos = 0
    const hello = async () => {
      if (++hellos === 1) return {did: peer.did}
      throw new Error('no answer')
    }
    await assert.rejects(replicateTo(fakeCtx(hello, 60_000), peer, new Uint8Array(1), 3), /failed a hello while replicating \(within 5 s\): no answer/)
    assert.equal(hellos, 2, 'the second hello (5 s later) ended it')
  })

  it("the caller's abort ends it too", async () => {
    const abort = new AbortController()
    const pending = replicateTo(fakeCtx(() => new Promise(() => {}), 60_000), peer, new Uint8Array(1), 3, abort.signal)
    abort.abort(new Error('node stopping'))
    await assert.rejects(pending, /node stopping/)
  })
})

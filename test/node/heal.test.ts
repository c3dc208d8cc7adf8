// Bit rot on one replica is caught and healed (issue 3, "Done when"): bytes of
// a stored block are flipped in a running node's pack file; the node refuses to
// serve that block to peers, a pull through it still gives the right bytes
// (the block comes again from a replica, verified), and afterwards the local
// copy verifies. The embedded store, with no node to heal from, exits 4.
import assert from 'node:assert/strict'
import {createHash, randomBytes} from 'node:crypto'
import {closeSync, openSync, readSync, writeFileSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import Database from 'better-sqlite3'
import {CID} from 'multiformats/cid'
import {json} from '../helpers.js'
import {Cluster, hasBlocks, localApi, packPath, runPolar, waitFor, type NodeProcess} from './cluster.js'

const MiB = 1024 * 1024
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** Where a block sits: its pack and offset, read from polar.db (WAL: fine while the node runs). */
function locate(home: string, cid: string): {pack: number; offset: number; length: number} {
  const db = new Database(join(home, 'polar.db'), {readonly: true, fileMustExist: true})
  try {
    const row = db.prepare('SELECT pack, offset, length FROM blocks WHERE cid = ?').get(CID.parse(cid).bytes) as any
    assert.ok(row, `block ${cid} is indexed in ${home}`)
    return row
  } finally {
    db.close()
  }
}

/** XORs a few bytes in the middle of a stored block, in place. */
function flipBytes(home: string, cid: string): void {
  const {pack, offset, length} = locate(home, cid)
  const fd = openSync(packPath(home, pack), 'r+')
  try {
    const at = offset + Math.floor(length / 2)
    const buf = Buffer.alloc(4)
    readSync(fd, buf, 0, 4, at)
    for (let i = 0; i < 4; i++) buf[i] ^= 0xa5
    writeSync(fd, buf, 0, 4, at)
  } finally {
    closeSync(fd)
  }
}

async function getBlock(url: string, cid: string): Promise<{status: number; bytes: Buffer; body: any}> {
  const res = await fetch(`${url}/v1/blocks/${cid}`, {signal: AbortSignal.timeout(5_000)})
  const bytes = Buffer.from(await res.arrayBuffer())
  let body: any
  try {
    body = JSON.parse(bytes.toString('utf8'))
  } catch {}
  return {status: res.status, bytes, body}
}

describe('healing a corrupt block', {timeout: 120_000}, () => {
  const cluster = new Cluster()
  let nodes: NodeProcess[]
  const data = randomBytes(3 * MiB + 1000)
  let cid: string
  let leaves: string[]

  before(async () => {
    nodes = await cluster.startMany(3)
    await Cluster.mesh(nodes)
    const file = join(cluster.home('polar-heal-work-'), 'data.bin')
    writeFileSync(file, data)
    const r = await nodes[0].polar(['push', file, '--replicas', '3', '--json'])
    assert.equal(r.code, 0, r.stderr + cluster.logs())
    assert.equal(json(r).replicas, 3)
    cid = json(r).cid
    const root = await getBlock(nodes[0].url, cid)
    assert.equal(root.status, 200)
    leaves = dagPb.decode(root.bytes).Links.map((l) => l.Hash.toString())
    assert.equal(leaves.length, 4)
  })
  after(() => cluster.stop())

  it('a running replica with a flipped block serves the right bytes and heals its copy', async () => {
    const b = nodes[1]
    const leaf = leaves[1]
    const before = await getBlock(b.url, leaf)
    assert.equal(before.status, 200)
    const good = before.bytes
    const was = locate(b.home, leaf)

    flipBytes(b.home, leaf)

    // Peers are not handed the damaged block.
    const bad = await getBlock(b.url, leaf)
    assert.equal(bad.status, 404)
    assert.equal(bad.body?.error?.code, 'CORRUPT')

    const r = await b.polar(['pull', cid])
    assert.equal(r.code, 0, r.stderr + b.stderr())
    assert.equal(r.stdout.length, data.length)
    assert.equal(sha(r.stdout), sha(data))
    assert.match(b.stderr(), new RegExp(`local block ${leaf} failed verification`))
    // The node keeps the good copy once the stream is done (the reader may exit first).
    await waitFor('the node to log the heal', () => /healed 1 corrupt block/.test(b.stderr()), {timeoutMs: 10_000, intervalMs: 50})

    // Healed: the index points at a fresh good copy, which verifies when served.
    const now = locate(b.home, leaf)
    assert.notDeepEqual(now, was, 'the block was rewritten elsewhere')
    const after = await getBlock(b.url, leaf)
    assert.equal(after.status, 200)
    assert.ok(after.bytes.equals(good))
    assert.deepEqual(await hasBlocks(b.url, [leaf]), [true])
  })

  it('the IPFS gateway refuses a corrupt block, and the node heals it from a peer in the background', async () => {
    const c = nodes[2]
    const leaf = leaves[2]
    const good = (await getBlock(c.url, leaf)).bytes
    flipBytes(c.home, leaf)
    const first = await fetch(`${c.url}/ipfs/${leaf}?format=raw`)
    assert.equal(first.status, 404, 'a block that fails verification is never served')
    await first.arrayBuffer()
    await waitFor('the gateway-triggered heal', () => new RegExp(`healed block ${leaf} from a peer`).test(c.stderr()), {timeoutMs: 10_000, intervalMs: 50})
    const second = await fetch(`${c.url}/ipfs/${leaf}?format=raw`)
    assert.equal(second.status, 200)
    assert.ok(Buffer.from(await second.arrayBuffer()).equals(good))
  })

  it('a corrupt block on a replica does not spread: a new pull elsewhere still verifies', async () => {
    // Damage the same leaf on node 2 and pull through node 0, whose copy is good;
    // then through node 2, whose peers (0 and 1) have good copies.
    const c = nodes[2]
    flipBytes(c.home, leaves[2])
    const r0 = await nodes[0].polar(['pull', cid])
    assert.equal(r0.code, 0, r0.stderr)
    assert.equal(sha(r0.stdout), sha(data))
    const r2 = await c.polar(['pull', cid])
    assert.equal(r2.code, 0, r2.stderr)
    assert.equal(sha(r2.stdout), sha(data))
    await waitFor('node 2 to keep the good copy', async () => (await getBlock(c.url, leaves[2])).status === 200, {timeoutMs: 10_000})
  })

  it('the embedded store (no node running) reports a corrupt block with exit 4', async () => {
    const c = nodes[2]
    const stopped = await c.stop()
    assert.equal(stopped.code, 0)
    flipBytes(c.home, leaves[3])
    const out = join(c.home, 'out.bin')
    const r = await runPolar(['pull', cid, '-o', out, '--json'], {home: c.home})
    assert.equal(r.code, 4, r.stderr + r.stdout)
    assert.equal(json(r).error.code, 'INTEGRITY')
    assert.match(json(r).error.message, new RegExp(leaves[3]))
    // Nothing half-written is left at the output path.
    await waitFor('no output file', () => {
      try {
        closeSync(openSync(out, 'r'))
        return false
      } catch {
        return true
      }
    }, {timeoutMs: 1_000})
    // Streaming to stdout fails the same way.
    const s = await runPolar(['pull', cid], {home: c.home})
    assert.equal(s.code, 4)
  })

  it('a node whose only copy is corrupt and that has no peer to heal from fails with exit 4, never wrong bytes', async () => {
    // Node 0 stops being able to get help: remove its peers through its local API.
    const a = nodes[0]
    for (const n of nodes.slice(1)) await localApi(a.socket, 'DELETE', `/api/v1/peers/${n.did}`)
    flipBytes(a.home, leaves[0])
    const r = await a.polar(['pull', cid, '-o', join(a.home, 'x.bin'), '--json'])
    assert.equal(r.code, 4, r.stdout + r.stderr)
    assert.equal(json(r).error.code, 'INTEGRITY')
    // Streamed: the failure arrives after the first bytes (trailer), still exit 4.
    const s = await a.polar(['pull', cid])
    assert.equal(s.code, 4, s.stderr)
    assert.ok(s.stdout.length < data.length)
  })
})

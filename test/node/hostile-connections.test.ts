// Hostile peers and strangers holding connections, request slots and memory
// (issue 20 points 7 and 8), played against a real node on loopback: a flood
// of slow or idle connections from one address, floods from several networks,
// request bodies that trickle in, and clients that pipeline block batches and
// never read the answers. Each time another address must still be served, the
// node must cut the hostile connections off by itself, and (for unread
// answers) its memory must stay bounded. 127.0.0.0/8 is all loopback on
// Linux: each "address" here is a distinct local source address.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {connect, type Socket} from 'node:net'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import {Pool} from 'undici'
import {decodeFrames} from '../../src/lib/net/frames.js'
import {json} from '../helpers.js'
import {Cluster, localApi, waitFor, type NodeProcess} from './cluster.js'

const MiB = 1024 * 1024

/** A raw connection from `localAddress`, resolved once connected (the node may close it at once). */
function open(node: NodeProcess, localAddress: string): Promise<Socket> {
  const {port} = new URL(node.url)
  return new Promise((resolve, reject) => {
    const s = connect({port: Number(port), host: '127.0.0.1', localAddress}, () => resolve(s))
    s.on('error', () => {})
    s.once('close', () => reject(new Error('closed before connecting')))
  })
}

/** Sends a request head a line at a time, a line every half second, never finishing it. */
async function slowHead(node: NodeProcess, localAddress: string): Promise<Socket> {
  const s = await open(node, localAddress)
  s.write('GET /v1/hello HTTP/1.1\r\nhost: x\r\n')
  const t = setInterval(() => { if (!s.destroyed) s.write('x-slow: 1\r\n') }, 500)
  s.once('close', () => clearInterval(t))
  return s
}

/** A whole request head, then a 1000-byte body at one byte a second. */
async function slowBody(node: NodeProcess, localAddress: string): Promise<{socket: Socket; answer: () => string}> {
  const s = await open(node, localAddress)
  let answer = ''
  s.on('data', (d) => (answer += d))
  s.write('POST /v1/blocks/has HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{')
  const t = setInterval(() => { if (!s.destroyed) s.write(' ') }, 1000)
  s.once('close', () => clearInterval(t))
  return {socket: s, answer: () => answer}
}

const closed = (s: Socket) => s.destroyed || s.readyState === 'closed'

async function helloFrom(node: NodeProcess, localAddress: string): Promise<number> {
  const pool = new Pool(node.url, {connections: 1, localAddress})
  try {
    const r = await pool.request({method: 'GET', path: '/v1/hello', signal: AbortSignal.timeout(20_000)})
    await r.body.text()
    return r.statusCode
  } finally {
    await pool.destroy()
  }
}

async function inbound(node: NodeProcess): Promise<Record<string, number>> {
  return (await localApi(node.socket, 'GET', '/api/v1/status')).body.limits.inbound
}

describe('hostile connections: floods of slow heads, idle connections, slow bodies (issue 20 point 7)', {timeout: 180_000}, () => {
  const cluster = new Cluster()
  let node: NodeProcess
  const sockets: Socket[] = []
  before(async () => {
    const home = cluster.home()
    // Short time-outs so the test does not wait the default 10 s for each.
    writeFileSync(join(home, 'settings.json'), JSON.stringify({headersTimeoutMs: 2000, bodyTimeoutMs: 2000}))
    node = await cluster.start(home, ['--max-connections', '64', '--max-requests', '16'])
  })
  after(async () => {
    for (const s of sockets) s.destroy()
    await cluster.stop()
  })

  it('a flood of slow heads and idle connections from one /24 leaves another address served, and is timed out', async () => {
    const flood: Socket[] = []
    for (let i = 0; i < 60; i++) {
      flood.push(await slowHead(node, '127.0.1.2').catch(() => null as any))
      flood.push(await open(node, '127.0.1.3').catch(() => null as any)) // idle: sends nothing at all
    }
    sockets.push(...flood.filter(Boolean))
    assert.equal(await helloFrom(node, '127.0.2.3'), 200, 'another address is served during the flood')
    const counts = await inbound(node)
    assert.ok(counts.connectionsRefused >= 120 - 32, `the /24 holds at most 32 connections: ${JSON.stringify(counts)}`)
    await waitFor('the node to close every flooding connection', () => flood.every((s) => !s || closed(s)), {timeoutMs: 30_000, intervalMs: 200})
    assert.equal(await helloFrom(node, '127.0.1.2'), 200, 'the flooding address is served again once it behaves')
    assert.ok(node.running)
  })

  it('slow request bodies from one address do not take every request slot, and are cut off with 408', async () => {
    const slow = []
    for (let i = 0; i < 30; i++) slow.push(await slowBody(node, '127.0.8.2'))
    sockets.push(...slow.map((x) => x.socket))
    await waitFor('the slow bodies to be in hand', async () => (await inbound(node)).activeRequests >= 4, {intervalMs: 100})
    assert.equal(await helloFrom(node, '127.0.9.3'), 200, 'another address is served while the bodies trickle')
    const pool = new Pool(node.url, {connections: 1, localAddress: '127.0.9.4'})
    try {
      const r = await pool.request({method: 'POST', path: '/v1/blocks/has', headers: {'content-type': 'application/json'}, body: JSON.stringify({cids: []}), signal: AbortSignal.timeout(20_000)})
      assert.equal(r.statusCode, 200)
      assert.deepEqual(await r.body.json(), {have: []})
    } finally {
      await pool.destroy()
    }
    await waitFor('the node to cut every slow body off', () => slow.every((x) => closed(x.socket)), {timeoutMs: 90_000, intervalMs: 250})
    assert.ok(slow.some((x) => x.answer().startsWith('HTTP/1.1 408')), 'a slow body in hand is told 408')
    const counts = await inbound(node)
    assert.ok(counts.slowBodies > 0, JSON.stringify(counts))
    await waitFor('every slot to be free', async () => (await inbound(node)).activeRequests === 0, {intervalMs: 200})
  })
})

describe('hostile connections: floods from several networks leave the reserve to others (issue 20 point 7)', {timeout: 120_000}, () => {
  const cluster = new Cluster()
  let node: NodeProcess
  const sockets: Socket[] = []
  before(async () => {
    node = await cluster.start(undefined, ['--max-connections', '64'])
  })
  after(async () => {
    for (const s of sockets) s.destroy()
    await cluster.stop()
  })

  it('four flooding networks hold at most 52 of 64 connections; an address under its share still gets in', async () => {
    // 64 connections: 16 per address, 32 per /24, and the last 16 only for addresses holding fewer than 4 (a quarter of 16).
    for (const a of ['127.0.4.2', '127.0.5.2', '127.0.6.2', '127.0.7.2']) {
      for (let i = 0; i < 16; i++) {
        const s = await open(node, a).catch(() => undefined)
        if (s) sockets.push(s)
      }
    }
    await waitFor('the flood to be counted', async () => {
      const c = await inbound(node)
      return c.openConnections + c.connectionsRefused >= 64
    }, {intervalMs: 100})
    const counts = await inbound(node)
    assert.equal(counts.openConnections, 52, JSON.stringify(counts))
    assert.equal(counts.connectionsRefused, 12)
    assert.equal(await helloFrom(node, '127.0.50.9'), 200, 'an address that is not flooding is served')
  })
})

describe('unread batch answers (issue 20 point 8)', {timeout: 180_000}, () => {
  const cluster = new Cluster()
  let node: NodeProcess
  let leaves: string[]
  const data = randomBytes(32 * MiB)
  const sockets: Socket[] = []
  before(async () => {
    const home = cluster.home()
    writeFileSync(join(home, 'settings.json'), JSON.stringify({answerStallMs: 8000}))
    node = await cluster.start(home, ['--replicas', '1'])
    const file = join(cluster.home('polar-unread-work-'), 'data.bin')
    writeFileSync(file, data)
    const r = await node.polar(['push', file, '--replicas', '1', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const root = await fetch(`${node.url}/v1/blocks/${json(r).cid}`)
    leaves = dagPb.decode(new Uint8Array(await root.arrayBuffer())).Links.map((l) => l.Hash.toString())
    assert.equal(leaves.length, 32)
  })
  after(async () => {
    for (const s of sockets) s.destroy()
    await cluster.stop()
  })

  it('an answer nobody reads holds its request slot until it is written, and is cut off when it does not move', async () => {
    const body = JSON.stringify({cids: leaves})
    const request = `POST /v1/blocks/get HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    const stuck: Socket[] = []
    try {
      for (let i = 0; i < 3; i++) {
        const s = await open(node, '127.0.13.2')
        s.pause() // never reads
        s.write(request)
        stuck.push(s)
      }
      await waitFor('three unread answers in hand', async () => (await inbound(node)).activeRequests >= 3, {timeoutMs: 6_000, intervalMs: 100})
      const before = (await inbound(node)).stalledAnswers
      await waitFor('the node to cut off the answers nobody reads', async () => (await inbound(node)).stalledAnswers >= before + 3, {timeoutMs: 60_000, intervalMs: 250})
      await waitFor('every slot to be free', async () => (await inbound(node)).activeRequests === 0, {intervalMs: 200})
    } finally {
      for (const s of stuck) s.destroy()
    }
  })

  it('10 connections pipelining 8 batches of 32 MiB each and never reading hold their slots but not the memory; others are served', async () => {
    const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${node.pid}/status`, 'utf8'))![1]) * 1024
    // Warm up the serving path (pool buffers, code) so the baseline is the node at work, not at rest.
    const warm = await fetch(`${node.url}/v1/blocks/get`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({cids: leaves.slice(0, 8)})})
    assert.equal((await warm.arrayBuffer()).byteLength > 8 * MiB, true)
    const baseline = rss()
    const body = JSON.stringify({cids: leaves})
    const request = `POST /v1/blocks/get HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    for (let i = 0; i < 10; i++) {
      const s = await open(node, '127.0.11.2')
      s.pause() // never reads
      s.write(request.repeat(8))
      sockets.push(s)
    }
    let peak = baseline
    let mostInHand = 0
    const started = Date.now()
    while (Date.now() - started < 4_000) {
      peak = Math.max(peak, rss())
      mostInHand = Math.max(mostInHand, (await inbound(node)).activeRequests)
      await new Promise((r) => setTimeout(r, 100))
    }
    // Another address gets a batch, whole and right, while the answers sit unread.
    const other = new Pool(node.url, {connections: 1, localAddress: '127.0.12.3'})
    try {
      const r = await other.request({method: 'POST', path: '/v1/blocks/get', headers: {'content-type': 'application/json'}, body: JSON.stringify({cids: leaves.slice(4, 8)}), signal: AbortSignal.timeout(20_000)})
      assert.equal(r.statusCode, 200)
      const frames = decodeFrames(Buffer.from(await r.body.arrayBuffer()))
      assert.ok(Buffer.concat(frames.map((f) => f.bytes)).equals(data.subarray(4 * MiB, 8 * MiB)))
    } finally {
      await other.destroy()
    }
    peak = Math.max(peak, rss())
    const grew = peak - baseline
    process.stderr.write(`unread answers: rss ${(baseline / MiB).toFixed(0)} MiB at start, peak +${(grew / MiB).toFixed(0)} MiB; at most ${mostInHand} requests in hand\n`)
    // 80 answers of 32 MiB built whole would be 2.5 GiB; streamed, each connection holds about 1 MiB queued plus a frame.
    assert.ok(grew < 256 * MiB, `the node grew by ${(grew / MiB).toFixed(0)} MiB for answers nobody reads`)
    assert.ok(mostInHand >= 10, `an unread answer holds its request slot until it is written (at most ${mostInHand} in hand)`)
    await waitFor('the node to cut off the answers nobody reads', async () => (await inbound(node)).stalledAnswers >= 10, {timeoutMs: 60_000, intervalMs: 250})
    // A paused socket does not see the close until it reads: read what came, then the end.
    for (const s of sockets) s.resume()
    await waitFor('the attacking connections to be closed', () => sockets.every(closed), {timeoutMs: 30_000, intervalMs: 250})
    await waitFor('every slot to be free', async () => (await inbound(node)).activeRequests === 0, {intervalMs: 200})
    assert.ok(node.running)
  })
})

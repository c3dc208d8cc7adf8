// Property-based fuzzing of hostile connections against a real node (issue 20
// points 7 and 8): fast-check makes mixes of connections from one or two
// networks (one address each, or spread over the /24) that send nothing, send a
// request head a line at a time, trickle a body, pipeline block batches and
// never read, pipeline past the cap, or send garbage. While such a mix runs,
// a client on another network must get its hello and a batch of blocks, whole
// and right; the node must not grow by more than a bound for the answers
// nobody reads, and must be alive afterwards with no internal error logged.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {connect, type Socket} from 'node:net'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import fc from 'fast-check'
import {Pool} from 'undici'
import {decodeFrames} from '../../src/lib/net/frames.js'
import {json} from '../helpers.js'
import {Cluster, localApi, type NodeProcess} from '../node/cluster.js'

const MiB = 1024 * 1024
const RUNS = Number(process.env.POLAR_FUZZ_CONN_RUNS ?? 12)
const TIME_LIMIT_MS = Number(process.env.POLAR_FUZZ_MS ?? 20_000) * 2

type Kind = 'idle' | 'slowHead' | 'slowBody' | 'unreadBatch' | 'pipelineFlood' | 'garbage'

interface Group {
  kind: Kind
  count: number
  /** Which of the two hostile networks (127.0.21.0/24, 127.0.22.0/24). */
  net: number
  /** One address for the whole group, or one address per connection across the /24. */
  spread: boolean
  host: number
}

const group: fc.Arbitrary<Group> = fc.record({
  kind: fc.constantFrom<Kind>('idle', 'slowHead', 'slowBody', 'unreadBatch', 'pipelineFlood', 'garbage'),
  count: fc.integer({min: 1, max: 60}),
  net: fc.integer({min: 0, max: 1}),
  spread: fc.boolean(),
  host: fc.integer({min: 2, max: 200}),
})
const mix = fc.array(group, {minLength: 1, maxLength: 6})

describe('fuzzing hostile connections', {timeout: 240_000}, () => {
  const cluster = new Cluster()
  let node: NodeProcess
  let port: number
  let leaves: string[]
  const data = randomBytes(8 * MiB)

  before(async () => {
    const home = cluster.home()
    writeFileSync(join(home, 'settings.json'), JSON.stringify({headersTimeoutMs: 1500, bodyTimeoutMs: 1500, answerStallMs: 3000}))
    node = await cluster.start(home, ['--max-connections', '128', '--max-requests', '64', '--replicas', '1'])
    port = Number(new URL(node.url).port)
    const file = join(cluster.home('polar-fuzz-conn-work-'), 'data.bin')
    writeFileSync(file, data)
    const r = await node.polar(['push', file, '--replicas', '1', '--json'])
    assert.equal(r.code, 0, r.stderr)
    const root = await fetch(`${node.url}/v1/blocks/${json(r).cid}`)
    leaves = dagPb.decode(new Uint8Array(await root.arrayBuffer())).Links.map((l) => l.Hash.toString())
  })
  after(() => cluster.stop())

  const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${node.pid}/status`, 'utf8'))![1]) * 1024

  /** Opens one hostile connection and starts its behaviour; resolves once it is connected (or refused). */
  function hostile(kind: Kind, localAddress: string): Promise<Socket> {
    return new Promise((resolve) => {
      const s = connect({port, host: '127.0.0.1', localAddress}, () => {
        const batch = JSON.stringify({cids: leaves})
        const get = `POST /v1/blocks/get HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${batch.length}\r\n\r\n${batch}`
        let timer: NodeJS.Timeout | undefined
        if (kind === 'slowHead') {
          s.write('GET /v1/hello HTTP/1.1\r\n')
          timer = setInterval(() => s.write('x-a: b\r\n'), 300)
        } else if (kind === 'slowBody') {
          s.write('POST /v1/blocks/has HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{')
          timer = setInterval(() => s.write(' '), 400)
        } else if (kind === 'unreadBatch') {
          s.pause()
          s.write(get.repeat(4))
        } else if (kind === 'pipelineFlood') {
          s.write('GET /v1/hello HTTP/1.1\r\nhost: x\r\n\r\n'.repeat(40))
        } else if (kind === 'garbage') {
          s.write(randomBytes(200))
        }
        s.once('close', () => clearInterval(timer))
        resolve(s)
      })
      s.on('error', () => {})
      s.once('close', () => resolve(s))
    })
  }

  it(`serves another network while hostile mixes run, with memory bounded (${RUNS} mixes)`, async () => {
    const baseline = rss()
    let peak = baseline
    let runs = 0
    await fc.assert(fc.asyncProperty(mix, async (groups) => {
      runs++
      const sockets: Socket[] = []
      try {
        for (const g of groups) {
          for (let i = 0; i < g.count; i++) {
            const host = g.spread ? 2 + ((g.host + i) % 250) : g.host
            sockets.push(await hostile(g.kind, `127.0.${21 + g.net}.${host}`))
          }
        }
        peak = Math.max(peak, rss())
        const honest = new Pool(node.url, {connections: 1, localAddress: `127.0.${100 + (runs % 100)}.7`})
        try {
          const hello = await honest.request({method: 'GET', path: '/v1/hello', signal: AbortSignal.timeout(30_000)})
          await hello.body.text()
          assert.equal(hello.statusCode, 200, `hello during ${JSON.stringify(groups)}`)
          const r = await honest.request({method: 'POST', path: '/v1/blocks/get', headers: {'content-type': 'application/json'}, body: JSON.stringify({cids: leaves.slice(2, 4)}), signal: AbortSignal.timeout(30_000)})
          const bytes = Buffer.from(await r.body.arrayBuffer())
          assert.equal(r.statusCode, 200, `batch during ${JSON.stringify(groups)}`)
          assert.ok(Buffer.concat(decodeFrames(bytes).map((f) => f.bytes)).equals(data.subarray(2 * MiB, 4 * MiB)), 'the batch is whole and right')
        } finally {
          await honest.destroy()
        }
        peak = Math.max(peak, rss())
        if (!node.running) throw new Error(`the node died: ${node.stderr().slice(-2000)}`)
      } finally {
        for (const s of sockets) s.destroy()
      }
    }), {numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false})
    const grew = peak - baseline
    process.stderr.write(`fuzz-connections: ${runs} mixes; rss ${(baseline / MiB).toFixed(0)} MiB at start, peak +${(grew / MiB).toFixed(0)} MiB\n`)
    assert.ok(runs >= Math.min(RUNS, 4), `only ${runs} runs`)
    // Up to 120 connections from two networks, each answer streamed: ~1 MiB queued plus a frame each.
    assert.ok(grew < 384 * MiB, `the node grew by ${(grew / MiB).toFixed(0)} MiB`)
  })

  it('is alive afterwards, with every slot free again and no internal errors in its log', async () => {
    const res = await fetch(`${node.url}/v1/hello`)
    assert.equal(res.status, 200)
    for (let i = 0; i < 100; i++) {
      const c = (await localApi(node.socket, 'GET', '/api/v1/status')).body.limits.inbound
      if (c.activeRequests === 0 && c.queuedRequests === 0) break
      await new Promise((r) => setTimeout(r, 200))
    }
    const c = (await localApi(node.socket, 'GET', '/api/v1/status')).body.limits.inbound
    assert.equal(c.activeRequests, 0, JSON.stringify(c))
    assert.equal(c.queuedRequests, 0)
    assert.ok(node.running)
    assert.doesNotMatch(node.stderr(), /error on |TypeError|RangeError|unhandled|no answer to/i)
  })
})

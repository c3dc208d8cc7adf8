// Caps (issue 4, draft 002): a flood from one address is answered 429 with
// Retry-After while another address keeps being served; past the connection
// cap the node answers 503 with Retry-After; both clear when the load goes.
// Outgoing: PeerClient waits out a Retry-After, a bounded number of times.
import assert from 'node:assert/strict'
import {createServer, type Server} from 'node:http'
import {connect, type AddressInfo, type Socket} from 'node:net'
import {after, before, describe, it} from 'node:test'
import {Pool} from 'undici'
import {addressKey, InboundLimits, TokenBuckets} from '../../src/lib/node/limits.js'
import {MAX_RETRIES, OutgoingGate, PeerClient, retryAfterMs} from '../../src/lib/net/client.js'
import {NotAllowedError} from '../../src/lib/errors.js'
import {generateSecretKey, identityFromSecret} from '../../src/lib/identity/index.js'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {Cluster, localApi, runPolar, waitFor, type NodeProcess} from './cluster.js'

/** GET /v1/hello from a chosen local address (127.0.0.x are all loopback on Linux). */
async function helloFrom(pool: Pool): Promise<{status: number; retryAfter: string | undefined}> {
  const r = await pool.request({method: 'GET', path: '/v1/hello', signal: AbortSignal.timeout(10_000)})
  await r.body.text()
  return {status: r.statusCode, retryAfter: r.headers['retry-after'] as string | undefined}
}

describe('inbound caps on a real node', {timeout: 90_000}, () => {
  const cluster = new Cluster()
  let node: NodeProcess
  before(async () => {
    node = await cluster.start(undefined, ['--rate', '20', '--burst', '20', '--max-connections', '16'])
  })
  after(() => cluster.stop())

  it('answers a flood from one address with 429 + Retry-After while another address is served, and recovers', async () => {
    const flooder = new Pool(node.url, {connections: 8, localAddress: '127.0.0.1'})
    const other = new Pool(node.url, {connections: 1, localAddress: '127.0.0.2'})
    try {
      const statuses: number[] = []
      let retryAfter: string | undefined
      let otherOk = 0
      // 300 requests from 127.0.0.1, 8 at a time; the other address asks now and then.
      const work = Array.from({length: 300}, (_, i) => i)
      await Promise.all([
        ...Array.from({length: 8}, async () => {
          for (let i = work.shift(); i !== undefined; i = work.shift()) {
            const r = await helloFrom(flooder)
            statuses.push(r.status)
            if (r.status === 429) retryAfter = r.retryAfter
          }
        }),
        (async () => {
          for (let i = 0; i < 5; i++) {
            const r = await helloFrom(other)
            assert.equal(r.status, 200, 'the other address is served during the flood')
            otherOk++
          }
        })(),
      ])
      assert.equal(otherOk, 5)
      assert.ok(statuses.filter((s) => s === 429).length > 0, 'some of the flood got 429')
      assert.ok(statuses.every((s) => s === 200 || s === 429), `only 200/429 in the flood: ${[...new Set(statuses)]}`)
      assert.ok(Number(retryAfter) >= 1, `Retry-After is delta-seconds: ${retryAfter}`)
      // The flood stopped: the flooding address is served again once its bucket refills.
      await waitFor('the flooding address to be served again', async () => (await helloFrom(flooder)).status === 200, {intervalMs: 500})
      const status = await localApi(node.socket, 'GET', '/api/v1/status')
      assert.equal(status.status, 200)
      assert.ok(status.body.limits.inbound.rateLimited > 0)
      assert.equal(status.body.limits.rate, 20)
      assert.ok(node.running, 'the node did not crash')
    } finally {
      await flooder.destroy()
      await other.destroy()
    }
  })

  it('answers 503 + Retry-After past the connection cap, and serves again when connections close', async () => {
    const sockets: Socket[] = []
    const {port} = new URL(node.url)
    try {
      // The flood's connections were destroyed by the client a moment ago; counted
      // as open until the node sees them close, they would make us open too few.
      await waitFor('the earlier connections to close', async () => (await localApi(node.socket, 'GET', '/api/v1/status')).body.limits.inbound.openConnections === 0)
      for (let i = 0; i < 16; i++) {
        sockets.push(await new Promise<Socket>((resolve, reject) => {
          const s = connect({port: Number(port), host: '127.0.0.1', localAddress: '127.0.0.3'}, () => resolve(s))
          s.on('error', reject)
        }))
      }
      await waitFor('the node to count 16 open connections', async () => (await localApi(node.socket, 'GET', '/api/v1/status')).body.limits.inbound.openConnections >= 16)
      const over = new Pool(node.url, {connections: 1, localAddress: '127.0.0.4'})
      try {
        const r = await helloFrom(over)
        assert.equal(r.status, 503)
        assert.ok(Number(r.retryAfter) >= 1)
      } finally {
        await over.destroy()
      }
      for (const s of sockets.splice(0)) s.destroy()
      const again = new Pool(node.url, {connections: 1, localAddress: '127.0.0.4'})
      try {
        await waitFor('service after the connections closed', async () => (await helloFrom(again)).status === 200, {intervalMs: 200})
      } finally {
        await again.destroy()
      }
      const status = await localApi(node.socket, 'GET', '/api/v1/status')
      assert.ok(status.body.limits.inbound.saturated > 0)
      assert.ok(status.body.limits.inbound.connectionsOverCap > 0)
    } finally {
      for (const s of sockets) s.destroy()
    }
  })
})

describe('cap flags and settings: bad input', {timeout: 60_000}, () => {
  const cluster = new Cluster()
  after(() => cluster.stop())

  it('refuses a zero or malformed --rate/--burst/--max-connections with exit 2', async () => {
    const home = cluster.home()
    for (const args of [['--rate', '0'], ['--burst', '-1'], ['--max-connections', 'lots'], ['--max-requests', '0']]) {
      const r = await runPolar(['serve', '--listen', '127.0.0.1:0', '--json', ...args], {home, timeoutMs: 30_000})
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`)
    }
  })

  it('refuses caps in settings.json that make no sense, naming the file (exit 2)', async () => {
    const home = cluster.home()
    for (const bad of [{rate: 0}, {burst: 0.5}, {maxConnections: 'many'}, {peerConnections: 1000}]) {
      writeFileSync(join(home, 'settings.json'), JSON.stringify(bad))
      const r = await runPolar(['serve', '--listen', '127.0.0.1:0', '--json'], {home, timeoutMs: 30_000})
      assert.equal(r.code, 2, `${JSON.stringify(bad)}: ${r.stdout}${r.stderr}`)
      assert.match(JSON.parse(r.stdout.toString()).error.message, /settings\.json/)
    }
  })

  it('takes caps from settings.json, flags winning', async () => {
    const home = cluster.home()
    writeFileSync(join(home, 'settings.json'), JSON.stringify({rate: 7.5, burst: 9, maxQueue: 3}))
    const node = await cluster.start(home, ['--burst', '11'])
    const status = await localApi(node.socket, 'GET', '/api/v1/status')
    assert.equal(status.body.limits.rate, 7.5)
    assert.equal(status.body.limits.burst, 11)
    assert.equal(status.body.limits.maxQueue, 3)
  })
})

describe('cap building blocks', () => {
  it('token bucket: burst, then refill at the rate', () => {
    const b = new TokenBuckets(10, 3)
    assert.equal(b.take('a', 0), 0)
    assert.equal(b.take('a', 0), 0)
    assert.equal(b.take('a', 0), 0)
    assert.equal(b.take('a', 0), 100) // one token every 100 ms
    assert.equal(b.take('b', 0), 0) // another key has its own bucket
    assert.equal(b.take('a', 100), 0)
  })

  it('token bucket: forgets quiet addresses when full of keys', () => {
    const b = new TokenBuckets(1000, 1, 4)
    for (let i = 0; i < 10; i++) b.take(`k${i}`, i * 10)
    assert.ok(b.size <= 4)
  })

  it('address keys: IPv4, mapped IPv4, IPv6 by /64', () => {
    assert.equal(addressKey('127.0.0.2'), '127.0.0.2')
    assert.equal(addressKey('::ffff:10.1.2.3'), '10.1.2.3')
    assert.equal(addressKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64')
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64')
    assert.equal(addressKey('::1'), '0:0:0:0::/64')
    assert.equal(addressKey(undefined), 'unknown')
  })

  it('Retry-After: seconds or an HTTP date', () => {
    assert.equal(retryAfterMs('2'), 2000)
    assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6_000)
    assert.equal(retryAfterMs('soon'), undefined)
    assert.equal(retryAfterMs(undefined), undefined)
  })

  it('queue: requests past maxRequests wait, past maxQueue get 503', async () => {
    const limits = new InboundLimits({maxRequests: 1, maxQueue: 1, rate: 1e6, burst: 1e6})
    const {url, finish, close} = await heldServer(limits)
    try {
      const first = fetch(url, {signal: AbortSignal.timeout(5_000)})
      await waitFor('the first request to hold the slot', () => limits.counters().activeRequests === 1, {intervalMs: 20})
      const second = fetch(url, {signal: AbortSignal.timeout(5_000)})
      await waitFor('the second request to queue', () => limits.counters().queuedRequests === 1, {intervalMs: 20})
      const third = await fetch(url, {signal: AbortSignal.timeout(5_000)})
      assert.equal(third.status, 503, 'the queue is full')
      assert.equal(limits.counters().saturated, 1)
      finish()
      assert.equal((await first).status, 200)
      await waitFor('the queued request to get the slot', () => limits.counters().activeRequests === 1 && limits.counters().queuedRequests === 0, {intervalMs: 20})
      finish()
      assert.equal((await second).status, 200)
      await waitFor('the slot to be free', () => limits.counters().activeRequests === 0, {intervalMs: 20})
    } finally {
      close()
    }
  })

})

/** A server behind `limits` whose admitted requests wait for `finish()` before they answer. */
async function heldServer(limits: InboundLimits): Promise<{url: string; finish: () => void; close: () => void}> {
  let finish!: () => void
  const server = createServer(async (req, res) => {
    const admitted = limits.admit(req, res)
    const release = admitted instanceof Promise ? await admitted : admitted
    if (!release) return
    await new Promise<void>((r) => (finish = r))
    res.end('ok')
    release()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, finish: () => finish(), close: () => server.close()}
}

describe('queue: a request that waits past queueTimeoutMs', () => {
  it('gets 503 SATURATED with Retry-After, and the slot holder is not disturbed', async () => {
    const limits = new InboundLimits({maxRequests: 1, maxQueue: 4, queueTimeoutMs: 150, rate: 1e6, burst: 1e6})
    const {url, finish, close} = await heldServer(limits)
    try {
      const first = fetch(url, {signal: AbortSignal.timeout(5_000)})
      await waitFor('the first request to hold the slot', () => limits.counters().activeRequests === 1, {intervalMs: 20})
      const second = await fetch(url, {signal: AbortSignal.timeout(5_000)})
      assert.equal(second.status, 503)
      assert.match(second.headers.get('retry-after') ?? '', /^[1-9]\d*$/)
      const err = (await second.json()) as any
      assert.equal(err.error.code, 'SATURATED')
      assert.match(err.error.message, /no slot within 150 ms/)
      assert.equal(limits.counters().queuedRequests, 0)
      finish()
      assert.equal((await first).status, 200)
    } finally {
      close()
    }
  })
})

describe('queue: a client that gives up while waiting leaves the queue', () => {
  it('frees its place at once', async () => {
    const limits = new InboundLimits({maxRequests: 1, maxQueue: 1, rate: 1e6, burst: 1e6})
    const {url, finish, close} = await heldServer(limits)
    try {
      const first = fetch(url, {signal: AbortSignal.timeout(5_000)})
      await waitFor('the first request to be handled', () => limits.counters().activeRequests === 1, {intervalMs: 20})
      const waiting = new AbortController()
      const second = fetch(url, {signal: waiting.signal}).catch(() => 'aborted')
      await waitFor('the second request to queue', () => limits.counters().queuedRequests === 1, {intervalMs: 20})
      waiting.abort()
      assert.equal(await second, 'aborted')
      await waitFor('the queue to empty', () => limits.counters().queuedRequests === 0, {intervalMs: 20})
      finish()
      assert.equal((await first).status, 200)
      await waitFor('the slot to be free', () => limits.counters().activeRequests === 0, {intervalMs: 20})
    } finally {
      close()
    }
  })
})

describe('PeerClient honours 429/503 Retry-After', () => {
  let server: Server
  let url: string
  let answers: number[] = []
  let seen = 0
  let requests: string[] = []
  before(async () => {
    server = createServer((req, res) => {
      seen++
      requests.push(`${req.method} ${req.url} ${req.headers['x-polar-to'] ? 'signed' : 'unsigned'}`)
      const status = answers.shift() ?? 200
      if (status === 200) {
        res.writeHead(200, {'content-type': 'application/json'})
        res.end(JSON.stringify({did: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK', url: 'x', version: 1, services: 'polar/1'}))
        return
      }
      res.writeHead(status, {'content-type': 'application/json', 'retry-after': '0'})
      res.end(JSON.stringify({error: {code: status === 429 ? 'RATE_LIMITED' : 'SATURATED', message: 'slow down'}}))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => server.close())

  it('retries after 429 and 503 and then succeeds', async () => {
    answers = [429, 503]
    seen = 0
    const client = new PeerClient(url, undefined, 1, {gate: new OutgoingGate(2)})
    try {
      const hello = await client.hello()
      assert.equal(hello.services, 'polar/1')
      assert.equal(seen, 3)
    } finally {
      await client.destroy()
    }
  })

  it('learns the peer did with one unsigned hello before a first signed request, even with a one-slot gate', {timeout: 15_000}, async () => {
    requests = []
    const client = new PeerClient(url, identityFromSecret('node', generateSecretKey()), 1, {gate: new OutgoingGate(1)})
    try {
      // A hello made while holding the only slot (or signed, needing the did it fetches) would never finish.
      await client.replicate(new Uint8Array([1, 2, 3]), ['http://127.0.0.1:1'], {timeoutMs: 5_000})
      assert.deepEqual(requests, ['GET /v1/hello unsigned', 'POST /v1/replicate signed'])
    } finally {
      await client.destroy()
    }
  })

  it(`gives up after ${MAX_RETRIES} retries with a not-allowed error`, async () => {
    answers = Array(10).fill(429)
    seen = 0
    const client = new PeerClient(url, undefined, 1)
    try {
      await assert.rejects(client.hello(), (err) => err instanceof NotAllowedError && (err as NotAllowedError).code === 'RATE_LIMITED')
      assert.equal(seen, MAX_RETRIES + 1)
    } finally {
      await client.destroy()
      answers = []
    }
  })
})

// Caps (issue 4, draft 002): a flood from one address is answered 429 with
// Retry-After while another address keeps being served; past the connection
// cap the node answers 503 with Retry-After; both clear when the load goes.
// Outgoing: PeerClient waits out a Retry-After, a bounded number of times.
import assert from 'node:assert/strict'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {connect, type AddressInfo, type Socket} from 'node:net'
import {after, before, describe, it} from 'node:test'
import {Pool} from 'undici'
import {addressKey, InboundLimits, MAX_PIPELINED, prefixKey, resolveLimits, TokenBuckets} from '../../src/lib/net/limits.js'
import {FairSlots} from '../../src/lib/net/fair-slots.js'
import {MAX_RETRIES, OutgoingGate, PeerClient, retryAfterMs} from '../../src/lib/net/peer/index.js'
import {NotAllowedError} from '../../src/lib/errors.js'
import {generateSecretKey, identityFromSecret} from '../../src/lib/identity/index.js'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {Cluster, localApi, runPolar, waitFor, type NodeProcess} from '../node/cluster.js'

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
    // 64 connections: 16 per address (the flood below uses 8), 32 per /24.
    node = await cluster.start(undefined, ['--rate', '20', '--burst', '20', '--max-connections', '64'])
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
      // One connection from each of 64 networks: none over its share, together the whole cap.
      for (let i = 0; i < 64; i++) {
        sockets.push(await new Promise<Socket>((resolve, reject) => {
          const s = connect({port: Number(port), host: '127.0.0.1', localAddress: `127.0.${100 + i}.3`}, () => resolve(s))
          s.on('error', reject)
        }))
      }
      await waitFor('the node to count 64 open connections', async () => (await localApi(node.socket, 'GET', '/api/v1/status')).body.limits.inbound.openConnections >= 64)
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

describe('--rate alone (issue 15 point 6)', {timeout: 90_000}, () => {
  const cluster = new Cluster()
  after(() => cluster.stop())

  it('gives a burst of twice the rate, so a flood above it gets 429 with Retry-After', async () => {
    const node = await cluster.start(undefined, ['--rate', '50'])
    const pool = new Pool(node.url, {connections: 8, localAddress: '127.0.0.5'})
    try {
      const statuses: number[] = []
      let retryAfter: string | undefined
      const work = Array.from({length: 600}, (_, i) => i)
      await Promise.all(Array.from({length: 8}, async () => {
        for (let i = work.shift(); i !== undefined; i = work.shift()) {
          const r = await helloFrom(pool)
          statuses.push(r.status)
          if (r.status === 429) retryAfter ??= r.retryAfter
        }
      }))
      const limited = statuses.filter((s) => s === 429).length
      assert.ok(limited > 0, `600 requests from one address at --rate 50 got no 429 (statuses ${[...new Set(statuses)]})`)
      assert.ok(Number(retryAfter) >= 1, `Retry-After is delta-seconds: ${retryAfter}`)
      assert.ok(statuses.every((s) => s === 200 || s === 429))
    } finally {
      await pool.destroy()
    }
    const status = await localApi(node.socket, 'GET', '/api/v1/status')
    assert.equal(status.body.limits.rate, 50)
    assert.equal(status.body.limits.burst, 100)
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

describe('a rate without a burst', {timeout: 120_000}, () => {
  const cluster = new Cluster()
  after(() => cluster.stop())

  it('a rate without a burst, in settings.json or as --rate, gives a burst of twice the rate', async () => {
    const home = cluster.home()
    writeFileSync(join(home, 'settings.json'), JSON.stringify({rate: 30, maxConnections: 100, headersTimeoutMs: 3000}))
    const node = await cluster.start(home)
    const status = await localApi(node.socket, 'GET', '/api/v1/status')
    assert.equal(status.body.limits.burst, 60)
    assert.equal(status.body.limits.maxConnectionsPerAddress, 25, 'a quarter of maxConnections')
    assert.equal(status.body.limits.headersTimeoutMs, 3000)
    await node.stop()
    writeFileSync(join(home, 'settings.json'), JSON.stringify({rate: 30, burst: 31}))
    const again = await cluster.start(home, ['--rate', '40'])
    assert.equal((await localApi(again.socket, 'GET', '/api/v1/status')).body.limits.burst, 80, '--rate alone: twice it, whatever the file says of the burst')
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

  it('prefix keys: IPv4 /24, IPv6 /48', () => {
    assert.equal(prefixKey('127.0.3.2'), '127.0.3.0/24')
    assert.equal(prefixKey('::ffff:10.1.2.3'), '10.1.2.0/24')
    assert.equal(prefixKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1::/48')
    assert.equal(prefixKey(undefined), 'unknown')
  })

  it('fair slots: caps per address and per prefix, and a reserve for addresses under their share', () => {
    const slots = new FairSlots(64, 16, 32) // reserve 16 (the last quarter), share 4 (a quarter of 16)
    assert.equal(slots.share, 4)
    const at = (address: string) => ({address, prefix: prefixKey(address)})
    // One address: its cap, then refused (its own doing, not "full").
    for (let i = 0; i < 16; i++) assert.equal(slots.refusal(at('10.0.1.1')), undefined), slots.take(at('10.0.1.1'))
    assert.equal(slots.refusal(at('10.0.1.1')), 'address')
    // Its /24: 32 in all.
    for (let i = 0; i < 16; i++) slots.take(at('10.0.1.2'))
    assert.equal(slots.refusal(at('10.0.1.3')), 'prefix')
    // Another network, to the threshold: 48 taken, 16 left.
    for (let i = 0; i < 16; i++) assert.equal(slots.refusal(at('10.0.2.1')), undefined), slots.take(at('10.0.2.1'))
    assert.equal(slots.size, 48)
    // Past it, an address gets its share of 4 and no more.
    for (let i = 0; i < 4; i++) assert.equal(slots.refusal(at('10.0.3.1')), undefined), slots.take(at('10.0.3.1'))
    assert.equal(slots.refusal(at('10.0.3.1')), 'address', 'over its share, and only the reserve is left')
    // The reserve: addresses under their share still get in, up to the cap.
    for (let i = 0; i < 12; i++) assert.equal(slots.refusal(at(`10.0.${10 + i}.1`)), undefined), slots.take(at(`10.0.${10 + i}.1`))
    assert.equal(slots.refusal(at('10.0.99.1')), 'full')
    // Given back: counts drop, and empty entries go.
    slots.give(at('10.0.3.1'))
    assert.equal(slots.refusal(at('10.0.99.1')), undefined)
    assert.equal(slots.heldBy('10.0.3.1'), 3)
    // One network spread over many addresses, each under its share: past the threshold its /24 is over its share (8).
    const spread = new FairSlots(64, 16, 32)
    for (let i = 0; i < 32; i++) assert.equal(spread.refusal(at(`10.1.1.${i}`)), undefined), spread.take(at(`10.1.1.${i}`))
    assert.equal(spread.refusal(at('10.1.1.99')), 'prefix', 'the /24 at its cap')
    for (let i = 0; i < 16; i++) assert.equal(spread.refusal(at(`10.1.2.${i}`)), undefined), spread.take(at(`10.1.2.${i}`))
    assert.equal(spread.refusal(at('10.1.2.99')), 'prefix', 'a second network, spread, past the threshold')
    assert.equal(spread.refusal(at('10.1.3.1')), undefined, 'a third network still gets in')
    // The share is at most 16 (an honest peer opens up to 12 connections), at least 1.
    assert.equal(new FairSlots(1024, 256, 512).share, 16)
    assert.equal(new FairSlots(4, 1, 2).share, 1)
  })

  it('settings: burst twice the rate and per-address caps a quarter of the totals unless given', () => {
    const d = resolveLimits({rate: 50})
    assert.equal(d.burst, 100)
    assert.equal(resolveLimits({rate: 50, burst: 7}).burst, 7)
    assert.equal(resolveLimits({rate: 0.3}).burst, 1)
    assert.equal(resolveLimits({}).burst, 2000)
    assert.equal(resolveLimits({maxConnections: 64, maxRequests: 16}).maxConnectionsPerAddress, 16)
    assert.equal(resolveLimits({maxConnections: 64, maxRequests: 16}).maxRequestsPerAddress, 4)
    assert.equal(resolveLimits({maxConnections: 64, maxConnectionsPerAddress: 3}).maxConnectionsPerAddress, 3)
    assert.equal(resolveLimits({burst: undefined}).burst, 2000, 'an undefined setting is not a setting')
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

/** A server watched by `limits` (as the node's public listener is), with `handler` behind the caps. */
async function watchedServer(limits: InboundLimits, handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Promise<{port: number; close: () => Promise<void>}> {
  const server = createServer(limits.serverOptions(), async (req, res) => {
    const admitted = limits.admit(req, res)
    if (!(admitted instanceof Promise ? await admitted : admitted)) return
    await handler(req, res)
  })
  limits.watch(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {port: (server.address() as AddressInfo).port, close: () => { server.closeAllConnections(); return new Promise((r) => server.close(() => r())) }}
}

function rawConnect(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({port, host: '127.0.0.1', localAddress}, () => resolve(s))
    s.on('error', reject)
  })
}

describe('a request holds its slot until its answer is written (issue 20 point 8)', () => {
  it('counts an answer the client does not read as in hand after the handler returned, and frees it when the client goes', async () => {
    const limits = new InboundLimits({rate: 1e6, burst: 1e6, maxRequests: 4, answerStallMs: 60_000})
    let returned = 0
    const big = Buffer.alloc(16 * 1024 * 1024)
    const {port, close} = await watchedServer(limits, (_req, res) => {
      res.writeHead(200, {'content-length': big.length})
      res.end(big)
      returned++
    })
    const s = await rawConnect(port)
    try {
      s.pause() // never reads: 16 MiB cannot all go into the kernel's buffers
      s.write('GET /big HTTP/1.1\r\nhost: x\r\n\r\n')
      await waitFor('the handler to return', () => returned === 1, {intervalMs: 20})
      await new Promise((r) => setTimeout(r, 300))
      assert.equal(limits.counters().activeRequests, 1, 'the unread answer still holds its slot')
      s.destroy()
      await waitFor('the slot to come free', () => limits.counters().activeRequests === 0, {intervalMs: 20})
    } finally {
      s.destroy()
      await close()
    }
  })

  it(`handles requests pipelined on one connection one after another, and closes a connection with more than ${MAX_PIPELINED} waiting`, async () => {
    const limits = new InboundLimits({rate: 1e6, burst: 1e6})
    let inHand = 0
    let most = 0
    let handled = 0
    const {port, close} = await watchedServer(limits, async (_req, res) => {
      most = Math.max(most, ++inHand)
      await new Promise((r) => setTimeout(r, 30))
      inHand--
      handled++
      res.end('ok')
    })
    try {
      const s = await rawConnect(port)
      let answers = ''
      s.on('data', (d) => (answers += d))
      s.write('GET /a HTTP/1.1\r\nhost: x\r\n\r\n'.repeat(6))
      await waitFor('six answers', () => (answers.match(/HTTP\/1\.1 200/g) ?? []).length === 6, {intervalMs: 20})
      assert.equal(most, 1, 'never two requests of one connection in hand at once')
      s.destroy()
      const flood = await rawConnect(port)
      const closed = new Promise((r) => flood.once('close', r))
      flood.on('error', () => {})
      flood.resume()
      flood.write('GET /a HTTP/1.1\r\nhost: x\r\n\r\n'.repeat(MAX_PIPELINED + 10))
      await closed
      assert.equal(limits.counters().pipelineOverflows, 1)
      assert.ok(handled < 6 + MAX_PIPELINED + 10, 'the connection was closed before all were handled')
    } finally {
      await close()
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
    const client = new PeerClient(url, {connections: 1, gate: new OutgoingGate(2)})
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
    const client = new PeerClient(url, {identity: identityFromSecret('node', generateSecretKey()), connections: 1, gate: new OutgoingGate(1)})
    try {
      // A hello made while holding the only slot (or signed, needing the did it fetches) would never finish.
      await client.objects.replicate(new Uint8Array([1, 2, 3]), ['http://127.0.0.1:1'], {timeoutMs: 5_000})
      assert.deepEqual(requests, ['GET /v1/hello unsigned', 'POST /v1/replicate signed'])
    } finally {
      await client.destroy()
    }
  })

  it(`gives up after ${MAX_RETRIES} retries with a not-allowed error`, async () => {
    answers = Array(10).fill(429)
    seen = 0
    const client = new PeerClient(url, {connections: 1})
    try {
      await assert.rejects(client.hello(), (err) => err instanceof NotAllowedError && (err as NotAllowedError).code === 'RATE_LIMITED')
      assert.equal(seen, MAX_RETRIES + 1)
    } finally {
      await client.destroy()
      answers = []
    }
  })
})

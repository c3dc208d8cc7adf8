// The peer transport (net/peer/transport.ts) against real HTTP servers on
// 127.0.0.1 playing a peer, well and badly: answer caps (declared, chunked,
// short), Retry-After retries (signed afresh, the gate slot let go while
// waiting, bounded), the shared outgoing gate, aborts at every wait, the
// streamed upload of a remote write (back-pressure, never retried), a client
// pinned to one address (for every kind of request), and the https path,
// where block batches come through undici into shared memory.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {createServer as createHttpsServer} from 'node:https'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {after, describe, it} from 'node:test'
import {cidOf} from '../../../src/lib/content/cid.js'
import {MAX_BLOCK_SIZE, RAW_CODE} from '../../../src/lib/content/constants.js'
import {IntegrityError, NetworkError, NotAllowedError} from '../../../src/lib/errors.js'
import {generateSecretKey, identityFromSecret} from '../../../src/lib/identity/index.js'
import {ReplayGuard, verifyRequest} from '../../../src/lib/net/auth.js'
import {encodeFrames, MAX_BATCH_BYTES} from '../../../src/lib/net/frames.js'
import {MAX_ANSWER_BYTES, MAX_RETRY_AFTER_MS, OutgoingGate, PeerClient} from '../../../src/lib/net/peer/index.js'

const PEER_DID = identityFromSecret('peer', generateSecretKey()).did
const HELLO = JSON.stringify({did: PEER_DID, url: 'x', version: 1, services: 'polar/1'})
const servers: Server[] = []
after(() => { for (const s of servers) { s.closeAllConnections?.(); s.close() } })

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void

/** An HTTP server on 127.0.0.1 that reads each request's body, then calls `handler`. */
function serve(handler: Handler, server: Server = createServer(), scheme = 'http'): Promise<{url: string; port: number}> {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = []
    req.on('data', (d: Buffer) => parts.push(d))
    req.on('end', () => handler(req, res, Buffer.concat(parts)))
  })
  servers.push(server)
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const {port} = server.address() as {port: number}
    resolve({url: `${scheme}://127.0.0.1:${port}`, port})
  }))
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body)
  res.writeHead(status, {'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers})
  res.end(text)
}
const hello = (res: ServerResponse) => json(res, 200, JSON.parse(HELLO))
const block = (i: number, size = 1000 + i) => {
  const bytes = Buffer.alloc(size, i)
  return {cid: cidOf(RAW_CODE, bytes), bytes}
}

describe('answer caps', () => {
  it('a declared length over the cap is refused from the head, before a byte of the body', async () => {
    // The body never comes: a client that waited for it would end in its time-out (NetworkError), not here.
    const {url} = await serve((_q, res) => {
      res.writeHead(200, {'content-type': 'application/json', 'content-length': MAX_ANSWER_BYTES + 1})
      res.write('{')
    })
    const client = new PeerClient(url, {timeoutMs: 20_000})
    try {
      await assert.rejects(client.hello(), (e) => e instanceof IntegrityError && new RegExp(`response of ${MAX_ANSWER_BYTES + 1} bytes is over the ${MAX_ANSWER_BYTES}-byte limit`).test(e.message))
    } finally {
      await client.destroy()
    }
  })

  it('an answer without a length is cut off at the cap', async () => {
    let written = 0
    const {url} = await serve((_q, res) => {
      res.writeHead(200, {'content-type': 'application/json'}) // chunked
      const chunk = Buffer.alloc(64 * 1024, 0x20)
      const more = () => {
        while (written < 2 * MAX_ANSWER_BYTES && !res.destroyed) {
          written += chunk.length
          if (!res.write(chunk)) return res.once('drain', more)
        }
        res.end()
      }
      more()
    })
    const client = new PeerClient(url)
    try {
      await assert.rejects(client.discovery.peers(), (e) => e instanceof IntegrityError && /over the 4194304-byte limit/.test(e.message))
    } finally {
      await client.destroy()
    }
  })

  it('a block over 2 MiB, a block that is not its CID, and an answer shorter than it said are refused', async () => {
    const big = block(1, MAX_BLOCK_SIZE + 1)
    const good = block(2)
    const {url} = await serve((req, res) => {
      if (req.url === `/v1/blocks/${big.cid}`) {
        res.writeHead(200, {'content-length': big.bytes.length})
        return res.end(big.bytes)
      }
      if (req.url === `/v1/blocks/${good.cid}`) {
        const wrong = Buffer.from(good.bytes)
        wrong[0] ^= 1
        res.writeHead(200, {'content-length': wrong.length})
        return res.end(wrong)
      }
      res.writeHead(200, {'content-length': 1000})
      res.write(Buffer.alloc(10))
      setTimeout(() => res.destroy(), 20)
    })
    const client = new PeerClient(url)
    try {
      await assert.rejects(client.blocks.get(big.cid), (e) => e instanceof IntegrityError && /over the 2097152-byte limit/.test(e.message))
      await assert.rejects(client.blocks.get(good.cid), (e) => e instanceof IntegrityError && /does not hash to its CID/.test(e.message))
      await assert.rejects(client.blocks.get(block(3).cid), NetworkError)
    } finally {
      await client.destroy()
    }
  })
})

describe('429/503 with Retry-After', () => {
  it('every try of a signed request is signed afresh, for the peer, and verifies', async () => {
    const node = identityFromSecret('node', generateSecretKey())
    const guard = new ReplayGuard()
    const verdicts: string[] = []
    let tries = 0
    const {url} = await serve((req, res, body) => {
      if (req.url === '/v1/hello') return hello(res)
      try {
        verdicts.push(verifyRequest(req.headers, req.method!, req.url!, body, guard, Date.now(), PEER_DID))
      } catch (err) {
        verdicts.push(`refused: ${(err as Error).message}`)
      }
      if (++tries < 3) return json(res, 503, {error: {code: 'SATURATED', message: 'busy'}}, {'retry-after': '0'})
      json(res, 200, {held: true, blocks: 1})
    })
    const client = new PeerClient(url, {identity: node, connections: 1})
    try {
      assert.deepEqual(await client.objects.replicate(Uint8Array.of(1), []), {held: true, blocks: 1})
      assert.deepEqual(verdicts, [node.did, node.did, node.did], 'each try verified (a reused signature would be REPLAYED)')
    } finally {
      await client.destroy()
    }
  })

  it(`a Retry-After over ${MAX_RETRY_AFTER_MS / 1000} s is not waited for: the refusal comes back at once`, async () => {
    let seen = 0
    const {url} = await serve((_q, res) => {
      seen++
      json(res, 429, {error: {code: 'RATE_LIMITED', message: 'slow down'}}, {'retry-after': String(MAX_RETRY_AFTER_MS / 1000 + 1)})
    })
    const client = new PeerClient(url)
    try {
      await assert.rejects(client.hello(), (e) => e instanceof NotAllowedError && e.code === 'RATE_LIMITED')
      assert.equal(seen, 1)
    } finally {
      await client.destroy()
    }
  })

  it('the gate slot is let go while a retry waits: another request goes first', async () => {
    const order: string[] = []
    const gate = new OutgoingGate(1)
    let other: Promise<unknown> | undefined
    let b: PeerClient | undefined
    const {url} = await serve((req, res) => {
      order.push(req.url!)
      if (req.url === '/v1/peers' && order.filter((o) => o === '/v1/peers').length === 1) {
        // While A's first try is answered, B asks through the same one-slot gate.
        other = b!.hello()
        return json(res, 429, {error: {code: 'RATE_LIMITED', message: 'wait'}}, {'retry-after': '1'})
      }
      if (req.url === '/v1/hello') return hello(res)
      json(res, 200, {peers: []})
    })
    const a = new PeerClient(url, {gate})
    b = new PeerClient(url, {gate})
    try {
      assert.deepEqual(await a.discovery.peers(), {peers: []})
      await other
      // Held through the wait, B would have come after A's retry.
      assert.deepEqual(order, ['/v1/peers', '/v1/hello', '/v1/peers'])
      assert.deepEqual(gate.counters(), {max: 1, active: 0, waiting: 0})
    } finally {
      await Promise.all([a.destroy(), b.destroy()])
    }
  })

  it('an abort during the wait ends the call there, and nothing more is sent', async () => {
    let seen = 0
    const ac = new AbortController()
    const {url} = await serve((_q, res) => {
      seen++
      json(res, 503, {error: {code: 'SATURATED', message: 'busy'}}, {'retry-after': '5'})
      setImmediate(() => ac.abort(new Error('caller gave up')))
    })
    const client = new PeerClient(url)
    try {
      await assert.rejects(client.hello({signal: ac.signal}), /caller gave up/)
      assert.equal(seen, 1)
    } finally {
      await client.destroy()
    }
  })
})

describe('the outgoing gate', () => {
  it('caps requests in flight over every client that shares it; a waiter that aborts leaves the queue', async () => {
    let inFlight = 0
    let most = 0
    const {url} = await serve((_q, res) => {
      most = Math.max(most, ++inFlight)
      setTimeout(() => {
        inFlight--
        hello(res)
      }, 30)
    })
    const gate = new OutgoingGate(2)
    const clients = [0, 1, 2].map(() => new PeerClient(url, {gate, connections: 4}))
    try {
      await Promise.all(clients.flatMap((c) => [c.hello(), c.hello(), c.hello()]))
      assert.equal(most, 2, 'two at a time through a gate of 2, from three clients of 4 connections each')
      const release = [await gate.acquire(), await gate.acquire()]
      const ac = new AbortController()
      const waiting = clients[0].hello({signal: ac.signal})
      assert.equal(gate.counters().waiting, 1)
      ac.abort(new Error('no longer wanted'))
      await assert.rejects(waiting, /no longer wanted/)
      assert.equal(gate.counters().waiting, 0)
      for (const r of release) r()
    } finally {
      await Promise.all(clients.map((c) => c.destroy()))
    }
  })

  it('an already aborted signal sends nothing', async () => {
    let seen = 0
    const {url} = await serve((_q, res) => {
      seen++
      hello(res)
    })
    const client = new PeerClient(url, {gate: new OutgoingGate(1)})
    try {
      const signal = AbortSignal.abort(new Error('aborted before'))
      await assert.rejects(client.hello({signal}), /aborted before/)
      await assert.rejects(client.blocks.getManyUnverified([block(1).cid], {signal}), /aborted before/)
      assert.equal(seen, 0)
    } finally {
      await client.destroy()
    }
  })
})

describe('the streamed upload of a remote write', () => {
  it('is sent as the peer reads it (back-pressure), unsigned, with its length', async () => {
    const size = 64 * 1024 * 1024
    let pulled = 0
    let heldReq: IncomingMessage | undefined
    let got = 0
    const server = createServer((req, res) => {
      heldReq = req
      req.pause() // reads nothing until told
      req.on('data', (d: Buffer) => { got += d.length })
      req.on('end', () => json(res, 200, {cid: 'x', blocks: 64, replicas: 1, nodes: [], declared: req.headers['content-length'], signed: 'x-polar-sig' in req.headers}))
    })
    servers.push(server)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as {port: number}).port}`
    const chunk = Buffer.alloc(256 * 1024, 7)
    const source = new Readable({read() {
      if (pulled >= size) return this.push(null)
      pulled += chunk.length
      this.push(chunk)
    }})
    const client = new PeerClient(url, {identity: identityFromSecret('user', generateSecretKey()), connections: 1})
    try {
      const answer = client.objects.upload('/v1/objects/00112233445566778899aabbccddeeff', source, size)
      // Until the peer reads, only what the socket buffers hold leaves the source.
      let last = -1
      while (pulled !== last || !heldReq) {
        last = pulled
        await new Promise((r) => setTimeout(r, 100))
      }
      assert.ok(pulled < size / 2, `${pulled} of ${size} bytes were read from the source while the peer read nothing`)
      heldReq.resume()
      const r = await answer
      assert.equal(r.status, 200)
      assert.deepEqual({declared: r.body.declared, signed: r.body.signed}, {declared: String(size), signed: false})
      assert.equal(got, size)
    } finally {
      await client.destroy()
    }
  })

  it('is not retried (a stream is sent once), and its answer is capped at 64 KiB', async () => {
    let seen = 0
    const {url} = await serve((req, res) => {
      seen++
      if (seen === 1) return json(res, 503, {error: {code: 'SATURATED', message: 'busy'}}, {'retry-after': '0'})
      json(res, 200, {pad: 'x'.repeat(64 * 1024)})
    })
    const client = new PeerClient(url, {connections: 1})
    try {
      const r = await client.objects.upload('/v1/objects/00', Readable.from([Buffer.from('abc')]), 3)
      assert.deepEqual({status: r.status, code: r.body?.error?.code, seen}, {status: 503, code: 'SATURATED', seen: 1})
      await assert.rejects(client.objects.upload('/v1/objects/00', Readable.from([Buffer.from('abc')]), 3), (e) => e instanceof IntegrityError && /over the 65536-byte limit/.test(e.message))
    } finally {
      await client.destroy()
    }
  })
})

describe('a client pinned to one address', () => {
  it('dials that address for JSON, single blocks and batches, and names its host (which does not resolve) as Host', async () => {
    const b = block(4)
    const hosts: string[] = []
    const {port} = await serve((req, res) => {
      hosts.push(`${req.method} ${req.url?.split('/')[2]} ${req.headers.host}`)
      if (req.url === '/v1/hello') return hello(res)
      const body = req.method === 'POST' ? encodeFrames([b]) : b.bytes
      res.writeHead(200, {'content-length': body.length})
      res.end(body)
    })
    // .invalid never resolves (RFC 2606): a lookup would end in ENOTFOUND.
    const client = new PeerClient(`http://polar-pin.invalid:${port}`, {address: '127.0.0.1'})
    try {
      assert.equal((await client.hello()).did, PEER_DID)
      assert.deepEqual(await client.blocks.get(b.cid), b.bytes)
      const frames = await client.blocks.getManyUnverified([b.cid])
      assert.deepEqual(frames.map((f) => [f.cid.toString(), Buffer.compare(f.bytes, b.bytes)]), [[b.cid.toString(), 0]])
      assert.ok(frames[0].sha256, 'the batch came through the bulk client (hashed as it arrived)')
      const host = `polar-pin.invalid:${port}`
      assert.deepEqual(hosts, [`GET hello ${host}`, `GET blocks ${host}`, `POST blocks ${host}`])
    } finally {
      await client.destroy()
    }
  })
})

const openssl = spawnSync('openssl', ['version']).status === 0
describe('an https peer', {skip: !openssl && 'openssl is not installed (it makes the test certificate)'}, () => {
  it('gives its batches through undici into shared memory (for the hash workers), unverified and capped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polar-tls-'))
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')])
    assert.equal(made.status, 0, made.stderr.toString())
    const server = createHttpsServer({key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem'))})
    rmSync(dir, {recursive: true, force: true})
    // This test process only: the certificate is its own.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'
    const blocks = [block(5), block(6, 300_000)]
    let over = false
    const {url} = await serve((req, res) => {
      if (req.url === '/v1/hello') return hello(res)
      if (over) {
        res.writeHead(200, {'content-length': MAX_BATCH_BYTES + 1})
        return res.write('x')
      }
      const body = encodeFrames(blocks)
      res.writeHead(200, {'content-length': body.length})
      res.end(body)
    }, server, 'https')
    const client = new PeerClient(url)
    try {
      assert.equal((await client.hello()).did, PEER_DID)
      const frames = await client.blocks.getManyUnverified(blocks.map((x) => x.cid), {alloc: () => { throw new Error('the bulk client is for plain http only') }})
      assert.deepEqual(frames.map((f, i) => [f.cid.toString(), Buffer.compare(f.bytes, blocks[i].bytes)]), blocks.map((x) => [x.cid.toString(), 0]))
      assert.ok(frames.every((f) => f.sha256 === undefined && f.bytes.buffer instanceof SharedArrayBuffer))
      over = true
      await assert.rejects(client.blocks.getManyUnverified([blocks[0].cid]), (e) => e instanceof IntegrityError && /over the 33554432-byte limit/.test(e.message))
    } finally {
      await client.destroy()
      delete process.env.NODE_TLS_REJECT_UNAUTHORIZED
    }
  })
})

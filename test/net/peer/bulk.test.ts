// BulkClient (net/peer/bulk.ts), the raw HTTP/1.1 client for batched block answers,
// against real sockets that answer well and badly: every bad answer is a
// clear error (never a hang, never a buffer filled with the wrong bytes), and a
// kept-alive connection the peer closed is retried once on a fresh one.
import assert from 'node:assert/strict'
import {createHash, randomBytes} from 'node:crypto'
import {createServer as createHttpServer} from 'node:http'
import {createServer, type Server, type Socket} from 'node:net'
import {after, describe, it} from 'node:test'
import fc from 'fast-check'
import {decodeFrames} from '../../../src/lib/net/frames.js'
import {IntegrityError, NetworkError} from '../../../src/lib/errors.js'
import {BulkClient} from '../../../src/lib/net/peer/bulk.js'
import {encodeFrames} from '../../../src/lib/net/frames.js'
import {cidOf} from '../../../src/lib/content/cid.js'
import {RAW_CODE} from '../../../src/lib/content/constants.js'

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest()

const servers: Server[] = []
after(() => { for (const s of servers) s.close() })

function listen(server: Server): Promise<BulkClient> {
  servers.push(server)
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const {port} = server.address() as {port: number}
    resolve(BulkClient.for(`http://127.0.0.1:${port}`)!)
  }))
}

/** A server that reads one request head and answers with `answer(socket)`. */
function raw(answer: (s: Socket) => void): Promise<BulkClient> {
  return listen(createServer((s) => {
    let got = ''
    s.on('data', (b) => {
      got += b.toString('latin1')
      if (got.includes('\r\n\r\n')) answer(s)
    })
    s.on('error', () => {})
  }))
}

const req = (extra: Partial<Parameters<BulkClient['post']>[0]> = {}) => ({path: '/v1/blocks/get', body: Buffer.from('{"cids":[]}'), contentType: 'application/json', maxBytes: 1 << 20, alloc: (n: number) => Buffer.alloc(n), timeoutMs: 5_000, ...extra})

describe('BulkClient', () => {
  it('reads a large answer into the allocated buffer, over kept-alive connections', async () => {
    const payload = randomBytes(3 * 1024 * 1024 + 7)
    let connections = 0
    const server = createHttpServer((q, r) => {
      let n = 0
      q.on('data', (b) => { n += b.length })
      q.on('end', () => {
        r.writeHead(200, {'content-type': 'application/vnd.polar.blocks', 'content-length': payload.length, 'x-asked': String(n)})
        r.end(payload)
      })
    })
    server.on('connection', () => connections++)
    const client = await listen(server)
    let allocated: Buffer | undefined
    for (let i = 0; i < 3; i++) {
      const a = await client.post(req({maxBytes: 8 << 20, alloc: (n) => (allocated = Buffer.alloc(n))}))
      assert.equal(a.status, 200)
      assert.equal(a.body, allocated, 'the body is the buffer alloc gave')
      assert.ok(a.body.equals(payload))
      assert.equal(a.headers['x-asked'], '11')
    }
    assert.equal(connections, 1, 'one kept-alive connection for sequential requests')
    client.close()
  })

  it('frame mode puts each block in its own memory, checked as it comes', async () => {
    const blocks = [randomBytes(1 << 20), randomBytes(5), randomBytes(300_000), randomBytes(0), randomBytes(1 << 20)].map((bytes) => ({cid: cidOf(RAW_CODE, bytes), bytes}))
    const body = encodeFrames(blocks)
    const server = createHttpServer((q, r) => {
      q.resume()
      q.on('end', () => {
        r.writeHead(200, {'content-length': body.length})
        // Dribbled out in odd pieces, so frame heads and data split across reads.
        let off = 0
        const next = () => {
          if (off >= body.length) return r.end()
          const n = 1 + Math.floor(Math.random() * 200_000)
          r.write(body.subarray(off, off + n), next)
          off += n
        }
        next()
      })
    })
    const client = await listen(server)
    for (let round = 0; round < 3; round++) {
      const given: Buffer[] = []
      const a = await client.post(req({maxBytes: 8 << 20, frames: {alloc: (n) => { const b = Buffer.alloc(n); given.push(b); return b }}}))
      assert.equal(a.status, 200)
      assert.equal(a.frames!.length, blocks.length)
      a.frames!.forEach((f, i) => {
        assert.ok(f.cid.equals(blocks[i].cid))
        assert.ok(f.bytes.equals(blocks[i].bytes), `block ${i} bytes`)
        assert.equal(f.bytes, given[i], 'each block is the memory alloc gave for it')
        // Hashed piece by piece as it came in: the digest of the whole block (none for an empty one).
        assert.deepEqual(f.sha256 && Buffer.from(f.sha256), blocks[i].bytes.length > 0 ? sha256(blocks[i].bytes) : undefined, `block ${i} digest`)
      })
    }
    client.close()
  })

  it('frame mode refuses a block over the size cap from its frame head, and frames that overrun the answer', async () => {
    const cid = cidOf(RAW_CODE, Buffer.from('x'))
    const head = (len: number) => Buffer.concat([Buffer.from([0, cid.bytes.length]), Buffer.from(cid.bytes), Buffer.from([len >>> 24, (len >>> 16) & 255, (len >>> 8) & 255, len & 255])])
    let allocated = 0
    const frames = {alloc: (n: number) => { allocated += n; return Buffer.alloc(n) }}
    const huge = await raw((s) => { const h = head(3 << 20); s.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${h.length + 10}\r\n\r\n`), h])) })
    await assert.rejects(huge.post(req({maxBytes: 8 << 20, frames})), (e) => e instanceof IntegrityError && /over the .*-byte limit/.test(e.message))
    assert.equal(allocated, 0, 'nothing allocated for the oversized block')
    const overrun = await raw((s) => { const h = head(100); s.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${h.length + 50}\r\n\r\n`), h, Buffer.alloc(50)])) })
    await assert.rejects(overrun.post(req({maxBytes: 8 << 20, frames})), (e) => e instanceof IntegrityError && /past the end/.test(e.message))
    const badCid = await raw((s) => s.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n'), Buffer.from([0, 3, 1, 2, 3, 0, 0, 0, 0])])))
    await assert.rejects(badCid.post(req({maxBytes: 8 << 20, frames})), (e) => e instanceof IntegrityError && /malformed CID/.test(e.message))
  })

  it('frame mode refuses a 65th frame, and memory from alloc of another size than the block', async () => {
    const tiny = Array.from({length: 65}, (_, i) => {
      const bytes = Buffer.from([i])
      return {cid: cidOf(RAW_CODE, bytes), bytes}
    })
    const body = Buffer.from(encodeFrames(tiny))
    const answer = (s: Socket) => s.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]))
    const many = await raw(answer)
    await assert.rejects(many.post(req({frames: {alloc: (n) => Buffer.alloc(n)}})), (e) => e instanceof IntegrityError && /more than 64 blocks/.test(e.message))
    // The digest covers exactly the block's length: a longer buffer would carry bytes nobody hashed.
    const wrongSize = await raw(answer)
    await assert.rejects(wrongSize.post(req({frames: {alloc: (n) => Buffer.alloc(n + 1)}})), /frames.alloc gave 2 bytes for a 1-byte block/)
  })

  it('refuses more bytes than the declared length, a malformed header line, and bytes between answers', async () => {
    const extra = await raw((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabcdef'))
    await assert.rejects(extra.post(req()), (e) => e instanceof NetworkError && /more bytes than the declared 2/.test(e.message))
    const badLine = await raw((s) => s.end('HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n'))
    await assert.rejects(badLine.post(req()), (e) => e instanceof NetworkError && /malformed header line/.test(e.message))
    // An answer, then unasked-for bytes on the kept-alive connection: that connection is dropped, the next request uses a new one.
    let connections = 0
    const chatty = await listen(createServer((s) => {
      connections++
      s.on('error', () => {})
      let got = ''
      s.on('data', (b) => {
        got += b.toString('latin1')
        if (!got.includes('\r\n\r\n')) return
        got = ''
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
        setTimeout(() => s.write('junk'), 20)
      })
    }))
    assert.equal((await chatty.post(req())).body.toString(), 'ok')
    await new Promise((r) => setTimeout(r, 100))
    assert.equal((await chatty.post(req())).body.toString(), 'ok')
    assert.equal(connections, 2, 'the connection that sent bytes between answers was not reused')
    chatty.close()
  })

  it("the caller's abort signal ends a request in flight", async () => {
    const silent = await raw(() => {})
    const abort = new AbortController()
    const pending = silent.post(req({timeoutMs: 20_000, signal: abort.signal}))
    setTimeout(() => abort.abort(new Error('caller gave up')), 50)
    await assert.rejects(pending, /caller gave up/)
    silent.close()
  })

  it('refuses an answer over maxBytes from its header, before reading it', async () => {
    const client = await raw((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n'))
    await assert.rejects(client.post(req()), (e) => e instanceof IntegrityError && /over the 1048576-byte limit/.test(e.message))
  })

  it('an answer without Content-Length, or with two different ones, is an error', async () => {
    const chunked = await raw((s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'))
    await assert.rejects(chunked.post(req()), (e) => e instanceof NetworkError && /Content-Length/.test(e.message))
    const twice = await raw((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'))
    await assert.rejects(twice.post(req()), (e) => e instanceof NetworkError && /conflicting/.test(e.message))
  })

  it('a body cut short, garbage, or endless headers are network errors', async () => {
    const short = await raw((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this'))
    await assert.rejects(short.post(req()), NetworkError)
    const garbage = await raw((s) => s.end('SSH-2.0-OpenSSH\r\n\r\n'))
    await assert.rejects(garbage.post(req()), (e) => e instanceof NetworkError && /not an HTTP/.test(e.message))
    const endless = await raw((s) => s.write('HTTP/1.1 200 OK\r\n' + 'X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'.repeat(1000)))
    await assert.rejects(endless.post(req()), (e) => e instanceof NetworkError && /headers over/.test(e.message))
  })

  it('an error status comes back with its (small) body for the caller to map', async () => {
    const client = await raw((s) => s.end('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{"error":"x"}'))
    const a = await client.post(req())
    assert.equal(a.status, 429)
    assert.equal(a.headers['retry-after'], '2')
    assert.equal(a.body.toString(), '{"error":"x"}')
  })

  it('times out a peer that never answers, and a refused connection is a network error', async () => {
    const silent = await raw(() => {})
    await assert.rejects(silent.post(req({timeoutMs: 200})), NetworkError)
    const closed = createServer()
    const dead = await listen(closed)
    closed.close()
    await assert.rejects(dead.post(req()), NetworkError)
  })

  it('close() ends a request in flight at once, and refuses new ones', async () => {
    const silent = await raw(() => {})
    const pending = silent.post(req({timeoutMs: 20_000}))
    setTimeout(() => silent.close(), 50)
    const started = Date.now()
    await assert.rejects(pending, NetworkError)
    assert.ok(Date.now() - started < 10_000, 'not left to its 20 s time-out')
    await assert.rejects(silent.post(req()), /closed/)
  })

  it('retries once on a new connection when the peer closed a kept-alive one', async () => {
    let answered = 0
    let connections = 0
    // Each connection answers its first request; a second one on it is dropped unanswered (a peer's keep-alive timeout racing the request).
    const client = await listen(createServer((s) => {
      connections++
      let requests = 0
      let got = ''
      s.on('error', () => {})
      s.on('data', (b) => {
        got += b.toString('latin1')
        while (got.includes('\r\n\r\n{"cids":[]}')) {
          got = got.slice(got.indexOf('\r\n\r\n{"cids":[]}') + 15)
          if (++requests > 1) return void s.destroy()
          answered++
          s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
        }
      })
    }))
    assert.equal((await client.post(req())).body.toString(), 'ok')
    assert.equal((await client.post(req())).body.toString(), 'ok')
    assert.equal(answered, 2)
    assert.equal(connections, 2, 'the second request went to a new connection after the first one failed')
    client.close()
  })
})

describe('BulkClient frame mode against the reference decoder (property)', () => {
  it('accepts exactly the bodies decodeFrames accepts, with the same blocks, however the bytes are split', async () => {
    let body = Buffer.alloc(0)
    let cuts: number[] = []
    const client = await listen(createServer((s) => {
      let got = ''
      s.on('error', () => {})
      s.on('data', (b) => {
        got += b.toString('latin1')
        if (!got.includes('\r\n\r\n{')) return
        got = ''
        s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`)
        // The body in pieces at the given cut points, so frame heads and data split across reads.
        let at = 0
        for (const c of [...cuts, body.length]) {
          if (c > at) s.write(body.subarray(at, c))
          at = Math.max(at, c)
        }
      })
    }))
    const validFrame = fc.record({data: fc.uint8Array({maxLength: 3000})}).map(({data}) => ({cid: cidOf(RAW_CODE, data), bytes: data}))
    const bodies = fc.oneof(
      fc.array(validFrame, {maxLength: 6}).map((blocks) => encodeFrames(blocks)),
      // A valid body with bytes flipped or cut off: whatever the reference decoder says, the client must agree.
      fc.tuple(fc.array(validFrame, {minLength: 1, maxLength: 4}), fc.nat(), fc.integer({min: 1, max: 255}), fc.boolean()).map(([blocks, at, x, cut]) => {
        const b = Buffer.from(encodeFrames(blocks))
        const i = at % b.length
        return cut ? b.subarray(0, i) : (b[i] ^= x, b)
      }),
      fc.uint8Array({maxLength: 64}).map((b) => Buffer.from(b)),
    )
    await fc.assert(fc.asyncProperty(bodies, fc.array(fc.nat({max: 20_000}), {maxLength: 5}), async (b, c) => {
      body = b
      cuts = c.sort((x, y) => x - y)
      let want: Array<{cid: string; hex: string}> | undefined
      try {
        want = decodeFrames(body).map((f) => ({cid: f.cid.toString(), hex: Buffer.from(f.bytes).toString('hex')}))
      } catch {}
      let got: Array<{cid: string; hex: string}> | undefined
      try {
        const a = await client.post(req({maxBytes: 1 << 20, frames: {alloc: (n) => Buffer.alloc(n)}}))
        got = a.frames!.map((f) => ({cid: f.cid.toString(), hex: f.bytes.toString('hex')}))
        // Blocks whose CID names sha2-256 (0x12) carry the digest of the bytes that arrived.
        for (const f of a.frames!) assert.deepEqual(f.sha256 && Buffer.from(f.sha256), f.bytes.length > 0 && f.cid.multihash.code === 0x12 ? sha256(f.bytes) : undefined, 'the digest of the bytes that arrived')
      } catch (err) {
        assert.ok(err instanceof IntegrityError || err instanceof NetworkError, `a clear error, not ${err}`)
      }
      assert.deepEqual(got, want)
    }), {numRuns: 150})
    client.close()
  })
})
